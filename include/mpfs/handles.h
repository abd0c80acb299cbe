/* handles.h - the handles given to the kernel (fi->fh: a directory's, or
 * a file's object) until it releases them. The kernel sends the release of
 * a handle closed last in the background, and drops the releases it has
 * not sent yet when the mount goes: the handles left are let go then, not
 * leaked. */
#ifndef MPFS_HANDLES_H
#define MPFS_HANDLES_H

#include <pthread.h>
#include <stddef.h>
#include <sys/queue.h>

struct mpfs_core;
struct mpfs_dir;
struct mpfs_obj;

struct mpfs_handle {
	LIST_ENTRY(mpfs_handle) link;
	struct mpfs_dir *dir; /* a directory's, or NULL */
	struct mpfs_obj *obj; /* a file's, or NULL */
};

/* Every handle not released yet. Zeroed, with the lock
 * PTHREAD_MUTEX_INITIALIZER: empty. */
struct mpfs_handles {
	pthread_mutex_t lock;
	LIST_HEAD(, mpfs_handle) list;
};

/* A handle holding dir or obj (the references given), on the list; NULL
 * when out of memory (then dir and obj are still the caller's). */
struct mpfs_handle *mpfs_handle_new(struct mpfs_handles *hs,
				    struct mpfs_dir *dir, struct mpfs_obj *obj);

/* Takes h (may be NULL) off the list and lets go of what it holds. */
void mpfs_handle_free(struct mpfs_handles *hs, struct mpfs_core *core,
		      struct mpfs_handle *h);

/* Lets go of every handle left: how many. Once no request is served. */
size_t mpfs_handles_release(struct mpfs_handles *hs, struct mpfs_core *core);

#endif
