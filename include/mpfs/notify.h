/* notify.h - the notifier: a bounded queue of what mixpeekfs tells the
 * kernel of its own accord (an inode's attributes and pages are out of
 * date, a name is gone, file bytes for the page cache), and the one thread
 * that tells it, in order. kernel.c is its only user and says why every
 * notification goes through this thread (core_priv.h, kernel.c).
 *
 * The queue is bounded: a push that does not fit is dropped (it is only a
 * head start); an invalidation that does not fit turns into one of every
 * inode the kernel holds (the flood callback), so none is lost. Knows no
 * FUSE: the calls themselves are the ops fs.c gives, and only this thread
 * makes them. */
#ifndef MPFS_NOTIFY_H
#define MPFS_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

struct mpfs_notify_ops {
	/* Attributes and pages of ino. 0, or -errno (-ENOENT: the kernel
	 * holds no such inode any more). */
	int (*inval_inode)(void *ctx, uint64_t ino);
	/* The name in parent, and everything below it. */
	int (*inval_entry)(void *ctx, uint64_t parent, const char *name);
	/* Bytes into ino's page cache from offset 0. */
	int (*store)(void *ctx, uint64_t ino, const char *data, size_t size);
};

struct mpfs_notifier;

/* Work run on the notifier's thread, the only one that may call ops. */
typedef void (*mpfs_notify_run_fn)(void *arg, const struct mpfs_notify_ops *ops,
				   void *ctx);

/* A queue of at most max items; its thread starts with _start. */
struct mpfs_notifier *mpfs_notifier_new(size_t max);

/* Starts the thread that makes the queued calls through ops (copied),
 * and calls flood(flood_ctx) there after an invalidation found no room.
 * Returns 0 or -1. */
int mpfs_notifier_start(struct mpfs_notifier *n,
			const struct mpfs_notify_ops *ops, void *ctx,
			mpfs_notify_run_fn flood, void *flood_ctx);

/* No more calls: what is queued is dropped (the kernel is going away) and
 * a push under way ends at its next file. Does not wait for the thread. */
void mpfs_notifier_stop(struct mpfs_notifier *n);

/* Whether the notifier was stopped: a push checks between files. */
int mpfs_notifier_stopped(struct mpfs_notifier *n);

/* Stops, then waits for the thread and frees the queue. NULL is a no-op. */
void mpfs_notifier_free(struct mpfs_notifier *n);

void mpfs_notifier_inval_inode(struct mpfs_notifier *n, uint64_t ino);
void mpfs_notifier_inval_entry(struct mpfs_notifier *n, uint64_t parent,
			       const char *name);

/* A push: run(arg, ops, ctx) on the notifier's thread, then release(arg);
 * or, when it cannot be queued (-1 returned), nothing at all. */
int mpfs_notifier_push(struct mpfs_notifier *n, mpfs_notify_run_fn run,
		       void (*release)(void *arg), void *arg);

/* Whether the thread runs and was not stopped: the kernel may hold
 * something only then. */
int mpfs_notifier_serving(struct mpfs_notifier *n);

/* Items queued or being run. */
size_t mpfs_notifier_pending(struct mpfs_notifier *n);

/* Waits until nothing is queued or being run (tests). */
void mpfs_notifier_wait_idle(struct mpfs_notifier *n);

#endif
