/* kernel.c - what the kernel holds and what it is told: the lookup counts
 * and the versions its inodes are (the inode table), and every notification
 * mixpeekfs sends of its own accord: inodes and entries taken back, file
 * bytes pushed into the page cache, names gone from a refreshed view,
 * everything dropped on SIGHUP.
 *
 * The rule: no thread that a FUSE request can wait on ever calls into the
 * kernel. Not the thread of a request (a READ holds the page lock that an
 * invalidation of its inode waits for, and another request of the same
 * file may be the one it waits behind), not a worker of the pool (a request
 * waits for the page a worker renders), not the signal thread. A
 * notification made there can wait for a reader that waits for it: both
 * hang in D state, for good. So every function here only queues, and the
 * notifier's one thread (notify.c), which no request ever waits for, makes
 * every call: the ops reach only the functions run on it (flood_run,
 * push_run, gone_run, drop_run).
 *
 * A sync's file is not taken back when it changes: each version of it is
 * an inode of its own (inode.h), whose size and bytes never change, and
 * the next lookup or listing hands the kernel the new one. So no
 * invalidation has to follow a reply, and none can overtake one. */
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"
#include "mpfs/log.h"

/* The FUSE glue's calls, as the notifier's thread makes them: an inode
 * counts as dropped once the kernel has been told, not before. */
static int told_inval_inode(void *ctx, uint64_t ino)
{
	struct mpfs_core *core = ctx;
	int r = core->fs_ops.inval_inode(core->fs_ctx, ino);

	mpfs_inodes_dropped(core->inodes, ino);
	return r;
}

static int told_inval_entry(void *ctx, uint64_t parent, const char *name)
{
	struct mpfs_core *core = ctx;

	return core->fs_ops.inval_entry(core->fs_ctx, parent, name);
}

static int told_store(void *ctx, uint64_t ino, const char *data, size_t size)
{
	struct mpfs_core *core = ctx;

	return core->fs_ops.store(core->fs_ctx, ino, data, size);
}

static const struct mpfs_notify_ops told_ops = {told_inval_inode,
						told_inval_entry, told_store};

int kernel_start(struct mpfs_core *core, const struct mpfs_notify_ops *ops,
		 void *ctx)
{
	core->fs_ops = *ops;
	core->fs_ctx = ctx;
	return mpfs_notifier_start(core->notifier, &told_ops, core, flood_run,
				   core);
}

/* ---- lookups and versions ---- */

int kernel_ref(struct mpfs_core *core, uint64_t ino, const char *path,
	       struct mpfs_obj *obj, const struct stat *st)
{
	return mpfs_inodes_ref(core->inodes, ino, path, obj, st);
}

void kernel_forget(struct mpfs_core *core, uint64_t ino, uint64_t n)
{
	if (ino != MPFS_ROOT_INO)
		mpfs_inodes_forget(core->inodes, ino, n);
}

void kernel_inval(struct mpfs_core *core, uint64_t ino)
{
	mpfs_notifier_inval_inode(core->notifier, ino);
}

void kernel_inval_entry(struct mpfs_core *core, uint64_t parent,
			const char *name)
{
	mpfs_notifier_inval_entry(core->notifier, parent, name);
}

void kernel_paged(struct mpfs_core *core, uint64_t ino)
{
	mpfs_inodes_paged(core->inodes, ino);
}

void kernel_replaced(struct mpfs_core *core, uint64_t ino, int versions,
		     struct mpfs_obj *old)
{
	if (versions)
		mpfs_inodes_superseded(core->inodes,
				       mpfs_version_ino(ino, old->digest), old);
	else
		kernel_inval(core, ino);
}

/* ---- on the notifier's thread (its ops are told_ops: an inode counts
 * as dropped once the kernel has been told) ---- */

struct each {
	struct mpfs_core *core;
	const struct mpfs_notify_ops *ops;
	void *ctx;
	size_t inodes, entries;
	const char *view; /* gone: the key of the listing */
	uint64_t *dirs;	  /* gone: the directories showing it */
	size_t ndirs, dirs_cap;
};

static void inval_one(void *p, uint64_t ino, const char *path)
{
	struct each *e = p;

	(void)path;
	e->ops->inval_inode(e->ctx, ino);
}

/* An invalidation found its queue full: every inode the kernel holds. */
void flood_run(void *p, const struct mpfs_notify_ops *ops, void *ctx)
{
	struct each e = {.core = p, .ops = ops, .ctx = ctx};

	ops->inval_inode(ctx, MPFS_ROOT_INO);
	mpfs_inodes_each(e.core->inodes, inval_one, &e);
}

/* ---- the page-cache push ---- */

/* File bytes pushed into the kernel's page cache once a listing's entries
 * have reached it, so that the first grep or cat after an ls reads memory,
 * not the daemon: at most cfg.prefetch bytes for one listing; only files
 * whose inode the kernel holds and whose bytes it does not hold already. */
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
	uint64_t ino = object_ino(p->v->bucket, obj);
	long size = (long)obj->size;

	if (!mpfs_inodes_wants_pages(core->inodes, ino))
		return 0;
	if (atomic_fetch_add(&p->v->pushed, size) + size > core->cfg.prefetch)
		return -1;
	if (ops->store(ctx, ino, obj->data, obj->size))
		return 0; /* the kernel let the inode go meanwhile */
	kernel_paged(core, ino);
	mpfs_stats_push(obj->size);
	return 1;
}

static void push_run(void *arg, const struct mpfs_notify_ops *ops, void *ctx)
{
	struct push *p = arg;
	struct mpfs_obj *listed, *obj;
	struct mpfs_err err;
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

void kernel_push(struct mpfs_core *core, struct mpfs_listing *l, struct view *v,
		 size_t from, size_t to)
{
	struct push *p;

	if (from >= to || atomic_load(&v->pushed) >= core->cfg.prefetch ||
	    !mpfs_notifier_serving(core->notifier))
		return;
	p = malloc(sizeof(*p));
	if (!p)
		return;
	*p = (struct push){core, mpfs_listing_ref(l), v, from, to};
	if (mpfs_notifier_push(core->notifier, push_run, push_release, p))
		push_release(p); /* the queue is full: no head start */
}

/* ---- names gone from a refreshed view ---- */

struct gone {
	struct mpfs_core *core;
	struct mpfs_listing *l;
	struct view *v;
};

static void gone_release(void *arg)
{
	struct gone *g = arg;

	mpfs_listing_unref(g->l);
	free(g);
}

/* A directory the kernel holds that shows the listing of e->view: every
 * spelling of one filter (by-status/failed, where/status=failed) shares
 * it, and each has its own entries in the kernel. */
static void showing(void *p, uint64_t ino, const char *path)
{
	struct each *e = p;
	struct mpfs_node node;
	char key[PATH_SIZE];
	uint64_t *grown;

	if (mpfs_path_parse(path, &node) || node.type != MPFS_NODE_VIEW ||
	    strcmp(view_key(&node, key, sizeof(key)), e->view))
		return;
	if (e->ndirs == e->dirs_cap) {
		e->dirs_cap = e->dirs_cap ? 2 * e->dirs_cap : 4;
		grown = realloc(e->dirs, e->dirs_cap * sizeof(*grown));
		if (!grown) {
			e->dirs_cap = e->ndirs;
			return; /* that directory's dead names live for ttl */
		}
		e->dirs = grown;
	}
	e->dirs[e->ndirs++] = ino;
}

/* Each sync the listing it replaced showed and it does not (deleted, or
 * changed so that it no longer matches) is out of date wherever it is
 * held: its object is dropped, and the kernel's entry of it in every
 * directory that shows the listing and its inode are taken back, so that
 * no one reads a file the API no longer has. */
static void gone_run(void *arg, const struct mpfs_notify_ops *ops, void *ctx)
{
	struct gone *g = arg;
	struct mpfs_core *core = g->core;
	struct each e = {
	    .core = core, .ops = ops, .ctx = ctx, .view = g->v->path};
	struct mpfs_listing *old;
	struct mpfs_obj *obj;
	struct mpfs_err err;

	old = mpfs_cache_get_replaced(core->listings, g->v->path, NULL);
	if (!old || old == g->l) {
		mpfs_listing_unref(old);
		return;
	}
	mpfs_inodes_each(core->inodes, showing, &e);
	for (size_t i = 0, n = mpfs_listing_count(old, NULL); i < n; i++) {
		if (mpfs_listing_get(old, i, &obj, &err) != 1)
			break;
		if (!mpfs_listing_has(g->l, obj->id)) {
			object_forget(core, g->v->bucket, obj->id);
			for (size_t d = 0; d < e.ndirs; d++)
				ops->inval_entry(ctx, e.dirs[d], obj->name);
			ops->inval_inode(ctx, object_ino(g->v->bucket, obj));
		}
		mpfs_obj_unref(obj);
	}
	free(e.dirs);
	mpfs_listing_unref(old);
}

void kernel_gone(struct mpfs_core *core, struct view *v)
{
	struct gone *g;

	if (!v->bucket[0] || !mpfs_notifier_serving(core->notifier))
		return; /* the bucket list; or not serving */
	g = malloc(sizeof(*g));
	if (g) {
		*g = (struct gone){core, mpfs_listing_ref(v->listing), v};
		if (!mpfs_notifier_push(core->notifier, gone_run, gone_release,
					g))
			return;
		gone_release(g);
	}
	mpfs_log(MPFS_LOG_WARN,
		 "list %s: no room to take back the syncs gone from it now; "
		 "they go when their ttl ends",
		 v->path);
}

/* ---- SIGHUP ---- */

/* Every inode the kernel holds taken back, and every entry of the root
 * with all below it, so that the next access asks anew. What is not: a
 * name looked up at the root that did not exist then (a negative entry)
 * lives on for ttl, since no list of such names is kept. */
struct drop {
	void (*told)(void *ctx, size_t inodes, size_t entries);
	void *told_ctx;
	struct mpfs_core *core;
};

static void drop_inode(void *p, uint64_t ino, const char *path)
{
	struct each *e = p;
	const char *name = path + 1;

	e->ops->inval_inode(e->ctx, ino);
	e->inodes++;
	if (*name && !strchr(name, '/') &&
	    e->ops->inval_entry(e->ctx, MPFS_ROOT_INO, name) == 0)
		e->entries++;
}

static void drop_run(void *arg, const struct mpfs_notify_ops *ops, void *ctx)
{
	struct drop *d = arg;
	struct each e = {.core = d->core, .ops = ops, .ctx = ctx};

	ops->inval_inode(ctx, MPFS_ROOT_INO);
	mpfs_inodes_each(d->core->inodes, drop_inode, &e);
	if (d->told)
		d->told(d->told_ctx, e.inodes, e.entries);
	d->told = NULL;
}

static void drop_release(void *arg)
{
	struct drop *d = arg;

	if (d->told) /* never run: the session ended */
		d->told(d->told_ctx, 0, 0);
	free(d);
}

void kernel_drop(struct mpfs_core *core,
		 void (*told)(void *ctx, size_t inodes, size_t entries),
		 void *ctx)
{
	struct drop *d = malloc(sizeof(*d));

	if (d) {
		*d = (struct drop){told, ctx, core};
		if (mpfs_notifier_push(core->notifier, drop_run, drop_release,
				       d) == 0)
			return;
		free(d);
	}
	/* Not serving, or no room: the flood takes back every inode. */
	mpfs_notifier_inval_inode(core->notifier, MPFS_ROOT_INO);
	if (told)
		told(ctx, 0, 0);
}
