/* pool.h - the mount's worker threads: every listing's page fetches share
 * them, so that threads (and with them connections) stay bounded whatever
 * the number of readers. Threads start as work comes, up to their number,
 * and wait for more; the queue is bounded too: a job that does not fit is
 * not taken, and its caller does the work itself. */
#ifndef MPFS_POOL_H
#define MPFS_POOL_H

#include <stddef.h>

struct mpfs_pool;

/* threads workers at most, queue jobs waiting at most. */
struct mpfs_pool *mpfs_pool_new(int threads, int queue);

/* Queues fn(arg). Returns 0, or -1 when the queue is full or the pool
 * stopped (then nothing was queued). */
int mpfs_pool_run(struct mpfs_pool *p, void (*fn)(void *arg),
		  void (*drop)(void *arg), void *arg);

/* Waits for the jobs running to end; those waiting are dropped (their
 * drop called), then the threads. NULL is a no-op. */
void mpfs_pool_free(struct mpfs_pool *p);

#endif
