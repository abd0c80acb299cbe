/* sig.c - signals for a running mount. SIGHUP's and SIGUSR2's handlers
 * are async-signal-safe: they write one byte to a pipe and nothing else. A
 * thread reads the pipe and does the work: on SIGHUP the core drops its
 * caches and what the kernel holds (see mpfs_core_drop); on SIGUSR2 the log
 * level steps. Both are logged.
 *
 * SIGTERM and SIGINT stop the mount at once, whatever the API does: every
 * request in flight gives up (mpfs_fs_stop: transfers aborted, waits
 * ended, readers answered EINTR), the session's loop is told to end, and
 * the main thread, which waits for that loop, is woken if the signal went
 * to another thread. (libfuse's own handlers would leave requests in
 * flight to run out their timeout, and make the exit status 1.)
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
#include "mpfs/fs.h"
#include "mpfs/log.h"

static int pipe_fds[2] = {-1, -1};
static struct fuse_session *stop_se;
static pthread_t main_thread;
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

static void on_stop(int sig)
{
	int saved = errno;

	mpfs_fs_stop();
	fuse_session_exit(stop_se);
	if (!pthread_equal(pthread_self(), main_thread))
		pthread_kill(main_thread, sig); /* its wait ends, EINTR */
	errno = saved;
}

int mpfs_sig_install(struct fuse_session *se)
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
	stop_se = se;
	main_thread = pthread_self();
	sa.sa_handler = on_stop;
	sa.sa_flags = 0; /* the loop's wait must end */
	if (sigaction(SIGTERM, &sa, NULL) || sigaction(SIGINT, &sa, NULL))
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
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
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
