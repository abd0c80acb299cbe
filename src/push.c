/* push.c - file bytes pushed into the kernel's page cache once a listing's
 * entries have reached it, so that the first grep or cat after an ls reads
 * memory, not the daemon. On the notifier's thread, off the reader's path;
 * at most cfg.prefetch bytes for one listing; only files whose inode the
 * kernel holds and whose bytes it does not hold already. */
#include <stdlib.h>

#include "core_priv.h"

struct push {
	struct mpfs_core *core;
	struct mpfs_listing *l;
	struct view *v;
	size_t from, to;
};

static void push_release(void *arg)
{
	struct push *p = arg;

	mpfs_listing_unref(p->l);
	free(p);
}

/* One file: 1 when stored, 0 when it needs no push, -1 over budget. */
static int push_one(struct push *p, const struct mpfs_notify_ops *ops,
		    void *ctx, struct mpfs_obj *obj)
{
	struct mpfs_core *core = p->core;
	uint64_t ino = mpfs_sync_ino(p->v->bucket, obj->id);
	long size = (long)obj->size;

	if (mpfs_inodes_has_pages(core->inodes, ino, obj->digest))
		return 0;
	if (atomic_fetch_add(&p->v->pushed, size) + size > core->cfg.prefetch)
		return -1;
	if (ops->store(ctx, ino, obj->data, obj->size))
		return 0; /* the kernel let the inode go meanwhile */
	/* A newer version came while it was stored: taken back then. */
	kernel_given(core, ino, obj, 1);
	mpfs_stats_push(obj->size);
	return 1;
}

static void push_run(void *arg)
{
	struct push *p = arg;
	struct mpfs_obj *listed, *obj;
	struct mpfs_err err;
	void *ctx;
	const struct mpfs_notify_ops *ops =
	    mpfs_notifier_ops(p->core->notifier, &ctx);
	int r = 0;

	for (size_t i = p->from;
	     i < p->to && r >= 0 && !mpfs_notifier_stopped(p->core->notifier);
	     i++) {
		/* Entries the kernel was given: held, nothing is fetched. */
		if (mpfs_listing_get(p->l, i, &listed, &err) != 1)
			break;
		obj = object_current(p->core, p->v->bucket, listed);
		r = push_one(p, ops, ctx, obj);
		mpfs_obj_unref(obj);
		mpfs_obj_unref(listed);
	}
}

void push_entries(struct mpfs_core *core, struct mpfs_listing *l,
		  struct view *v, size_t from, size_t to)
{
	struct push *p;
	void *ctx;

	if (from >= to || atomic_load(&v->pushed) >= core->cfg.prefetch ||
	    !mpfs_notifier_ops(core->notifier, &ctx))
		return;
	p = malloc(sizeof(*p));
	if (!p)
		return;
	*p = (struct push){core, mpfs_listing_ref(l), v, from, to};
	if (mpfs_notifier_push(core->notifier, push_run, push_release, p))
		push_release(p); /* the queue is full: no head start */
}
