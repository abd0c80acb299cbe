/* sig.c - SIGHUP and SIGUSR2 for a running mount. The handlers are
 * async-signal-safe: they write one byte to a pipe and nothing else. A
 * thread reads the pipe and does the work: on SIGHUP it drops the core's
 * caches and asks the kernel to forget what it holds of every path those
 * caches handed out: the root's attributes and entries, and with each entry
 * of the root everything below it (attributes, page cache, entries); on
 * SIGUSR2 it steps the log level. Both are logged.
 *
 * What the kernel is not told: a name looked up at the root that did not
 * exist then (a negative entry) lives on for ttl, since no list of such
 * names is kept.
 *
 * The pipe and the thread are process-wide, as signal handlers are. */
#define FUSE_USE_VERSION 31
#include "mpfs/sig.h"

#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "mpfs/core.h"
#include "mpfs/log.h"

static int pipe_fds[2] = {-1, -1};
static pthread_t thread;
static int started;
static struct fuse *sig_fuse;
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

struct inval {
	struct fuse_session *se;
	size_t inodes;	/* the kernel held and dropped */
	size_t entries; /* root entries the kernel held and dropped */
};

static void forget(void *ctx, const char *path)
{
	struct inval *iv = ctx;
	const char *name = path + 1;

	/* Attributes, page cache, a directory's cached entries. */
	if (fuse_invalidate_path(sig_fuse, path) == 0)
		iv->inodes++;
	/* An entry of the root: the kernel drops it and every entry below
	 * it, negative ones included, and forgets their inodes. */
	if (*name && !strchr(name, '/') &&
	    fuse_lowlevel_notify_inval_entry(iv->se, FUSE_ROOT_ID, name,
					     strlen(name)) == 0)
		iv->entries++;
}

static void drop_all(void)
{
	struct inval iv = {fuse_get_session(sig_fuse), 0, 0};
	size_t paths = mpfs_core_drop(sig_core, forget, &iv);

	/* Asked for by an operator: said at any level. */
	mpfs_log_always(MPFS_LOG_INFO,
			"sighup: dropped every cache (%zu paths); the kernel "
			"dropped %zu root entries with all below them, and "
			"%zu inodes",
			paths, iv.entries, iv.inodes);
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

void mpfs_sig_start(struct fuse *fuse, struct mpfs_core *core)
{
	if (started || pipe_fds[0] < 0)
		return;
	sig_fuse = fuse;
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
