/* object.c - sync and bucket objects: one copy of each version, shared by
 * every view that lists it, from a listing or else a GET, cached for ttl
 * and kept stale for a failed refresh. A version replaced is kept for the
 * kernel's inode of it, or taken back (kernel.c's kernel_replaced). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core_priv.h"
#include "mpfs/log.h"

/* The key of an object: its id first, which tells keys apart at once,
 * then its bucket. SEP is in no id, so no two keys collide. */
#define SEP	 "\x1f"
#define KEY_SIZE (2 * MPFS_ID_MAX + 8)

static void object_key(char *key, size_t size, const char *bucket,
		       const char *id)
{
	snprintf(key, size, "%s" SEP "%s", id, bucket);
}

/* Puts obj under key as the newest version of file ino. The object it
 * replaced is marked superseded: of another version, it is kept for the
 * kernel's inode of it (a sync's, in core->objects), or the kernel's copy
 * of the file taken back (bucket.json's). Of the same version (made anew
 * out of a sparse block), a lookup that found it still keeps its bytes
 * once the version is replaced, as obj's are. */
static void put_newest(struct mpfs_core *core, struct mpfs_cache *c,
		       const char *key, uint64_t ino, struct mpfs_obj *obj)
{
	struct mpfs_obj *old = mpfs_cache_put(c, key, obj);

	if (old && old != obj)
		atomic_store(&old->superseded, 1);
	if (old && old->digest != obj->digest)
		kernel_replaced(core, ino, c == core->objects, old);
	mpfs_obj_unref(old);
}

static uint64_t bucket_json_ino(const char *bucket)
{
	struct mpfs_node node = {.type = MPFS_NODE_BUCKET_JSON};

	snprintf(node.bucket, sizeof(node.bucket), "%s", bucket);
	return mpfs_node_ino(&node);
}

nlink_t sync_links(const struct mpfs_obj *obj)
{
	return 1 + (obj->is_active >= 0) + (obj->status != NULL) +
	       (obj->connection_id != NULL && *obj->connection_id);
}

struct mpfs_obj *object_reuse(void *ctx, const char *id, uint64_t digest)
{
	struct view *v = ctx;
	char key[KEY_SIZE];
	struct mpfs_obj *obj;

	object_key(key, sizeof(key), v->bucket, id);
	obj = mpfs_cache_get_stale(v->core->objects, key, NULL);
	if (obj && obj->digest == digest && !mpfs_obj_sparse(obj)) {
		/* Listed again, unchanged: fresh for another ttl. Put as any
		 * newest is: another version put meanwhile keeps its bytes
		 * for the kernel's inode of it. */
		atomic_store(&obj->listed, 1);
		atomic_store(&obj->fetched_ms, mpfs_wall_ms());
		stale_clear(&obj->stale);
		put_newest(v->core, v->core->objects, key,
			   mpfs_sync_ino(v->bucket, id), obj);
		return obj;
	}
	mpfs_obj_unref(obj);
	return NULL;
}

struct mpfs_obj *object_intern(void *ctx, struct mpfs_obj *obj)
{
	struct view *v = ctx;
	char key[KEY_SIZE];

	object_key(key, sizeof(key), v->bucket, obj->id);
	atomic_store(&obj->listed, 1);
	put_newest(v->core, v->core->objects, key,
		   mpfs_sync_ino(v->bucket, obj->id), obj);
	core_budget(v->core);
	return mpfs_obj_ref(obj);
}

void object_forget(struct mpfs_core *core, const char *bucket, const char *id)
{
	char key[KEY_SIZE];
	struct mpfs_obj *obj;

	object_key(key, sizeof(key), bucket, id);
	obj = mpfs_cache_get_stale(core->objects, key, NULL);
	mpfs_cache_drop(core->objects, key);
	/* A read of the kernel's inode of it is still answered. */
	if (obj)
		kernel_replaced(core, mpfs_sync_ino(bucket, id), 1, obj);
	mpfs_obj_unref(obj);
}

uint64_t object_ino(const char *bucket, const struct mpfs_obj *obj)
{
	return mpfs_version_ino(mpfs_sync_ino(bucket, obj->id), obj->digest);
}

struct mpfs_obj *object_current(struct mpfs_core *core, const char *bucket,
				struct mpfs_obj *obj)
{
	char key[KEY_SIZE];
	struct mpfs_obj *cur;

	if (!atomic_load(&obj->superseded))
		return mpfs_obj_ref(obj);
	object_key(key, sizeof(key), bucket, obj->id);
	cur = mpfs_cache_get_stale(core->objects, key, NULL);
	if (cur && cur->digest != obj->digest)
		return cur;
	mpfs_obj_unref(cur);
	return mpfs_obj_ref(obj);
}

/* Whether a sync is in a view: every term of its filter holds. */
static int matches(const struct mpfs_filter *f, const struct mpfs_obj *obj)
{
	struct mpfs_terms t;

	mpfs_filter_terms(f, &t);
	return (!t.status ||
		(obj->status && strcasecmp(obj->status, t.status) == 0)) &&
	       (!t.conn || (obj->connection_id &&
			    strcmp(obj->connection_id, t.conn) == 0)) &&
	       (t.is_active < 0 || obj->is_active == t.is_active);
}

/* The object under key kept past its ttl, for a refresh that failed. */
static struct mpfs_obj *stale_obj(struct mpfs_core *core, struct mpfs_cache *c,
				  const char *key, const char *what,
				  const struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	double age;

	if (!stale_ok(err))
		return NULL;
	obj = mpfs_cache_get_stale(c, key, &age);
	if (obj && !servable(core, age)) {
		mpfs_obj_unref(obj);
		return NULL;
	}
	if (obj)
		log_stale(what, err, age, &obj->stale);
	return obj;
}

/* After a GET for key: json (taken; NULL when the GET failed, err says
 * why) rendered (its mtime, without a time of its own: fallback) and
 * cached as the version of file ino, or else the stale copy. New
 * reference, or NULL with err set. */
static struct mpfs_obj *fetched(struct mpfs_core *core, struct mpfs_cache *c,
				const char *key, uint64_t ino, const char *what,
				const char *id_key, time_t fallback,
				json_t *json, struct mpfs_err *err)
{
	struct mpfs_obj *obj;

	if (!json)
		return stale_obj(core, c, key, what, err);
	obj = mpfs_obj_new(json, id_key, ".json", fallback, 0, err);
	json_decref(json);
	if (obj) {
		put_newest(core, c, key, ino, obj);
		core_budget(core);
	}
	return obj;
}

/* A sync's object that is not fresh, had again through the listing of its
 * view when a listing brought it (or the view's listing is held), so that
 * readers cost one refresh of the view each ttl, never a request a file:
 * everyone waits for the page that holds their object, fetched once for
 * all (and past the first page, every page is fetched ahead). (With ttl 0
 * nothing is kept to refresh: each open asks for its object.) 1 and *out; 0
 * when no listing can tell (a GET does), or, *gone set, when the refreshed
 * listing does not have it; -1 with err set. A refresh that fails serves the
 * copy held, within stale=. */
static int revalidate(struct mpfs_core *core, const struct mpfs_node *node,
		      const char *key, struct mpfs_obj **out, int *gone,
		      struct mpfs_err *err)
{
	double age = 0;
	struct mpfs_obj *stale = mpfs_cache_get_stale(core->objects, key, &age);
	struct mpfs_listing *l = NULL;
	int r;

	*gone = 0;
	if (core->cfg.ttl <= 0 ||
	    (stale ? !atomic_load(&stale->listed) : !view_listed(core, node))) {
		mpfs_obj_unref(stale);
		return 0;
	}
	l = view_listing(core, node);
	r = l ? mpfs_listing_find(l, node->sync_id, out, err)
	      : (nomem(err), -1);
	mpfs_listing_unref(l);
	if (r < 0 && stale && servable(core, age) && stale_ok(err)) {
		log_stale("sync", err, age, &stale->stale);
		*out = stale;
		return 1;
	}
	mpfs_obj_unref(stale);
	*gone = r == 0;
	return r;
}

int sync_obj(struct mpfs_core *core, const struct mpfs_node *node, int match,
	     struct mpfs_obj **out, struct mpfs_err *err)
{
	char key[KEY_SIZE];
	struct mpfs_obj *obj;
	json_t *json;
	int gone = 0, r = 1;

	object_key(key, sizeof(key), node->bucket, node->sync_id);
	obj = mpfs_cache_get(core->objects, key);
	mpfs_stats_cache(obj != NULL);
	if (!obj)
		r = revalidate(core, node, key, &obj, &gone, err);
	if (r < 0)
		return -1;
	if (gone && match) {
		not_found(err, "sync in this view");
		return -1;
	}
	if (!obj) { /* never listed, or gone from the view it was seen in */
		r = mpfs_api_get_sync(core->api, node->bucket, node->sync_id,
				      &json, err);
		obj = fetched(core, core->objects, key,
			      mpfs_sync_ino(node->bucket, node->sync_id),
			      "sync", "sync_config_id",
			      bucket_created(core, node->bucket),
			      r == 0 ? json : NULL, err);
		if (!obj)
			return -1;
		if (strcmp(obj->id, node->sync_id) != 0)
			mpfs_log(MPFS_LOG_WARN,
				 "GET sync '%s' of '%s': the API answered sync "
				 "'%s'; shown as asked",
				 node->sync_id, node->bucket, obj->id);
	}
	if (match && !matches(&node->filter, obj)) {
		mpfs_obj_unref(obj);
		not_found(err, "sync in this view");
		return -1;
	}
	*out = obj;
	return 0;
}

int bucket_obj(struct mpfs_core *core, const char *bucket,
	       struct mpfs_obj **out, struct mpfs_err *err)
{
	struct mpfs_obj *obj = mpfs_cache_get(core->bucket_objs, bucket);
	json_t *json;

	mpfs_stats_cache(obj != NULL);
	if (!obj) {
		int r = mpfs_api_get_bucket(core->api, bucket, &json, err);

		obj = fetched(core, core->bucket_objs, bucket,
			      bucket_json_ino(bucket), "bucket", "bucket_id", 0,
			      r == 0 ? json : NULL, err);
		if (!obj)
			return -1;
		bucket_seen(core, obj);
	}
	*out = obj;
	return 0;
}
