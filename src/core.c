/* core.c - what the tree means: which paths exist, what each directory
 * lists and what each file holds, from the caches or else the API. Knows
 * no FUSE: fs.c turns these calls into replies. It logs only what no caller
 * could tell (items the API sent without an id).
 *
 * Caches: listings by view, objects by bucket and sync id (shared by every
 * view that shows them), connections known to exist. */
#include "mpfs/core.h"

#include <ctype.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <search.h>
#include <strings.h>
#include <time.h>

#include "mpfs/cache.h"
#include "mpfs/listing.h"
#include "mpfs/log.h"
#include "mpfs/path.h"
#include "mpfs/stats.h"

#define SEP "\x1f" /* in cache keys: no id can make two keys collide */

struct mpfs_core {
	struct mpfs_api *api;
	struct mpfs_core_cfg cfg;
	struct mpfs_cache *listings;	/* view key -> struct mpfs_listing */
	struct mpfs_cache *objects;	/* bucket SEP id -> struct mpfs_obj */
	struct mpfs_cache *conns;	/* connection id -> exists marker */
	struct mpfs_cache *bucket_objs; /* bucket id -> struct mpfs_obj (GET) */

	pthread_mutex_t stats_lock;  /* guards stats_snap */
	struct mpfs_obj *stats_snap; /* stats.json as last handed out */
	size_t stats_size;	     /* its padded size, only grows */

	pthread_mutex_t jobs_lock; /* guards jobs */
	pthread_cond_t jobs_done;
	int jobs; /* page fetches running on threads of their own */
};

struct mpfs_dir {
	struct mpfs_listing *listing; /* NULL: names below */
	int listing_dirs; /* the listing's entries are directories */
	char **names;
	size_t count;
	int failed;		  /* a page failed after entries went out: */
	struct mpfs_err failure;  /* the next call reports it */
	uint64_t ino, parent_ino; /* of "." and ".." */
	char *path;
	struct mpfs_node node; /* what the directory is */
	char **tail;	       /* after the listing: the root's links */
	size_t tail_count;
	int tail_made;
};

/* One view's fetch context, freed with its listing. */
struct view {
	struct mpfs_core *core;
	char bucket[MPFS_NAME_MAX + 1];
	char status[MPFS_NAME_MAX + 1];
	char conn[MPFS_NAME_MAX + 1];
	struct mpfs_sync_filter filter;
	char path[1024];		 /* the directory, for stats.json */
	struct mpfs_stats_listing stats; /* while pages are to come */
};

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
static void *marker_ref(void *v)
{
	return v;
}
static void marker_unref(void *v)
{
	(void)v;
}

/* A listing is worth serving stale once it has entries or is complete. */
static int listing_usable(void *v)
{
	int complete;

	return mpfs_listing_count(v, &complete) > 0 || complete;
}

static const struct mpfs_cache_ops listing_ops = {listing_ref, listing_unref,
						  listing_usable};
static const struct mpfs_cache_ops obj_ops = {obj_ref, obj_unref, NULL};
static const struct mpfs_cache_ops marker_ops = {marker_ref, marker_unref,
						 NULL};
static char exists_marker;

struct mpfs_core *mpfs_core_new(struct mpfs_api *api,
				const struct mpfs_core_cfg *cfg)
{
	struct mpfs_core *core = calloc(1, sizeof(*core));

	if (!core) {
		mpfs_api_free(api);
		return NULL;
	}
	core->api = api;
	core->cfg = *cfg;
	pthread_mutex_init(&core->jobs_lock, NULL);
	pthread_mutex_init(&core->stats_lock, NULL);
	pthread_cond_init(&core->jobs_done, NULL);
	core->listings = mpfs_cache_new(cfg->ttl, &listing_ops, NULL);
	core->objects = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->conns = mpfs_cache_new(cfg->ttl, &marker_ops, NULL);
	core->bucket_objs = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	if (core->listings && core->objects && core->bucket_objs) {
		mpfs_cache_set_grace(core->listings, cfg->stale);
		mpfs_cache_set_grace(core->objects, cfg->stale);
		mpfs_cache_set_grace(core->bucket_objs, cfg->stale);
	}
	if (!core->listings || !core->objects || !core->conns ||
	    !core->bucket_objs) {
		mpfs_core_free(core);
		return NULL;
	}
	return core;
}

void mpfs_core_free(struct mpfs_core *core)
{
	if (!core)
		return;
	pthread_mutex_lock(&core->jobs_lock);
	while (core->jobs)
		pthread_cond_wait(&core->jobs_done, &core->jobs_lock);
	pthread_mutex_unlock(&core->jobs_lock);
	mpfs_obj_unref(core->stats_snap);
	mpfs_cache_free(core->listings);
	mpfs_cache_free(core->objects);
	mpfs_cache_free(core->conns);
	mpfs_cache_free(core->bucket_objs);
	mpfs_api_free(core->api);
	free(core);
}

static void dir_stat(struct mpfs_core *core, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | 0555;
	st->st_nlink = 2;
	st->st_uid = core->cfg.uid;
	st->st_gid = core->cfg.gid;
	st->st_mtime = st->st_ctime = st->st_atime = core->cfg.mount_time;
}

static void file_stat(struct mpfs_core *core, const struct mpfs_obj *obj,
		      struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = core->cfg.uid;
	st->st_gid = core->cfg.gid;
	st->st_size = (off_t)obj->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((obj->size + 511) / 512);
	st->st_mtime = st->st_ctime = st->st_atime = obj->mtime;
}

/* Not found by us, not by a request: no request is named in the log. */
static void not_found(struct mpfs_err *err, const char *what)
{
	mpfs_err_clear(err);
	mpfs_err_set(err, MPFS_E_NOT_FOUND, "no such %s", what);
}

/* ---- listings ---- */

/* Tells stats.json how a view's paging goes: r is the fetch's result. */
static int counted(struct view *v, int r, const struct mpfs_page *page)
{
	mpfs_stats_listing_page(&v->stats, r == 0,
				r == 0 ? (long)json_array_size(page->items) : 0,
				r == 0 ? page->total : -1);
	return r;
}

static void view_ended(void *ctx)
{
	struct view *v = ctx;

	mpfs_stats_listing_end(&v->stats);
}

static void view_release(void *ctx)
{
	view_ended(ctx);
	free(ctx);
}

static int fetch_buckets(void *ctx, const struct mpfs_page_req *req,
			 struct mpfs_page *page, struct mpfs_err *err)
{
	struct view *v = ctx;

	mpfs_stats_listing_fetch(&v->stats, v->path);
	return counted(v, mpfs_api_list_buckets(v->core->api, req, page, err),
		       page);
}

static int fetch_syncs(void *ctx, const struct mpfs_page_req *req,
		       struct mpfs_page *page, struct mpfs_err *err)
{
	struct view *v = ctx;

	mpfs_stats_listing_fetch(&v->stats, v->path);
	return counted(v,
		       mpfs_api_list_syncs(v->core->api, v->bucket, &v->filter,
					   req, page, err),
		       page);
}

struct job {
	struct mpfs_core *core;
	void (*fn)(void *arg);
	void *arg;
};

static void *job_main(void *p)
{
	struct job job = *(struct job *)p;

	free(p);
	job.fn(job.arg);
	pthread_mutex_lock(&job.core->jobs_lock);
	job.core->jobs--;
	pthread_cond_broadcast(&job.core->jobs_done);
	pthread_mutex_unlock(&job.core->jobs_lock);
	return NULL;
}

/* Runs a listing's page fetch on a thread of its own, counted so that
 * mpfs_core_free can wait for it. */
static int spawn(void *ctx, void (*fn)(void *arg), void *arg)
{
	struct view *v = ctx;
	struct mpfs_core *core = v->core;
	struct job *job = malloc(sizeof(*job));
	pthread_attr_t attr;
	pthread_t tid;
	int r;

	if (!job)
		return -1;
	*job = (struct job){core, fn, arg};
	pthread_mutex_lock(&core->jobs_lock);
	core->jobs++;
	pthread_mutex_unlock(&core->jobs_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	r = pthread_create(&tid, &attr, job_main, job);
	pthread_attr_destroy(&attr);
	if (r == 0)
		return 0;
	free(job);
	pthread_mutex_lock(&core->jobs_lock);
	core->jobs--;
	pthread_mutex_unlock(&core->jobs_lock);
	return -1;
}

static void object_key(char *key, size_t size, const char *bucket,
		       const char *id)
{
	snprintf(key, size, "%s" SEP "%s", bucket, id);
}

/* Keeps one copy of each object across all views that list it. */
static struct mpfs_obj *intern(void *ctx, struct mpfs_obj *obj)
{
	struct view *v = ctx;
	char key[2 * MPFS_NAME_MAX + 8];
	struct mpfs_obj *old;

	object_key(key, sizeof(key), v->bucket, obj->id);
	old = mpfs_cache_get(v->core->objects, key);
	if (old && mpfs_obj_same(old, obj))
		return old;
	mpfs_obj_unref(old);
	mpfs_cache_put(v->core->objects, key, obj);
	return mpfs_obj_ref(obj);
}

static const char *const kinds[] = {"all", "active", "inactive", "status",
				    "conn"};

/* The cache key of a view's listing: the directory it shows, "/" for the
 * bucket list (node NULL). */
static const char *view_key(const struct mpfs_node *node, char *key,
			    size_t size)
{
	if (node)
		mpfs_view_path(node, key, size);
	else
		snprintf(key, size, "/");
	return key;
}

/* The cached listing of a view (node NULL: the bucket list), or a new one.
 * Returns a new reference, or NULL. */
static struct mpfs_listing *listing_of(struct mpfs_core *core,
				       const struct mpfs_node *node)
{
	struct mpfs_listing_cfg cfg = {
	    .id_key = "sync_config_id",
	    .suffix = ".json",
	    .fetch = fetch_syncs,
	    .intern = intern,
	    .release = view_release,
	    .ended = view_ended,
	    .spawn = spawn,
	    .max_inflight = core->cfg.max_requests,
	    .first_limit =
		core->cfg.page_size ? core->cfg.page_size : MPFS_FIRST_PAGE,
	    .max_limit = core->cfg.page_size ? core->cfg.page_size : 1000,
	    .max_offset = 10000,
	    .fallback_mtime = core->cfg.mount_time,
	};
	char key[3 * MPFS_NAME_MAX + 16], what[sizeof(key) + 16];
	struct mpfs_listing *l, *kept;
	struct view *v;

	l = mpfs_cache_get(core->listings, view_key(node, key, sizeof(key)));
	mpfs_stats_cache(l != NULL);
	if (l)
		return l;

	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->core = core;
	v->filter.is_active = -1;
	if (node) {
		snprintf(v->bucket, sizeof(v->bucket), "%s", node->bucket);
		switch (node->filter.kind) {
		case MPFS_FILTER_ALL:
			break;
		case MPFS_FILTER_ACTIVE:
		case MPFS_FILTER_INACTIVE:
			v->filter.is_active =
			    node->filter.kind == MPFS_FILTER_ACTIVE;
			break;
		case MPFS_FILTER_STATUS:
			mpfs_status_api_value(node->filter.value, v->status,
					      sizeof(v->status));
			v->filter.status = v->status;
			break;
		case MPFS_FILTER_CONNECTION:
			snprintf(v->conn, sizeof(v->conn), "%s",
				 node->filter.value);
			v->filter.connection_id = v->conn;
			break;
		}
		snprintf(what, sizeof(what), "syncs of '%s' %s '%s'",
			 node->bucket, kinds[node->filter.kind],
			 node->filter.value);
	} else {
		cfg.id_key = "bucket_id";
		cfg.suffix = "";
		cfg.fetch = fetch_buckets;
		cfg.intern = NULL;
		cfg.max_offset = LONG_MAX;
		snprintf(what, sizeof(what), "buckets");
	}
	snprintf(v->path, sizeof(v->path), "%s", key);
	cfg.ctx = v;
	cfg.what = what;
	l = mpfs_listing_new(&cfg);
	if (!l) {
		free(v);
		return NULL;
	}
	kept = mpfs_cache_put_new(core->listings, key, l);
	mpfs_listing_unref(l);
	return kept;
}

static void report_skipped(struct mpfs_listing *l)
{
	long n = mpfs_listing_take_skipped(l);

	if (n > 0)
		mpfs_log(MPFS_LOG_WARN, "list %s: skipped %ld items without id",
			 mpfs_listing_what(l), n);
}

/* Calls visit for each entry of a listing, fetching all of it. */
static int each_entry(struct mpfs_listing *l,
		      int (*visit)(void *ctx, struct mpfs_obj *obj), void *ctx,
		      struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	int r;

	for (size_t i = 0; (r = mpfs_listing_get(l, i, &obj, err)) == 1; i++) {
		int stop = visit(ctx, obj);

		mpfs_obj_unref(obj);
		if (stop)
			return 1;
	}
	return r;
}

/* Whether stale data may stand in for a failed refresh: the API could not
 * be asked or answered badly; not when it said no (404, 401, 422). */
static int stale_ok(const struct mpfs_err *err)
{
	switch (err->kind) {
	case MPFS_E_TRANSPORT:
	case MPFS_E_SERVER:
	case MPFS_E_MALFORMED:
	case MPFS_E_TOO_LARGE:
		return 1;
	default:
		return 0;
	}
}

static void log_stale(const char *what, const struct mpfs_err *err, double age)
{
	mpfs_log(MPFS_LOG_WARN,
		 "%s: %s: %s; serving what was fetched %.0f s ago", what,
		 err->op, err->msg, age);
}

/* The object under key kept past its ttl, for a refresh that failed. */
static struct mpfs_obj *stale_obj(struct mpfs_cache *c, const char *key,
				  const char *what, const struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	double age;

	if (!stale_ok(err))
		return NULL;
	obj = mpfs_cache_get_stale(c, key, &age);
	if (obj)
		log_stale(what, err, age);
	return obj;
}

/* The listing a failed refresh of key replaced, if still within grace. */
static struct mpfs_listing *stale_listing(struct mpfs_core *core,
					  const char *key,
					  const struct mpfs_err *err)
{
	struct mpfs_listing *l;
	double age;

	if (!stale_ok(err))
		return NULL;
	l = mpfs_cache_get_replaced(core->listings, key, &age);
	if (l)
		log_stale(mpfs_listing_what(l), err, age);
	return l;
}

/* ---- existence ---- */

static int same_name(void *ctx, struct mpfs_obj *obj)
{
	return strcmp(obj->id, ctx) == 0;
}

static int bucket_exists(struct mpfs_core *core, const char *bucket,
			 struct mpfs_err *err)
{
	struct mpfs_listing *l;
	char key[2];
	int r;

	if (core->cfg.buckets) {
		for (char **b = core->cfg.buckets; *b; b++)
			if (strcmp(*b, bucket) == 0)
				return 0;
		not_found(err, "bucket");
		return -1;
	}
	l = listing_of(core, NULL);
	if (!l) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	r = each_entry(l, same_name, (void *)bucket, err);
	mpfs_listing_unref(l);
	if (r < 0 &&
	    (l = stale_listing(core, view_key(NULL, key, sizeof(key)), err))) {
		r = each_entry(l, same_name, (void *)bucket, err);
		mpfs_listing_unref(l);
	}
	if (r == 0)
		not_found(err, "bucket");
	return r == 1 ? 0 : -1;
}

static int uses_conn(void *ctx, struct mpfs_obj *obj)
{
	return obj->connection_id && strcmp(obj->connection_id, ctx) == 0;
}

static int conn_exists(struct mpfs_core *core, const struct mpfs_node *node,
		       struct mpfs_err *err)
{
	struct mpfs_node all = *node;
	char key[3 * MPFS_NAME_MAX + 16];
	struct mpfs_listing *l;
	json_t *json;
	int complete = 0;

	/* A connection the bucket's syncs use exists: ask no one. */
	all.filter.kind = MPFS_FILTER_ALL;
	all.filter.value[0] = '\0';
	l = mpfs_cache_get(core->listings, view_key(&all, key, sizeof(key)));
	if (l) {
		mpfs_listing_count(l, &complete);
		if (complete &&
		    each_entry(l, uses_conn, (void *)node->filter.value, err) ==
			1) {
			mpfs_listing_unref(l);
			return 0;
		}
		mpfs_listing_unref(l);
	}
	if (mpfs_cache_get(core->conns, node->filter.value))
		return 0;
	if (mpfs_api_get_connection(core->api, node->filter.value, &json, err))
		return -1;
	json_decref(json);
	mpfs_cache_put(core->conns, node->filter.value, &exists_marker);
	return 0;
}

static int is_listed_status(const char *name)
{
	for (size_t i = 0; i < mpfs_statuses_count; i++)
		if (strcmp(name, mpfs_statuses[i]) == 0)
			return 1;
	return 0;
}

static int view_exists(struct mpfs_core *core, const struct mpfs_node *node,
		       struct mpfs_err *err)
{
	struct mpfs_listing *l;
	struct mpfs_obj *obj = NULL;
	int r;

	switch (node->filter.kind) {
	case MPFS_FILTER_CONNECTION:
		return conn_exists(core, node, err);
	case MPFS_FILTER_STATUS:
		if (is_listed_status(node->filter.value))
			return 0;
		/* Any other name is the API's to judge: ask for one page. */
		l = listing_of(core, node);
		if (!l) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
		r = mpfs_listing_get(l, 0, &obj, err);
		mpfs_obj_unref(obj);
		mpfs_listing_unref(l);
		if (r < 0 && err->kind == MPFS_E_INVALID)
			err->kind = MPFS_E_NOT_FOUND;
		return r < 0 ? -1 : 0;
	default:
		return 0;
	}
}

/* ---- files ---- */

static int matches(const struct mpfs_filter *f, const struct mpfs_obj *obj)
{
	switch (f->kind) {
	case MPFS_FILTER_ALL:
		return 1;
	case MPFS_FILTER_ACTIVE:
		return obj->is_active == 1;
	case MPFS_FILTER_INACTIVE:
		return obj->is_active == 0;
	case MPFS_FILTER_STATUS:
		return obj->status && strcasecmp(obj->status, f->value) == 0;
	case MPFS_FILTER_CONNECTION:
		return obj->connection_id &&
		       strcmp(obj->connection_id, f->value) == 0;
	}
	return 0;
}

/* After a GET for key: json (taken; NULL when the GET failed, err says
 * why) rendered and cached, or else the stale copy. New reference, or NULL
 * with err set. */
static struct mpfs_obj *fetched(struct mpfs_core *core, struct mpfs_cache *c,
				const char *key, const char *what,
				const char *id_key, json_t *json,
				struct mpfs_err *err)
{
	struct mpfs_obj *obj;

	if (!json)
		return stale_obj(c, key, what, err);
	obj = mpfs_obj_new(json, id_key, ".json", core->cfg.mount_time, err);
	json_decref(json);
	if (obj)
		mpfs_cache_put(c, key, obj);
	return obj;
}

/* The object a sync path shows, from the cache or a GET. */
static int sync_obj(struct mpfs_core *core, const struct mpfs_node *node,
		    struct mpfs_obj **out, struct mpfs_err *err)
{
	char key[2 * MPFS_NAME_MAX + 8];
	struct mpfs_obj *obj;
	json_t *json;

	object_key(key, sizeof(key), node->bucket, node->sync_id);
	obj = mpfs_cache_get(core->objects, key);
	mpfs_stats_cache(obj != NULL);
	if (!obj) {
		int r = mpfs_api_get_sync(core->api, node->bucket,
					  node->sync_id, &json, err);

		obj = fetched(core, core->objects, key, "sync",
			      "sync_config_id", r == 0 ? json : NULL, err);
		if (!obj)
			return -1;
	}
	if (!matches(&node->filter, obj)) {
		mpfs_obj_unref(obj);
		not_found(err, "sync in this view");
		return -1;
	}
	*out = obj;
	return 0;
}

/* ---- bucket.json, bucket names, stats.json, inodes (issue 5) ---- */

/* A bucket's object from GET /v1/buckets/{id}, cached for ttl. */
static int bucket_obj(struct mpfs_core *core, const char *bucket,
		      struct mpfs_obj **out, struct mpfs_err *err)
{
	struct mpfs_obj *obj = mpfs_cache_get(core->bucket_objs, bucket);
	json_t *json;

	mpfs_stats_cache(obj != NULL);
	if (!obj) {
		int r = mpfs_api_get_bucket(core->api, bucket, &json, err);

		obj = fetched(core, core->bucket_objs, bucket, "bucket",
			      "bucket_id", r == 0 ? json : NULL, err);
		if (!obj)
			return -1;
	}
	*out = obj;
	return 0;
}

/* The bucket names and ids, each pair kept valid by a reference to the
 * object it came from. */
struct name_pair {
	const char *name; /* NULL when the bucket has none */
	const char *id;
	struct mpfs_obj *obj;
};

struct bucket_names {
	struct name_pair *v;
	size_t n, cap;
	int failed;
};

static int add_pair(struct bucket_names *bn, const char *id,
		    struct mpfs_obj *obj)
{
	if (bn->n == bn->cap) {
		size_t cap = bn->cap ? 2 * bn->cap : 16;
		struct name_pair *grown = realloc(bn->v, cap * sizeof(*grown));

		if (!grown) {
			bn->failed = 1;
			return 1;
		}
		bn->v = grown;
		bn->cap = cap;
	}
	bn->v[bn->n++] =
	    (struct name_pair){obj->bucket_name, id, mpfs_obj_ref(obj)};
	return 0;
}

static int collect_pair(void *ctx, struct mpfs_obj *obj)
{
	return add_pair(ctx, obj->id, obj);
}

static void pairs_release(struct bucket_names *bn)
{
	for (size_t i = 0; i < bn->n; i++)
		mpfs_obj_unref(bn->v[i].obj);
	free(bn->v);
}

/* Every bucket with its name: the whole bucket list, or with -o buckets=
 * a GET of each named bucket. */
static int bucket_pairs(struct mpfs_core *core, struct bucket_names *bn,
			struct mpfs_err *err)
{
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	int r;

	memset(bn, 0, sizeof(*bn));
	if (core->cfg.buckets) {
		for (char **b = core->cfg.buckets; *b; b++) {
			if (bucket_obj(core, *b, &obj, err))
				return -1;
			r = add_pair(bn, *b, obj);
			mpfs_obj_unref(obj);
			if (r)
				goto nomem;
		}
		return 0;
	}
	l = listing_of(core, NULL);
	if (!l)
		goto nomem;
	r = each_entry(l, collect_pair, bn, err);
	mpfs_listing_unref(l);
	if (bn->failed)
		goto nomem;
	return r < 0 ? -1 : 0;
nomem:
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	return -1;
}

/* A bucket name can be a link at the root when it is a safe file name as
 * it is (nothing to %-encode) and not our hidden directory. Whether it is
 * unique and no bucket's id is decided with the others. */
static int safe_link_name(const char *name)
{
	if (!name || !*name || strlen(name) > MPFS_NAME_MAX ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strcmp(name, MPFS_META_NAME) == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p == '%' || *p < 0x20 || *p == 0x7F)
			return 0;
	return 1;
}

/* The bucket id the root name links to, or NULL when it is no link: the
 * name of exactly one bucket and the id of none. Borrowed from bn. */
static const char *link_target(const struct bucket_names *bn, const char *name)
{
	const char *id = NULL;

	if (!safe_link_name(name))
		return NULL;
	for (size_t i = 0; i < bn->n; i++) {
		if (strcmp(bn->v[i].id, name) == 0)
			return NULL;
		if (bn->v[i].name && strcmp(bn->v[i].name, name) == 0) {
			if (id)
				return NULL;
			id = bn->v[i].id;
		}
	}
	return id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every link name of the root, sorted, into dir->tail. Quadratic in the
 * buckets, which are few; one rule (link_target) decides. */
static int make_links(struct mpfs_core *core, struct mpfs_dir *dir,
		      struct mpfs_err *err)
{
	struct bucket_names bn;
	int r = 0;

	if (bucket_pairs(core, &bn, err)) {
		pairs_release(&bn);
		return -1;
	}
	dir->tail = calloc(bn.n + 1, sizeof(*dir->tail));
	if (!dir->tail)
		goto nomem;
	for (size_t i = 0; i < bn.n; i++) {
		if (!link_target(&bn, bn.v[i].name))
			continue;
		dir->tail[dir->tail_count] = strdup(bn.v[i].name);
		if (!dir->tail[dir->tail_count])
			goto nomem;
		dir->tail_count++;
	}
	qsort(dir->tail, dir->tail_count, sizeof(*dir->tail), cmp_str);
	goto out;
nomem:
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	r = -1;
out:
	pairs_release(&bn);
	return r;
}

/* The target of a root link (the %-encoded bucket id), or -1 with err set
 * (ENOENT when the name is no link). */
static int link_of(struct mpfs_core *core, const char *name, char *out,
		   size_t size, struct mpfs_err *err)
{
	struct bucket_names bn;
	const char *id;
	int r = -1;

	if (!safe_link_name(name)) {
		not_found(err, "bucket");
		return -1;
	}
	if (bucket_pairs(core, &bn, err) == 0) {
		id = link_target(&bn, name);
		if (id && mpfs_name_encode(id, out, size) < size)
			r = 0;
		else
			not_found(err, "bucket");
	}
	pairs_release(&bn);
	return r;
}

static void link_stat(struct mpfs_core *core, const char *target,
		      struct stat *st)
{
	dir_stat(core, st);
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_size = (off_t)strlen(target);
}

/* Pads stats.json with spaces before its final newline to a size that only
 * grows, by 4 KiB steps: the kernel reads it with the size a stat gave, and
 * figures that changed in between must not cut the JSON short. */
static int pad_stats(struct mpfs_core *core, struct mpfs_obj *obj,
		     struct mpfs_err *err)
{
	size_t size;
	char *data;

	pthread_mutex_lock(&core->stats_lock);
	if (obj->size > core->stats_size)
		core->stats_size = (obj->size + 4095) / 4096 * 4096;
	size = core->stats_size;
	pthread_mutex_unlock(&core->stats_lock);
	data = realloc(obj->data, size);
	if (!data) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	memset(data + obj->size - 1, ' ', size - obj->size);
	data[size - 1] = '\n';
	obj->data = data;
	obj->size = size;
	return 0;
}

/* /.mixpeekfs/stats.json: a snapshot, so that its size and bytes agree
 * between stat and read, made anew after the figures change (see
 * mpfs_core_stats_changed). */
static struct mpfs_obj *stats_obj(struct mpfs_core *core, struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	json_t *json;

	pthread_mutex_lock(&core->stats_lock);
	obj = core->stats_snap ? mpfs_obj_ref(core->stats_snap) : NULL;
	pthread_mutex_unlock(&core->stats_lock);
	if (obj)
		return obj;
	/* Armed before the figures are read: a change while they are read
	 * disarms, and then this copy is not kept. */
	mpfs_stats_arm();
	json = mpfs_stats_json();
	if (!json) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return NULL;
	}
	obj = mpfs_obj_new_live(json, "stats.json", time(NULL), err);
	json_decref(json);
	if (!obj || pad_stats(core, obj, err)) {
		mpfs_obj_unref(obj);
		return NULL;
	}
	pthread_mutex_lock(&core->stats_lock);
	if (mpfs_stats_armed()) {
		mpfs_obj_unref(core->stats_snap);
		core->stats_snap = mpfs_obj_ref(obj);
	}
	pthread_mutex_unlock(&core->stats_lock);
	return obj;
}

void mpfs_core_stats_changed(struct mpfs_core *core)
{
	struct mpfs_obj *old;

	pthread_mutex_lock(&core->stats_lock);
	old = core->stats_snap;
	core->stats_snap = NULL;
	pthread_mutex_unlock(&core->stats_lock);
	mpfs_obj_unref(old);
}

/* The inode of the entry name in the directory at dir_path. */
static uint64_t child_ino(const char *dir_path, const char *name)
{
	char path[2 * (MPFS_NAME_MAX + 1) * 4];
	struct mpfs_node node;

	snprintf(path, sizeof(path), "%s/%s",
		 strcmp(dir_path, "/") == 0 ? "" : dir_path, name);
	return mpfs_path_parse(path, &node) == 0 ? mpfs_node_ino(&node) : 0;
}

/* The inodes of a directory's "." and "..". */
static void dir_inos(const char *path, struct mpfs_dir *dir)
{
	char parent[4 * (MPFS_NAME_MAX + 1) * 4];
	char *slash;
	struct mpfs_node node;

	dir->ino = mpfs_node_ino(&dir->node);
	snprintf(parent, sizeof(parent), "%s", path);
	while ((slash = strrchr(parent, '/')) && slash[1] == '\0' &&
	       slash != parent)
		*slash = '\0';
	slash = strrchr(parent, '/');
	if (slash)
		slash[slash == parent] = '\0';
	dir->parent_ino =
	    mpfs_path_parse(parent, &node) == 0 ? mpfs_node_ino(&node) : 1;
}

/* ---- extended attributes ---- */

#define XATTR_PREFIX "user.mixpeek."
#define XATTR_COUNT  7

/* The attributes an object has, in a fixed order; values borrowed. */
static size_t sync_xattrs(const struct mpfs_obj *obj, const char **names,
			  const char **values)
{
	const char *all[XATTR_COUNT][2] = {
	    {"sync_config_id", obj->id},
	    {"bucket_id", obj->bucket_id},
	    {"connection_id", obj->connection_id},
	    {"status", obj->status},
	    {"is_active", obj->is_active < 0 ? NULL
			  : obj->is_active   ? "true"
					     : "false"},
	    {"updated_at", obj->updated_at},
	    {"last_error", obj->last_error},
	};
	size_t n = 0;

	for (size_t i = 0; i < XATTR_COUNT; i++)
		if (all[i][1]) {
			names[n] = all[i][0];
			values[n++] = all[i][1];
		}
	return n;
}

/* The object behind a path, for its attributes; *obj NULL when the path
 * is no sync file (it has none). */
static int xattr_obj(struct mpfs_core *core, const char *path,
		     struct mpfs_obj **obj, struct mpfs_err *err)
{
	struct mpfs_node node;

	*obj = NULL;
	if (mpfs_path_parse(path, &node) || node.type != MPFS_NODE_SYNC)
		return 0;
	return sync_obj(core, &node, obj, err);
}

int mpfs_core_listxattr(struct mpfs_core *core, const char *path, char **out,
			size_t *len, struct mpfs_err *err)
{
	const char *names[XATTR_COUNT], *values[XATTR_COUNT];
	struct mpfs_obj *obj;
	size_t n = 0, total = 0;
	char *buf, *p;

	if (xattr_obj(core, path, &obj, err))
		return -1;
	if (obj)
		n = sync_xattrs(obj, names, values);
	for (size_t i = 0; i < n; i++)
		total += sizeof(XATTR_PREFIX) + strlen(names[i]);
	buf = malloc(total + 1);
	if (!buf) {
		mpfs_obj_unref(obj);
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	p = buf;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", XATTR_PREFIX, names[i]) + 1;
	mpfs_obj_unref(obj);
	*out = buf;
	*len = total;
	return 0;
}

int mpfs_core_getxattr(struct mpfs_core *core, const char *path,
		       const char *name, char **out, size_t *len,
		       struct mpfs_err *err)
{
	const char *names[XATTR_COUNT], *values[XATTR_COUNT];
	struct mpfs_obj *obj;
	size_t n;

	/* Other namespaces (security.*, system.posix_acl_*) cost nothing. */
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0)
		goto none;
	if (xattr_obj(core, path, &obj, err))
		return -1;
	if (!obj)
		goto none;
	n = sync_xattrs(obj, names, values);
	for (size_t i = 0; i < n; i++) {
		if (strcmp(name + strlen(XATTR_PREFIX), names[i]) != 0)
			continue;
		*len = strlen(values[i]);
		*out = malloc(*len + 1);
		if (*out)
			memcpy(*out, values[i], *len + 1);
		mpfs_obj_unref(obj);
		if (!*out) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
		return 0;
	}
	mpfs_obj_unref(obj);
none:
	mpfs_err_clear(err);
	mpfs_err_set(err, MPFS_E_NO_ATTR, "no attribute '%s'", name);
	return -1;
}

int mpfs_core_readlink(struct mpfs_core *core, const char *path, char *buf,
		       size_t size, struct mpfs_err *err)
{
	struct mpfs_node node;

	if (mpfs_path_parse(path, &node) || node.type != MPFS_NODE_BUCKET ||
	    strchr(path + 1, '/')) {
		mpfs_err_set(err, MPFS_E_INVALID, "not a symbolic link");
		return -1;
	}
	return link_of(core, node.bucket, buf, size, err);
}

/* ---- dropping every cache (SIGHUP) ---- */

struct held {
	char **keys;
	void **values;
	size_t n, cap;
	int failed;
	void *(*ref)(void *);
};

static void hold(void *ctx, const char *key, void *value)
{
	struct held *h = ctx;

	if (h->n == h->cap) {
		size_t cap = h->cap ? 2 * h->cap : 64;
		char **k = realloc(h->keys, cap * sizeof(*k));
		void **v = k ? realloc(h->values, cap * sizeof(*v)) : NULL;

		if (k)
			h->keys = k;
		if (v)
			h->values = v;
		if (!k || !v) {
			h->failed = 1;
			return;
		}
		h->cap = cap;
	}
	h->keys[h->n] = strdup(key);
	if (!h->keys[h->n]) {
		h->failed = 1;
		return;
	}
	h->values[h->n++] = h->ref(value);
}

static void held_release(struct held *h, void (*unref)(void *))
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->keys[i]);
		unref(h->values[i]);
	}
	free(h->keys);
	free(h->values);
}

struct visitor {
	void (*visit)(void *ctx, const char *path);
	void *ctx;
	size_t count;
};

static void visitf(struct visitor *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void visitf(struct visitor *v, const char *fmt, ...)
{
	char path[4 * (MPFS_NAME_MAX + 1) * 4];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	v->visit(v->ctx, path);
	v->count++;
}

/* A bucket's directories, its bucket.json, and its name's link. */
static void visit_bucket(struct visitor *v, const char *id, const char *name)
{
	char b[MPFS_NAME_MAX + 1];

	mpfs_name_encode(id, b, sizeof(b));
	visitf(v, "/%s", b);
	visitf(v, "/%s/bucket.json", b);
	for (size_t i = 0; i < MPFS_VIEW_KINDS; i++)
		visitf(v, "/%s/%s", b, mpfs_view_dirs[i]);
	if (safe_link_name(name))
		visitf(v, "/%s", name);
}

/* The path of a sync in the view of node's bucket that kind and value
 * say. */
static void visit_in(struct visitor *v, struct mpfs_node *node,
		     enum mpfs_filter_kind kind, const char *value,
		     const char *name)
{
	char dir[sizeof(((struct view *)0)->path)];

	node->filter.kind = kind;
	snprintf(node->filter.value, sizeof(node->filter.value), "%s", value);
	mpfs_view_path(node, dir, sizeof(dir));
	visitf(v, "%s/%s", dir, name);
}

/* Every path a sync may show at: the views it belongs to. */
static void visit_sync(struct visitor *v, const char *bucket,
		       const struct mpfs_obj *obj)
{
	struct mpfs_node node = {.type = MPFS_NODE_VIEW};
	char status[MPFS_NAME_MAX + 1];

	snprintf(node.bucket, sizeof(node.bucket), "%s", bucket);
	visit_in(v, &node, MPFS_FILTER_ALL, "", obj->name);
	if (obj->is_active >= 0)
		visit_in(v, &node,
			 obj->is_active ? MPFS_FILTER_ACTIVE
					: MPFS_FILTER_INACTIVE,
			 "", obj->name);
	if (obj->status) {
		snprintf(status, sizeof(status), "%s", obj->status);
		for (char *p = status; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		visit_in(v, &node, MPFS_FILTER_STATUS, status, obj->name);
	}
	if (obj->connection_id)
		visit_in(v, &node, MPFS_FILTER_CONNECTION, obj->connection_id,
			 obj->name);
}

/* A cached listing's directory, its cache key (see view_key), and its
 * entries. */
static void visit_listing(struct visitor *v, const char *dir,
			  struct mpfs_listing *l)
{
	int buckets = strcmp(dir, "/") == 0;
	size_t n = mpfs_listing_count(l, NULL);
	struct mpfs_node node;
	struct mpfs_err err;
	struct mpfs_obj *obj;

	if (!buckets) {
		if (mpfs_path_parse(dir, &node))
			return;
		visit_bucket(v, node.bucket, NULL);
		visitf(v, "%s", dir);
	}
	/* Entries held now: no page is fetched for this. */
	for (size_t i = 0; i < n; i++) {
		if (mpfs_listing_get(l, i, &obj, &err) != 1)
			break;
		if (buckets)
			visit_bucket(v, obj->id, obj->bucket_name);
		else
			visitf(v, "%s/%s", dir, obj->name);
		mpfs_obj_unref(obj);
	}
}

size_t mpfs_core_drop(struct mpfs_core *core,
		      void (*visit)(void *ctx, const char *path), void *ctx)
{
	struct held listings = {.ref = listing_ref}, objects = {.ref = obj_ref};
	struct held buckets = {.ref = obj_ref};
	struct visitor v = {visit, ctx, 0};

	mpfs_cache_each(core->listings, hold, &listings);
	mpfs_cache_each(core->objects, hold, &objects);
	mpfs_cache_each(core->bucket_objs, hold, &buckets);
	mpfs_cache_clear(core->listings);
	mpfs_cache_clear(core->objects);
	mpfs_cache_clear(core->conns);
	mpfs_cache_clear(core->bucket_objs);
	mpfs_stats_drop();

	/* Now the kernel's copies: every path those caches could have
	 * handed out. */
	visitf(&v, "/");
	visitf(&v, "/%s", MPFS_META_NAME);
	visitf(&v, "/%s/stats.json", MPFS_META_NAME);
	if (core->cfg.buckets)
		for (char **b = core->cfg.buckets; *b; b++)
			visit_bucket(&v, *b, NULL);
	for (size_t i = 0; i < buckets.n; i++)
		visit_bucket(
		    &v, buckets.keys[i],
		    ((struct mpfs_obj *)buckets.values[i])->bucket_name);
	for (size_t i = 0; i < listings.n; i++)
		visit_listing(&v, listings.keys[i], listings.values[i]);
	for (size_t i = 0; i < objects.n; i++) {
		char *sep = strchr(objects.keys[i], SEP[0]);

		if (sep) {
			*sep = '\0';
			visit_sync(&v, objects.keys[i], objects.values[i]);
		}
	}
	held_release(&listings, listing_unref);
	held_release(&objects, obj_unref);
	held_release(&buckets, obj_unref);
	return v.count;
}

/* ---- the calls fs.c makes ---- */

static int parse(const char *path, struct mpfs_node *node, struct mpfs_err *err)
{
	if (mpfs_path_parse(path, node) == 0)
		return 0;
	not_found(err, "path");
	return -1;
}

/* A root name that is no bucket id may be a bucket name's link. */
static int link_getattr(struct mpfs_core *core, const struct mpfs_node *node,
			struct stat *st, struct mpfs_err *err)
{
	char target[MPFS_NAME_MAX + 1];

	if (err->kind != MPFS_E_NOT_FOUND ||
	    link_of(core, node->bucket, target, sizeof(target), err))
		return -1;
	link_stat(core, target, st);
	st->st_ino = mpfs_node_ino(node);
	return 0;
}

/* bucket.json, /.mixpeekfs and its stats.json. */
static int own_file_stat(struct mpfs_core *core, const struct mpfs_node *node,
			 struct stat *st, struct mpfs_err *err)
{
	struct mpfs_obj *obj = NULL;

	if (node->type == MPFS_NODE_META) {
		dir_stat(core, st);
	} else {
		if (node->type == MPFS_NODE_STATS)
			obj = stats_obj(core, err);
		else if (bucket_exists(core, node->bucket, err) == 0)
			bucket_obj(core, node->bucket, &obj, err);
		if (!obj)
			return -1;
		file_stat(core, obj, st);
		mpfs_obj_unref(obj);
	}
	st->st_ino = mpfs_node_ino(node);
	return 0;
}

int mpfs_core_getattr(struct mpfs_core *core, const char *path, struct stat *st,
		      struct mpfs_err *err)
{
	struct mpfs_node node;
	struct mpfs_obj *obj;

	if (parse(path, &node, err))
		return -1;
	if (node.type == MPFS_NODE_SYNC) {
		if (sync_obj(core, &node, &obj, err))
			return -1;
		file_stat(core, obj, st);
		mpfs_obj_unref(obj);
		st->st_ino = mpfs_node_ino(&node);
		return 0;
	}
	if (node.type == MPFS_NODE_META || node.type == MPFS_NODE_STATS ||
	    node.type == MPFS_NODE_BUCKET_JSON)
		return own_file_stat(core, &node, st, err);
	if (node.type == MPFS_NODE_BUCKET &&
	    bucket_exists(core, node.bucket, err))
		return link_getattr(core, &node, st, err);
	if (node.type != MPFS_NODE_ROOT && node.type != MPFS_NODE_BUCKET &&
	    bucket_exists(core, node.bucket, err))
		return -1;
	if (node.type == MPFS_NODE_VIEW && view_exists(core, &node, err))
		return -1;
	dir_stat(core, st);
	st->st_ino = mpfs_node_ino(&node);
	return 0;
}

static int add_name(struct mpfs_dir *dir, const char *name)
{
	char **grown;

	for (size_t i = 0; i < dir->count; i++)
		if (strcmp(dir->names[i], name) == 0)
			return 0;
	grown = realloc(dir->names, (dir->count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	dir->names = grown;
	dir->names[dir->count] = strdup(name);
	if (!dir->names[dir->count])
		return -1;
	dir->count++;
	return 0;
}

struct conn_names {
	struct mpfs_dir *dir;
	void *seen; /* tsearch tree of connection ids */
	int failed;
};

static int add_conn(void *ctx, struct mpfs_obj *obj)
{
	struct conn_names *c = ctx;
	char name[MPFS_NAME_MAX + 1];

	if (!obj->connection_id || !*obj->connection_id ||
	    tfind(obj->connection_id, &c->seen,
		  (int (*)(const void *, const void *))strcmp))
		return 0;
	if (mpfs_name_encode(obj->connection_id, name, sizeof(name)) >=
	    sizeof(name))
		return 0;
	if (!tsearch(obj->connection_id, &c->seen,
		     (int (*)(const void *, const void *))strcmp) ||
	    add_name(c->dir, name)) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

static void no_free(void *p)
{
	(void)p;
}

static int conn_dir(struct mpfs_core *core, const struct mpfs_node *node,
		    struct mpfs_dir *dir, struct mpfs_err *err)
{
	struct mpfs_node all = *node;
	struct conn_names c = {.dir = dir};
	struct mpfs_listing *l;
	int r;

	all.filter.kind = MPFS_FILTER_ALL;
	all.filter.value[0] = '\0';
	l = listing_of(core, &all);
	if (!l) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	/* The connection ids are borrowed from objects the listing holds. */
	r = each_entry(l, add_conn, &c, err);
	report_skipped(l);
	tdestroy(c.seen, no_free);
	mpfs_listing_unref(l);
	if (c.failed) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	return r < 0 ? -1 : 0;
}

int mpfs_core_opendir(struct mpfs_core *core, const char *path,
		      struct mpfs_dir **out, int *cached, struct mpfs_err *err)
{
	struct mpfs_node node;
	struct mpfs_dir *dir;
	int r = 0;

	if (parse(path, &node, err))
		return -1;
	if (node.type == MPFS_NODE_SYNC || node.type == MPFS_NODE_BUCKET_JSON ||
	    node.type == MPFS_NODE_STATS) {
		mpfs_err_set(err, MPFS_E_INVALID, "not a directory");
		return -1;
	}
	dir = calloc(1, sizeof(*dir));
	if (!dir)
		goto nomem;
	*cached = node.type != MPFS_NODE_CONNS; /* fixed names */
	dir->node = node;
	dir->path = strdup(path);
	if (!dir->path)
		goto nomem;
	dir_inos(path, dir);
	switch (node.type) {
	case MPFS_NODE_META:
		r = add_name(dir, "stats.json");
		break;
	case MPFS_NODE_ROOT:
		r = add_name(dir, MPFS_META_NAME);
		if (r == 0 && core->cfg.buckets) {
			char name[MPFS_NAME_MAX + 1];

			for (char **b = core->cfg.buckets; *b && r == 0; b++) {
				mpfs_name_encode(*b, name, sizeof(name));
				r = add_name(dir, name);
			}
		} else if (r == 0) {
			dir->listing = listing_of(core, NULL);
			dir->listing_dirs = 1;
			r = dir->listing ? 0 : -1;
		}
		break;
	case MPFS_NODE_BUCKET:
		for (size_t i = 0; i < MPFS_VIEW_KINDS && r == 0; i++)
			r = add_name(dir, mpfs_view_dirs[i]);
		r = r ? r : add_name(dir, "bucket.json");
		break;
	case MPFS_NODE_STATUSES:
		for (size_t i = 0; i < mpfs_statuses_count && r == 0; i++)
			r = add_name(dir, mpfs_statuses[i]);
		break;
	case MPFS_NODE_CONNS:
		if (conn_dir(core, &node, dir, err)) {
			mpfs_core_releasedir(dir);
			return -1;
		}
		break;
	case MPFS_NODE_VIEW:
		dir->listing = listing_of(core, &node);
		r = dir->listing ? 0 : -1;
		break;
	case MPFS_NODE_SYNC:
	case MPFS_NODE_BUCKET_JSON:
	case MPFS_NODE_STATS:
		break;
	}
	if (r)
		goto nomem;
	if (dir->listing)
		*cached = mpfs_listing_reopen(dir->listing);
	*out = dir;
	return 0;
nomem:
	mpfs_core_releasedir(dir);
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	return -1;
}

void mpfs_core_releasedir(struct mpfs_dir *dir)
{
	if (!dir)
		return;
	mpfs_listing_unref(dir->listing);
	for (size_t i = 0; i < dir->count; i++)
		free(dir->names[i]);
	free(dir->names);
	for (size_t i = 0; i < dir->tail_count; i++)
		free(dir->tail[i]);
	free(dir->tail);
	free(dir->path);
	free(dir);
}

/* The type and inode of a named entry (not a listing's): in full for a
 * directory, type and inode only (st_nlink 0) for a file whose size would
 * cost a request. */
static void name_stat(struct mpfs_core *core, const struct mpfs_dir *dir,
		      const char *name, struct stat *st)
{
	char path[4 * (MPFS_NAME_MAX + 1) * 4];
	struct mpfs_node node;

	dir_stat(core, st);
	snprintf(path, sizeof(path), "%s/%s",
		 strcmp(dir->path, "/") == 0 ? "" : dir->path, name);
	if (mpfs_path_parse(path, &node) == 0) {
		st->st_ino = mpfs_node_ino(&node);
		if (node.type == MPFS_NODE_BUCKET_JSON ||
		    node.type == MPFS_NODE_STATS) {
			st->st_mode = S_IFREG | 0444;
			st->st_nlink = 0;
		}
	}
}

/* A listed entry: a bucket directory at the root, else a sync file. */
static void listed_stat(struct mpfs_core *core, const struct mpfs_dir *dir,
			const struct mpfs_obj *obj, struct stat *st)
{
	struct mpfs_node node = {.type = MPFS_NODE_BUCKET};

	if (dir->listing_dirs) {
		snprintf(node.bucket, sizeof(node.bucket), "%s", obj->id);
		st->st_ino = mpfs_node_ino(&node);
	} else {
		file_stat(core, obj, st);
		st->st_ino = mpfs_sync_ino(dir->node.bucket, obj->id);
	}
}

/* The root's entries after the bucket listing: the names' links, found
 * once the listing is complete. 1 and the name at index k, 0 past them. */
static int tail_entry(struct mpfs_core *core, struct mpfs_dir *dir, size_t k,
		      const char **name, struct stat *st, struct mpfs_err *err)
{
	if (dir->node.type != MPFS_NODE_ROOT)
		return 0;
	if (!dir->tail_made) {
		if (make_links(core, dir, err))
			return -1;
		dir->tail_made = 1;
	}
	if (k >= dir->tail_count)
		return 0;
	*name = dir->tail[k];
	dir_stat(core, st);
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 0; /* the target's length is not known here */
	st->st_ino = child_ino("/", *name);
	return 1;
}

/* The first page of a directory's listing failed: show the listing it
 * replaced instead, if that is within its grace. */
static int use_stale_listing(struct mpfs_core *core, struct mpfs_dir *dir,
			     const struct mpfs_err *err)
{
	char key[3 * MPFS_NAME_MAX + 16];
	struct mpfs_listing *l;

	view_key(dir->node.type == MPFS_NODE_ROOT ? NULL : &dir->node, key,
		 sizeof(key));
	l = stale_listing(core, key, err);
	if (!l)
		return 0;
	mpfs_listing_unref(dir->listing);
	dir->listing = l;
	return 1;
}

int mpfs_core_readdir(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
		      mpfs_fill_fn fill, void *ctx, struct mpfs_err *err)
{
	struct stat st;
	int filled = 0, listed = 0;

	if (dir->failed) {
		dir->failed = 0;
		*err = dir->failure;
		return -1;
	}
	/* Offsets: ".", "..", the names, the listing, the root's links. */
	for (off_t i = off < 0 ? 0 : off;; i++) {
		struct mpfs_obj *obj = NULL;
		const char *name = NULL;
		size_t k = i < 2 ? 0 : (size_t)(i - 2);
		int full, r = 0;

		dir_stat(core, &st);
		if (i < 2) {
			name = i == 0 ? "." : "..";
			/* readdir(3) hides entries of inode 0 */
			st.st_ino = i == 0 ? dir->ino : dir->parent_ino;
		} else if (k < dir->count) {
			name = dir->names[k];
			name_stat(core, dir, name, &st);
		} else {
			int complete;

			k -= dir->count;
			/* Entries in hand go out now; the next call waits. */
			if (dir->listing && listed &&
			    k >= mpfs_listing_count(dir->listing, &complete) &&
			    !complete)
				return 0;
			if (dir->listing)
				r = mpfs_listing_get(dir->listing, k, &obj,
						     err);
			if (r == 0 && dir->listing) {
				report_skipped(dir->listing);
				k -= mpfs_listing_count(dir->listing, NULL);
			}
			if (r == 0)
				r = tail_entry(core, dir, k, &name, &st, err);
			if (r == 0)
				return 0;
			if (r < 0 && !listed && dir->listing &&
			    mpfs_listing_count(dir->listing, NULL) == 0 &&
			    use_stale_listing(core, dir, err)) {
				i--; /* the same entry, from the stale listing
				      */
				continue;
			}
			if (r < 0 && !filled)
				return -1;
			/* Entries given so far go out; the next call reports
			 * the failure without asking the API again. */
			if (r < 0) {
				dir->failed = 1;
				dir->failure = *err;
				return 0;
			}
			if (obj) {
				name = obj->name;
				listed_stat(core, dir, obj, &st);
				listed = 1;
			}
		}
		full = fill(ctx, name, &st, i + 1);
		mpfs_obj_unref(obj);
		if (full)
			return 0;
		filled = 1;
	}
}

int mpfs_core_open(struct mpfs_core *core, const char *path,
		   struct mpfs_obj **obj, struct mpfs_err *err)
{
	struct mpfs_node node;

	if (parse(path, &node, err))
		return -1;
	if (node.type == MPFS_NODE_STATS) {
		*obj = stats_obj(core, err);
		return *obj ? 0 : -1;
	}
	if (node.type == MPFS_NODE_BUCKET_JSON)
		return bucket_exists(core, node.bucket, err)
			   ? -1
			   : bucket_obj(core, node.bucket, obj, err);
	if (node.type != MPFS_NODE_SYNC) {
		mpfs_err_set(err, MPFS_E_INVALID, "is a directory");
		return -1;
	}
	return sync_obj(core, &node, obj, err);
}
