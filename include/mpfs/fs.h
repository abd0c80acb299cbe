/* fs.h - the FUSE operations of mixpeekfs, on libfuse's low-level API. */
#ifndef MPFS_FS_H
#define MPFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <pthread.h>

#include "mpfs/handles.h"

struct mpfs_core;

/* The operations; fuse_session_new's userdata must be the struct mpfs_fs. */
extern const struct fuse_lowlevel_ops mpfs_fs_ops;

struct mpfs_fs {
	struct mpfs_core *core;
	struct fuse_session *se; /* set before the session's loop runs */
	double ttl;		 /* entry and attribute timeouts */
	/* The last read that failed, for the kernel's retry of it (fs.c);
	 * the lock: PTHREAD_MUTEX_INITIALIZER. */
	pthread_mutex_t failed_lock;
	fuse_ino_t failed_ino; /* 0: none */
	double failed_at;
	int failed_errno;
	/* Every handle given to the kernel and not released yet; the lock:
	 * PTHREAD_MUTEX_INITIALIZER. */
	struct mpfs_handles handles;
};

/* Whether the FUSE request this thread serves was interrupted and its
 * caller is going away (Ctrl-C on ls), or the mount is stopping: the API
 * client polls it to give up early, on every thread. */
int mpfs_fs_interrupted(void);

/* When the FUSE request this thread serves began (mpfs_clock_monotonic),
 * or 0: the API client's started(). */
double mpfs_fs_started(void);

/* The mount is stopping: every request in flight gives up, now and from
 * now on. Async-signal-safe. */
void mpfs_fs_stop(void);

#endif
