/* sig.c - SIGHUP and SIGUSR2 for a running mount. The handlers are
 * async-signal-safe: they write one byte to a pipe and nothing else. A
 * thread reads the pipe and does the work: on SIGHUP the core drops its
 * caches and what the kernel holds (see mpfs_core_drop); on SIGUSR2 the log
 * level steps. Both are logged.
 *
 * The pipe and the thread are process-wide, as signal handlers are. */
#include "mpfs/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mpfs/core.h"
#include "mpfs/log.h"

static int pipe_fds[2] = {-1, -1};
static pthread_t thread;
static int started;
static struct mpfs_core *sig_core;

static void on_signal(int sig)
{
	int saved = errno;
	char c = sig == SIGHUP ? 'H' : 'U';

	if (write(pipe_fds[1], &c, 1) < 0) {
		/* full pipe: a drop is already pending */
	}
	errno = saved;
}

int mpfs_sig_install(void)
{
	struct sigaction sa;

	if (pipe2(pipe_fds, O_CLOEXEC | O_NONBLOCK))
		return -1;
	/* The reader blocks; only the writer must never. */
	fcntl(pipe_fds[0], F_SETFL, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	if (sigaction(SIGHUP, &sa, NULL) || sigaction(SIGUSR2, &sa, NULL))
		return -1;
	return 0;
}

/* Once the kernel was told (on the core's notifier thread: this thread
 * never calls into the kernel while requests run). */
static void dropped(void *ctx, size_t inodes, size_t entries)
{
	(void)ctx;
	/* Asked for by an operator: said at any level. */
	mpfs_log_always(MPFS_LOG_INFO,
			"sighup: dropped every cache (%zu paths); the kernel "
			"dropped %zu root entries with all below them, and "
			"%zu inodes",
			inodes, entries, inodes);
}

static void drop_all(void)
{
	mpfs_core_drop(sig_core, dropped, NULL);
}

static void *serve(void *arg)
{
	char c;

	(void)arg;
	while (read(pipe_fds[0], &c, 1) == 1) {
		if (c == 'H') {
			drop_all();
		} else if (c == 'U') {
			enum mpfs_log_level level = mpfs_log_step();

			mpfs_log_always(MPFS_LOG_INFO,
					"sigusr2: log level is now %s",
					mpfs_log_level_name(level));
		} else {
			break;
		}
	}
	return NULL;
}

void mpfs_sig_start(struct mpfs_core *core)
{
	if (started || pipe_fds[0] < 0)
		return;
	sig_core = core;
	if (pthread_create(&thread, NULL, serve, NULL) == 0)
		started = 1;
	else
		mpfs_log(MPFS_LOG_ERROR, "cannot start the signal thread");
}

void mpfs_sig_stop(void)
{
	char c = 'Q';

	signal(SIGHUP, SIG_DFL);
	signal(SIGUSR2, SIG_DFL);
	if (started) {
		if (write(pipe_fds[1], &c, 1) < 0)
			pthread_cancel(thread);
		pthread_join(thread, NULL);
		started = 0;
	}
	for (int i = 0; i < 2; i++)
		if (pipe_fds[i] >= 0) {
			close(pipe_fds[i]);
			pipe_fds[i] = -1;
		}
}
