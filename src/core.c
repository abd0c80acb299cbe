/* core.c - the core: its caches, the inodes the kernel holds, and what an
 * inode is: lookups, files, links (their attributes: attr.c). Knows no
 * FUSE: fs.c turns these calls into replies. The other parts are listed in
 * core_priv.h.
 *
 * Caches: listings by view, objects by bucket and sync id (shared by every
 * view that shows them), bucket objects, connections known to exist. */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"
#include "mpfs/arena.h"
#include "mpfs/items.h"
#include "mpfs/log.h"
#include "mpfs/slab.h"

static void *listing_ref(void *v)
{
	return mpfs_listing_ref(v);
}
static void listing_unref(void *v)
{
	mpfs_listing_unref(v);
}
static void *obj_ref(void *v)
{
	return mpfs_obj_ref(v);
}
static void obj_unref(void *v)
{
	mpfs_obj_unref(v);
}

/* A listing is worth serving stale once it has entries or is complete. */
static int listing_usable(void *v)
{
	int complete;

	return mpfs_listing_count(v, &complete) > 0 || complete;
}

/* A listing a directory handle reads (or a fetch fills) is not torn away
 * from its readers by an eviction. */
static int listing_busy(void *v)
{
	return mpfs_listing_shared(v);
}

static void free_created(void *ctx, struct mpfs_hnode *node)
{
	(void)ctx;
	free(node);
}

static const struct mpfs_cache_ops listing_ops = {listing_ref, listing_unref,
						  listing_usable, listing_busy};
static const struct mpfs_cache_ops obj_ops = {obj_ref, obj_unref, NULL, NULL};

static double keep_for(const struct mpfs_core_cfg *cfg)
{
	return cfg->stale > cfg->ttl ? cfg->stale : cfg->ttl;
}

int servable(const struct mpfs_core *core, double age)
{
	return age < core->cfg.ttl + core->cfg.stale;
}

/* Page fetches waiting for a worker, at most: past that, a reader fetches
 * the page it needs itself. */
#define FETCH_QUEUE 64

/* Kernel notifications queued at most: a push takes at most half. */
#define NOTIFY_QUEUE 8192

struct mpfs_core *mpfs_core_new(struct mpfs_api *api,
				const struct mpfs_core_cfg *cfg)
{
	struct mpfs_core *core = calloc(1, sizeof(*core));
	struct mpfs_node stats = {.type = MPFS_NODE_STATS};

	if (!core) {
		mpfs_api_free(api);
		return NULL;
	}
	core->api = api;
	core->cfg = *cfg;
	core->stats_ino = mpfs_node_ino(&stats);
	pthread_mutex_init(&core->stats_lock, NULL);
	pthread_mutex_init(&core->budget_lock, NULL);
	pthread_mutex_init(&core->created_lock, NULL);
	core->listings = mpfs_cache_new(cfg->ttl, &listing_ops, NULL);
	core->objects = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->conns = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->bucket_objs = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->counts = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->counts_size = 4096;
	pthread_mutex_init(&core->counts_lock, NULL);
	pthread_cond_init(&core->counts_done, NULL);
	core->inodes = mpfs_inodes_new();
	core->notifier = mpfs_notifier_new(NOTIFY_QUEUE);
	core->pool = mpfs_pool_new(cfg->max_requests, FETCH_QUEUE);
	if (!core->listings || !core->objects || !core->conns ||
	    !core->bucket_objs || !core->counts || !core->inodes ||
	    !core->notifier || !core->pool) {
		mpfs_core_free(core);
		return NULL;
	}
	/* Kept past ttl as long as they may be served stale, and at least a
	 * ttl more: an object past its ttl is still known to have come with
	 * a listing, and is had again through it (see object.c). */
	mpfs_cache_set_grace(core->listings, keep_for(cfg));
	mpfs_cache_set_grace(core->objects, keep_for(cfg));
	mpfs_cache_set_grace(core->bucket_objs, keep_for(cfg));
	mpfs_cache_set_grace(core->counts, keep_for(cfg));
	return core;
}

int mpfs_core_start(struct mpfs_core *core, const struct mpfs_notify_ops *ops,
		    void *ctx)
{
	if (kernel_start(core, ops, ctx))
		return -1;
	stats_watch(core);
	return 0;
}

void mpfs_core_stop(struct mpfs_core *core)
{
	mpfs_notifier_stop(core->notifier);
}

void mpfs_core_free(struct mpfs_core *core)
{
	if (!core)
		return;
	mpfs_stats_watch(NULL, NULL);
	mpfs_pool_free(core->pool); /* the fetches under way end */
	mpfs_notifier_free(core->notifier);
	mpfs_obj_unref(core->stats_snap);
	mpfs_cache_free(core->listings);
	mpfs_cache_free(core->objects);
	mpfs_cache_free(core->conns);
	mpfs_cache_free(core->bucket_objs);
	mpfs_cache_free(core->counts);
	mpfs_inodes_free(core->inodes);
	mpfs_api_free(core->api);
	mpfs_hmap_each(&core->created, free_created, NULL);
	mpfs_hmap_release(&core->created);
	pthread_mutex_destroy(&core->stats_lock);
	pthread_mutex_destroy(&core->budget_lock);
	pthread_mutex_destroy(&core->created_lock);
	pthread_mutex_destroy(&core->counts_lock);
	pthread_cond_destroy(&core->counts_done);
	free(core);
}

/* ---- buckets' created_at ---- */

struct created {
	struct mpfs_hnode node;
	time_t t;
	char id[];
};

static int created_eq(const struct mpfs_hnode *node, const void *key)
{
	return strcmp(((const struct created *)node)->id, key) == 0;
}

/* Keeps t as bucket id's created_at (0: nothing known, nothing kept). Out
 * of memory, it is not kept: its syncs without a time show 0. */
static void keep_created(struct mpfs_core *core, const char *id, time_t t)
{
	uint64_t hash = mpfs_hmap_hash_str(id);
	struct mpfs_hnode *node;
	struct created *c;

	if (!t)
		return;
	pthread_mutex_lock(&core->created_lock);
	node = mpfs_hmap_find(&core->created, hash, created_eq, id);
	if (node) {
		((struct created *)node)->t = t;
	} else if ((c = malloc(sizeof(*c) + strlen(id) + 1))) {
		c->node.hash = hash;
		c->t = t;
		strcpy(c->id, id);
		if (mpfs_hmap_add(&core->created, &c->node))
			free(c);
	}
	pthread_mutex_unlock(&core->created_lock);
}

void bucket_seen(struct mpfs_core *core, const struct mpfs_obj *bucket)
{
	keep_created(core, bucket->id, bucket->created);
}

void mpfs_core_bucket_seen(struct mpfs_core *core, json_t *bucket)
{
	const char *id =
	    json_string_value(json_object_get(bucket, "bucket_id"));
	const char *at =
	    json_string_value(json_object_get(bucket, "created_at"));
	struct timespec t;

	if (id && at && mpfs_time_parse(at, &t) == 0)
		keep_created(core, id, t.tv_sec);
}

time_t bucket_created(struct mpfs_core *core, const char *bucket)
{
	struct mpfs_hnode *node;
	time_t t = 0;

	pthread_mutex_lock(&core->created_lock);
	node = mpfs_hmap_find(&core->created, mpfs_hmap_hash_str(bucket),
			      created_eq, bucket);
	if (node)
		t = ((struct created *)node)->t;
	pthread_mutex_unlock(&core->created_lock);
	return t;
}

/* ---- the memory budget ---- */

size_t held_bytes(void)
{
	return mpfs_obj_bytes() + mpfs_items_bytes();
}

/* Once over the budget, entries go until an eighth of it is free again:
 * evictions, and the memory given back, come in batches, not one for each
 * object a listing brings. */
void core_budget(struct mpfs_core *core)
{
	struct mpfs_cache *caches[] = {core->listings, core->objects,
				       core->bucket_objs};
	int n = (int)(sizeof(caches) / sizeof(caches[0])), done[3] = {0};
	size_t evicted = 0, low = core->cfg.cache_size / 8 * 7;

	if (held_bytes() <= core->cfg.cache_size ||
	    pthread_mutex_trylock(&core->budget_lock))
		return; /* within it, or another thread is evicting */
	while (held_bytes() > low) {
		double oldest = 0, used;
		int pick = -1;

		for (int i = 0; i < n; i++) {
			used = done[i] ? -1 : mpfs_cache_oldest(caches[i]);
			if (used >= 0 && (pick < 0 || used < oldest)) {
				pick = i;
				oldest = used;
			}
		}
		if (pick < 0)
			break; /* what is left is in use */
		if (mpfs_cache_evict_oldest(caches[pick]))
			evicted++;
		else
			done[pick] = 1;
	}
	pthread_mutex_unlock(&core->budget_lock);
	if (evicted)
		give_back();
}

void give_back(void)
{
	malloc_trim(0);
	mpfs_arenas_trim();
}

/* Not found by us, not by a request: no request is named in the log. */
void not_found(struct mpfs_err *err, const char *what)
{
	mpfs_err_clear(err);
	mpfs_err_set(err, MPFS_E_NOT_FOUND, "no such %s", what);
}

void nomem(struct mpfs_err *err)
{
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
}

void child_path(const char *dir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s", strcmp(dir, "/") == 0 ? "" : dir, name);
}

void id_path(const char *dir, const char *id, const char *suffix, char *out,
	     size_t size)
{
	char enc[MPFS_ENCODED_MAX + 8];

	mpfs_name_encode(id, enc, sizeof(enc) - strlen(suffix));
	strcat(enc, suffix);
	child_path(dir, enc, out, size);
}

/* The path and node of an inode the kernel holds. */
static int ino_node(struct mpfs_core *core, uint64_t ino, char *path,
		    size_t size, struct mpfs_node *node, struct mpfs_err *err)
{
	if (ino == MPFS_ROOT_INO)
		snprintf(path, size, "/");
	else if (mpfs_inodes_path(core->inodes, ino, path, size)) {
		not_found(err, "inode");
		return -1;
	}
	if (mpfs_path_parse(path, node)) {
		not_found(err, "path");
		return -1;
	}
	return 0;
}

void mpfs_core_path(struct mpfs_core *core, uint64_t ino, const char *name,
		    char *buf, size_t size)
{
	char path[PATH_SIZE];

	if (ino == MPFS_ROOT_INO)
		snprintf(path, sizeof(path), "/");
	else if (mpfs_inodes_path(core->inodes, ino, path, sizeof(path)))
		snprintf(path, sizeof(path), "(inode %llu)",
			 (unsigned long long)ino);
	if (name)
		child_path(path, name, buf, size);
	else
		snprintf(buf, size, "%s", path);
}

int mpfs_core_own(struct mpfs_core *core, uint64_t ino)
{
	struct mpfs_node meta = {.type = MPFS_NODE_META};

	return ino == core->stats_ino || ino == mpfs_node_ino(&meta);
}

/* The path of a short form of a name in directory dir (its node): the id
 * it stands for, %-encoded in full, as the core's paths hold ids. */
static int full_name(struct mpfs_core *core, const struct mpfs_node *node,
		     const char *name, const char *dir, char *path, size_t size,
		     struct mpfs_err *err)
{
	char id[MPFS_ID_MAX + 1];

	if (short_name_id(core, node, name, id, sizeof(id), err))
		return -1;
	id_path(dir, id, node->type == MPFS_NODE_VIEW ? ".json" : "", path,
		size);
	return 0;
}

int mpfs_core_lookup(struct mpfs_core *core, uint64_t parent, const char *name,
		     struct stat *st, struct mpfs_err *err)
{
	char dir[PATH_SIZE], path[PATH_SIZE];
	struct mpfs_node node;
	struct mpfs_obj *obj;

	if (ino_node(core, parent, dir, sizeof(dir), &node, err))
		return -1;
	/* A name the tree cannot hold is no name, for good: decided here,
	 * without a request (MPFS_E_NO_NAME). */
	mpfs_err_clear(err);
	if (strlen(dir) + strlen(name) + 2 > sizeof(path) ||
	    strchr(name, '/')) {
		mpfs_err_set(err, MPFS_E_NO_NAME, "no such path");
		return -1;
	}
	if (!mpfs_name_is_short(name))
		child_path(dir, name, path, sizeof(path));
	else if (full_name(core, &node, name, dir, path, sizeof(path), err))
		return -1;
	if (mpfs_path_parse(path, &node)) {
		struct mpfs_filter f;
		const char *why;

		/* A where/ name that is no filter: say why. */
		if (mpfs_path_parse(dir, &node) == 0 &&
		    node.type == MPFS_NODE_WHERE &&
		    mpfs_where_parse(name, &f, &why))
			mpfs_err_set(err, MPFS_E_NO_NAME, "no such filter: %s",
				     why);
		else
			mpfs_err_set(err, MPFS_E_NO_NAME, "no such path");
		return -1;
	}
	if (node_attr(core, &node, 1, st, &obj, err))
		return -1;
	/* A sync's version is one inode in every view; it goes by the path
	 * it was first found at. */
	if (kernel_ref(core, (uint64_t)st->st_ino, path,
		       node.type == MPFS_NODE_SYNC ? obj : NULL, st)) {
		mpfs_obj_unref(obj);
		nomem(err);
		return -1;
	}
	mpfs_obj_unref(obj);
	return 0;
}

void mpfs_core_forget(struct mpfs_core *core, uint64_t ino, uint64_t n)
{
	kernel_forget(core, ino, n);
}

int mpfs_core_getattr(struct mpfs_core *core, uint64_t ino, struct stat *st,
		      struct mpfs_err *err)
{
	char path[PATH_SIZE];
	struct mpfs_node node;
	struct mpfs_obj *obj, *kept;

	if (ino_node(core, ino, path, sizeof(path), &node, err) ||
	    node_attr(core, &node, 0, st, &obj, err))
		return -1;
	/* The sync is asked for all the same: one deleted upstream is ENOENT
	 * here (a view's refresh takes its inode back, so that this asks).
	 * A version the API has replaced since: its own attributes. */
	if (node.type == MPFS_NODE_SYNC) {
		mpfs_inodes_version(core->inodes, ino, st, &kept);
		mpfs_obj_unref(kept);
		st->st_ino = ino;
	}
	mpfs_obj_unref(obj);
	return 0;
}

/* Kept bytes first, without a request: a version replaced, or gone from
 * the cache, stays readable while the kernel holds its inode. */
int sync_version(struct mpfs_core *core, uint64_t ino,
		 const struct mpfs_node *node, struct mpfs_obj **obj,
		 struct mpfs_err *err)
{
	uint64_t digest = mpfs_inodes_version(core->inodes, ino, NULL, obj);

	if (*obj)
		return 0;
	if (sync_obj(core, node, 0, obj, err))
		return -1;
	if (!digest || digest == (*obj)->digest)
		return 0;
	/* Replaced by the fetch just made: kept then, if the cache had it. */
	mpfs_obj_unref(*obj);
	mpfs_inodes_version(core->inodes, ino, NULL, obj);
	if (*obj)
		return 0;
	mpfs_err_clear(err); /* not the fetch's: it succeeded */
	mpfs_err_set(err, MPFS_E_STALE,
		     "the sync changed, and the bytes of the version this "
		     "file is are gone: open it again");
	return -1;
}

int mpfs_core_open(struct mpfs_core *core, uint64_t ino, struct mpfs_obj **obj,
		   struct mpfs_err *err)
{
	char path[PATH_SIZE];
	struct mpfs_node node;

	if (ino_node(core, ino, path, sizeof(path), &node, err))
		return -1;
	switch (node.type) {
	case MPFS_NODE_STATS:
		*obj = stats_obj(core, err);
		return *obj ? 0 : -1;
	case MPFS_NODE_BUCKET_JSON:
		return bucket_exists(core, node.bucket, err)
			   ? -1
			   : bucket_obj(core, node.bucket, obj, err);
	case MPFS_NODE_COUNTS:
		return bucket_exists(core, node.bucket, err)
			   ? -1
			   : counts_obj(core, node.bucket, obj, err);
	case MPFS_NODE_SYNC:
		return sync_version(core, ino, &node, obj, err);
	default:
		mpfs_err_set(err, MPFS_E_IS_DIR, "is a directory");
		return -1;
	}
}

void mpfs_core_read(struct mpfs_core *core, uint64_t ino,
		    const struct mpfs_obj *obj, int sent)
{
	if (sent && !obj->live)
		kernel_paged(core, ino);
}

/* ---- SIGHUP ---- */

void mpfs_core_drop(struct mpfs_core *core,
		    void (*told)(void *ctx, size_t inodes, size_t entries),
		    void *ctx)
{
	mpfs_cache_clear(core->listings);
	mpfs_cache_clear(core->objects);
	mpfs_cache_clear(core->conns);
	mpfs_cache_clear(core->bucket_objs);
	mpfs_cache_clear(core->counts);
	mpfs_stats_drop();
	mpfs_slab_trim(); /* the rest of the block being filled too */
	mpfs_api_trim(core->api);
	give_back(); /* the memory goes back to the system */
	kernel_drop(core, told, ctx);
}

int mpfs_core_readlink(struct mpfs_core *core, uint64_t ino, char *buf,
		       size_t size, struct mpfs_err *err)
{
	char path[PATH_SIZE];
	struct mpfs_node node;

	if (ino_node(core, ino, path, sizeof(path), &node, err))
		return -1;
	if (node.type == MPFS_NODE_VIEW &&
	    node.filter.kind == MPFS_FILTER_CONNECTION) {
		int r = conn_link(core, &node, buf, size, err);

		if (r == 1)
			return 0;
	} else if (node.type == MPFS_NODE_BUCKET && !strchr(path + 1, '/')) {
		return link_of(core, node.bucket, buf, size, err);
	}
	mpfs_err_set(err, MPFS_E_INVALID, "not a symbolic link");
	return -1;
}
