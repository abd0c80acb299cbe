/* The notifier: calls made in order on its own thread (the ops reach its
 * work there and nowhere else), a bounded queue
 * where a push that does not fit is dropped and an invalidation that does
 * not fit turns into one of everything. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "mpfs/notify.h"

struct rec {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	char log[4096];
	int hold; /* the first call waits until cleared */
	int floods, released;
};

static void say(struct rec *r, const char *fmt, unsigned long long v,
		const char *s)
{
	size_t n;

	pthread_mutex_lock(&r->lock);
	while (r->hold)
		pthread_cond_wait(&r->cond, &r->lock);
	n = strlen(r->log);
	snprintf(r->log + n, sizeof(r->log) - n, fmt, v, s);
	pthread_mutex_unlock(&r->lock);
}

static int inval_inode(void *ctx, uint64_t ino)
{
	say(ctx, "i%llu%s ", (unsigned long long)ino, "");
	return 0;
}

static int inval_entry(void *ctx, uint64_t parent, const char *name)
{
	say(ctx, "e%llu/%s ", (unsigned long long)parent, name);
	return 0;
}

static int store(void *ctx, uint64_t ino, const char *data, size_t size)
{
	(void)size;
	say(ctx, "s%llu:%s ", (unsigned long long)ino, data);
	return 0;
}

static void flood(void *ctx, const struct mpfs_notify_ops *o, void *octx)
{
	struct rec *r = ctx;

	if (o->inval_inode != inval_inode || octx != r)
		say(r, "bad-ops%llu%s ", 0, "");
	say(r, "flood%llu%s ", 0, "");
	r->floods++;
}

static const struct mpfs_notify_ops ops = {inval_inode, inval_entry, store};

struct push {
	struct rec *r;
	int n;
};

static void push_run(void *arg, const struct mpfs_notify_ops *o, void *ctx)
{
	struct push *p = arg;

	/* The thread's ops, checked by the main thread (CHECK is not
	 * thread-safe): a call made otherwise is logged as such. */
	if (o->store == store && ctx == p->r)
		o->store(ctx, (uint64_t)p->n, "x", 1);
	else
		say(p->r, "bad-ops%llu%s ", (unsigned long long)p->n, "");
}

static void push_release(void *arg)
{
	struct push *p = arg;

	p->r->released++;
	free(p);
}

static int push(struct mpfs_notifier *n, struct rec *r, int k)
{
	struct push *p = malloc(sizeof(*p));

	p->r = r;
	p->n = k;
	if (mpfs_notifier_push(n, push_run, push_release, p)) {
		free(p);
		return -1;
	}
	return 0;
}

static struct rec *rec_new(void)
{
	struct rec *r = calloc(1, sizeof(*r));

	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	return r;
}

static void test_order(void)
{
	struct mpfs_notifier *n = mpfs_notifier_new(16);
	struct rec *r = rec_new();

	CHECK(!mpfs_notifier_serving(n)); /* not started */
	mpfs_notifier_inval_inode(n, 3);
	mpfs_notifier_inval_entry(n, 1, "b1");
	CHECK(push(n, r, 7) == 0);
	CHECK(mpfs_notifier_pending(n) == 3);
	CHECK(mpfs_notifier_start(n, &ops, r, flood, r) == 0);
	CHECK(mpfs_notifier_serving(n));
	mpfs_notifier_wait_idle(n);
	CHECK_STR(r->log, "i3 e1/b1 s7:x ");
	CHECK(r->released == 1 && mpfs_notifier_pending(n) == 0);
	mpfs_notifier_free(n);
	free(r);
}

static void test_bounds(void)
{
	struct mpfs_notifier *n = mpfs_notifier_new(8);
	struct rec *r = rec_new();
	int pushed = 0;

	/* Pushes take half the queue; the rest is dropped. */
	for (int i = 0; i < 10; i++)
		pushed += push(n, r, i) == 0;
	CHECK(pushed == 4);
	/* Invalidations take the rest; one more floods. */
	for (int i = 0; i < 5; i++)
		mpfs_notifier_inval_inode(n, 100 + (uint64_t)i);
	CHECK(mpfs_notifier_start(n, &ops, r, flood, r) == 0);
	mpfs_notifier_wait_idle(n);
	CHECK(r->floods == 1);
	CHECK(strncmp(r->log, "flood0 ", 7) == 0);
	CHECK(strstr(r->log, "i100 i101 i102 i103 ") != NULL);
	CHECK(strstr(r->log, "bad-ops") == NULL);
	/* What is queued when it stops is dropped, pushes released. */
	r->hold = 1;
	CHECK(push(n, r, 50) == 0);
	CHECK(push(n, r, 51) == 0);
	pthread_mutex_lock(&r->lock);
	r->hold = 0;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	mpfs_notifier_free(n);
	CHECK(r->released == 6);
	free(r);
}

static void test_stop(void)
{
	struct mpfs_notifier *n = mpfs_notifier_new(8);
	struct rec *r = rec_new();

	CHECK(mpfs_notifier_start(n, &ops, r, flood, r) == 0);
	mpfs_notifier_stop(n);
	/* The session ended: nothing more is queued, nor flooded. */
	CHECK(!mpfs_notifier_serving(n));
	CHECK(push(n, r, 1) == -1);
	for (int i = 0; i < 20; i++)
		mpfs_notifier_inval_inode(n, (uint64_t)i);
	CHECK(mpfs_notifier_pending(n) == 0);
	mpfs_notifier_free(n);
	CHECK_STR(r->log, "");
	free(r);
}

int main(void)
{
	test_order();
	test_bounds();
	test_stop();
	return check_done();
}
