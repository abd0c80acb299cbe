/* notify.c - the notifier: a bounded queue of kernel notifications and the
 * one thread that makes them, in order.
 *
 * Lock order: n->lock only; it is never held while a call is made. */
#include "mpfs/notify.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/stats.h"

enum kind { INVAL_INODE, INVAL_ENTRY, PUSH };

struct item {
	struct item *next;
	enum kind kind;
	uint64_t ino; /* INVAL_INODE, or the parent of INVAL_ENTRY */
	mpfs_notify_run_fn run;
	void (*release)(void *arg);
	void *arg;
	char name[]; /* INVAL_ENTRY */
};

struct mpfs_notifier {
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t more;  /* an item was queued, or stop */
	pthread_cond_t idle;  /* the queue ran dry */
	struct item *head, *tail;
	size_t n, max;
	int busy;    /* the thread is running an item */
	int flooded; /* an invalidation did not fit: flood is due */
	int stop, started;
	pthread_t thread;
	struct mpfs_notify_ops ops;
	void *ctx;
	mpfs_notify_run_fn flood;
	void *flood_ctx;
};

struct mpfs_notifier *mpfs_notifier_new(size_t max)
{
	struct mpfs_notifier *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->max = max ? max : 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->more, NULL);
	pthread_cond_init(&n->idle, NULL);
	return n;
}

static void item_free(struct item *it)
{
	if (it->kind == PUSH && it->release)
		it->release(it->arg);
	free(it);
}

/* Runs one item; lock not held. */
static void run(struct mpfs_notifier *n, struct item *it)
{
	switch (it->kind) {
	case INVAL_INODE:
		if (n->ops.inval_inode)
			n->ops.inval_inode(n->ctx, it->ino);
		break;
	case INVAL_ENTRY:
		if (n->ops.inval_entry)
			n->ops.inval_entry(n->ctx, it->ino, it->name);
		break;
	case PUSH:
		it->run(it->arg, &n->ops, n->ctx);
		break;
	}
}

static void *serve(void *arg)
{
	struct mpfs_notifier *n = arg;

	pthread_mutex_lock(&n->lock);
	for (;;) {
		struct item *it = n->head;
		int flood = n->flooded;

		if (n->stop)
			break;
		if (!it && !flood) {
			pthread_cond_broadcast(&n->idle);
			pthread_cond_wait(&n->more, &n->lock);
			continue;
		}
		n->flooded = 0;
		if (it && !flood) {
			n->head = it->next;
			if (!n->head)
				n->tail = NULL;
			n->n--;
		}
		n->busy = 1;
		pthread_mutex_unlock(&n->lock);
		if (flood) {
			n->flood(n->flood_ctx, &n->ops, n->ctx);
		} else {
			run(n, it);
			item_free(it);
		}
		pthread_mutex_lock(&n->lock);
		n->busy = 0;
		pthread_mutex_unlock(&n->lock);
		mpfs_stats_changed(); /* what is pending, in stats.json */
		pthread_mutex_lock(&n->lock);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int mpfs_notifier_start(struct mpfs_notifier *n,
			const struct mpfs_notify_ops *ops, void *ctx,
			mpfs_notify_run_fn flood, void *flood_ctx)
{
	int r;

	pthread_mutex_lock(&n->lock);
	n->ops = *ops;
	n->ctx = ctx;
	n->flood = flood;
	n->flood_ctx = flood_ctx;
	r = n->started ? 0 : pthread_create(&n->thread, NULL, serve, n);
	if (r == 0)
		n->started = 1;
	pthread_mutex_unlock(&n->lock);
	return r ? -1 : 0;
}

void mpfs_notifier_stop(struct mpfs_notifier *n)
{
	struct item *dropped;

	pthread_mutex_lock(&n->lock);
	n->stop = 1;
	dropped = n->head;
	n->head = n->tail = NULL;
	n->n = 0;
	n->flooded = 0;
	pthread_cond_broadcast(&n->more);
	pthread_cond_broadcast(&n->idle);
	pthread_mutex_unlock(&n->lock);
	while (dropped) {
		struct item *it = dropped;

		dropped = it->next;
		item_free(it);
	}
}

int mpfs_notifier_stopped(struct mpfs_notifier *n)
{
	int stop;

	pthread_mutex_lock(&n->lock);
	stop = n->stop;
	pthread_mutex_unlock(&n->lock);
	return stop;
}

void mpfs_notifier_free(struct mpfs_notifier *n)
{
	if (!n)
		return;
	mpfs_notifier_stop(n);
	if (n->started)
		pthread_join(n->thread, NULL);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->more);
	pthread_cond_destroy(&n->idle);
	free(n);
}

/* Queues it, or returns -1 when the queue is full (it is then not
 * freed). A push may take half the queue, so that invalidations always
 * find room but when many come at once. */
static int enqueue(struct mpfs_notifier *n, struct item *it)
{
	size_t room = it->kind == PUSH ? n->max / 2 : n->max;
	int r = 0;

	pthread_mutex_lock(&n->lock);
	if (n->n >= room || n->stop) {
		r = -1;
	} else {
		it->next = NULL;
		if (n->tail)
			n->tail->next = it;
		else
			n->head = it;
		n->tail = it;
		n->n++;
		pthread_cond_signal(&n->more);
	}
	pthread_mutex_unlock(&n->lock);
	return r;
}

/* An invalidation that found no room (or no memory): all of them, but
 * once stopped. */
static void flood(struct mpfs_notifier *n)
{
	pthread_mutex_lock(&n->lock);
	n->flooded = !n->stop;
	pthread_cond_signal(&n->more);
	pthread_mutex_unlock(&n->lock);
}

void mpfs_notifier_inval_inode(struct mpfs_notifier *n, uint64_t ino)
{
	struct item *it = calloc(1, sizeof(*it));

	if (it) {
		it->kind = INVAL_INODE;
		it->ino = ino;
	}
	if (!it || enqueue(n, it)) {
		free(it);
		flood(n);
	}
}

void mpfs_notifier_inval_entry(struct mpfs_notifier *n, uint64_t parent,
			       const char *name)
{
	size_t len = strlen(name);
	struct item *it = calloc(1, sizeof(*it) + len + 1);

	if (it) {
		it->kind = INVAL_ENTRY;
		it->ino = parent;
		memcpy(it->name, name, len + 1);
	}
	if (!it || enqueue(n, it)) {
		free(it);
		flood(n);
	}
}

int mpfs_notifier_push(struct mpfs_notifier *n, mpfs_notify_run_fn fn,
		       void (*release)(void *arg), void *arg)
{
	struct item *it = calloc(1, sizeof(*it));

	if (!it)
		return -1;
	it->kind = PUSH;
	it->run = fn;
	it->release = release;
	it->arg = arg;
	if (enqueue(n, it)) {
		free(it);
		return -1;
	}
	return 0;
}

int mpfs_notifier_serving(struct mpfs_notifier *n)
{
	int serving;

	pthread_mutex_lock(&n->lock);
	serving = n->started && !n->stop;
	pthread_mutex_unlock(&n->lock);
	return serving;
}

size_t mpfs_notifier_pending(struct mpfs_notifier *n)
{
	size_t k;

	pthread_mutex_lock(&n->lock);
	k = n->n + (size_t)n->busy + (size_t)n->flooded;
	pthread_mutex_unlock(&n->lock);
	return k;
}

void mpfs_notifier_wait_idle(struct mpfs_notifier *n)
{
	pthread_mutex_lock(&n->lock);
	while (n->started && !n->stop && (n->head || n->busy || n->flooded))
		pthread_cond_wait(&n->idle, &n->lock);
	pthread_mutex_unlock(&n->lock);
}
