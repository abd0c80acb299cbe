/* core.c - what the tree means: which paths exist, what each directory
 * lists and what each file holds, from the caches or else the API. Knows
 * no FUSE: fs.c turns these calls into replies. It logs only what no caller
 * could tell (items the API sent without an id).
 *
 * Caches: listings by view, objects by bucket and sync id (shared by every
 * view that shows them), connections known to exist. */
#include "mpfs/core.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <search.h>
#include <strings.h>

#include "mpfs/cache.h"
#include "mpfs/listing.h"
#include "mpfs/log.h"
#include "mpfs/path.h"

#define SEP "\x1f" /* in cache keys: no id can make two keys collide */

struct mpfs_core {
	struct mpfs_api *api;
	struct mpfs_core_cfg cfg;
	struct mpfs_cache *listings; /* view key -> struct mpfs_listing */
	struct mpfs_cache *objects;  /* bucket SEP id -> struct mpfs_obj */
	struct mpfs_cache *conns;    /* connection id -> exists marker */

	pthread_mutex_t jobs_lock; /* guards jobs */
	pthread_cond_t jobs_done;
	int jobs; /* page fetches running on threads of their own */
};

struct mpfs_dir {
	struct mpfs_listing *listing; /* NULL: names below */
	int listing_dirs; /* the listing's entries are directories */
	char **names;
	size_t count;
	int failed;		 /* a page failed after entries went out: */
	struct mpfs_err failure; /* the next call reports it */
};

/* One view's fetch context, freed with its listing. */
struct view {
	struct mpfs_core *core;
	char bucket[MPFS_NAME_MAX + 1];
	char status[MPFS_NAME_MAX + 1];
	char conn[MPFS_NAME_MAX + 1];
	struct mpfs_sync_filter filter;
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

static const struct mpfs_cache_ops listing_ops = {listing_ref, listing_unref};
static const struct mpfs_cache_ops obj_ops = {obj_ref, obj_unref};
static const struct mpfs_cache_ops marker_ops = {marker_ref, marker_unref};
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
	pthread_cond_init(&core->jobs_done, NULL);
	core->listings = mpfs_cache_new(cfg->ttl, &listing_ops, NULL);
	core->objects = mpfs_cache_new(cfg->ttl, &obj_ops, NULL);
	core->conns = mpfs_cache_new(cfg->ttl, &marker_ops, NULL);
	if (!core->listings || !core->objects || !core->conns) {
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
	mpfs_cache_free(core->listings);
	mpfs_cache_free(core->objects);
	mpfs_cache_free(core->conns);
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

static int fetch_buckets(void *ctx, const struct mpfs_page_req *req,
			 struct mpfs_page *page, struct mpfs_err *err)
{
	struct view *v = ctx;

	return mpfs_api_list_buckets(v->core->api, req, page, err);
}

static int fetch_syncs(void *ctx, const struct mpfs_page_req *req,
		       struct mpfs_page *page, struct mpfs_err *err)
{
	struct view *v = ctx;

	return mpfs_api_list_syncs(v->core->api, v->bucket, &v->filter, req,
				   page, err);
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

/* The cache key of a view's listing; node NULL: the bucket list. */
static const char *view_key(const struct mpfs_node *node, char *key,
			    size_t size)
{
	if (node)
		snprintf(key, size, "%s" SEP "%s" SEP "%s",
			 kinds[node->filter.kind], node->bucket,
			 node->filter.value);
	else
		snprintf(key, size, "buckets");
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
	    .release = free,
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

/* ---- existence ---- */

static int same_name(void *ctx, struct mpfs_obj *obj)
{
	return strcmp(obj->id, ctx) == 0;
}

static int bucket_exists(struct mpfs_core *core, const char *bucket,
			 struct mpfs_err *err)
{
	struct mpfs_listing *l;
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

/* The object a sync path shows, from the cache or a GET. */
static int sync_obj(struct mpfs_core *core, const struct mpfs_node *node,
		    struct mpfs_obj **out, struct mpfs_err *err)
{
	char key[2 * MPFS_NAME_MAX + 8];
	struct mpfs_obj *obj;
	json_t *json;

	object_key(key, sizeof(key), node->bucket, node->sync_id);
	obj = mpfs_cache_get(core->objects, key);
	if (!obj) {
		if (mpfs_api_get_sync(core->api, node->bucket, node->sync_id,
				      &json, err))
			return -1;
		obj = mpfs_obj_new(json, "sync_config_id", ".json",
				   core->cfg.mount_time, err);
		json_decref(json);
		if (!obj)
			return -1;
		mpfs_cache_put(core->objects, key, obj);
	}
	if (!matches(&node->filter, obj)) {
		mpfs_obj_unref(obj);
		not_found(err, "sync in this view");
		return -1;
	}
	*out = obj;
	return 0;
}

/* ---- the calls fs.c makes ---- */

static int parse(const char *path, struct mpfs_node *node, struct mpfs_err *err)
{
	if (mpfs_path_parse(path, node) == 0)
		return 0;
	not_found(err, "path");
	return -1;
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
		return 0;
	}
	if (node.type != MPFS_NODE_ROOT &&
	    bucket_exists(core, node.bucket, err))
		return -1;
	if (node.type == MPFS_NODE_VIEW && view_exists(core, &node, err))
		return -1;
	dir_stat(core, st);
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
	char **grown;

	if (!obj->connection_id || !*obj->connection_id ||
	    tfind(obj->connection_id, &c->seen,
		  (int (*)(const void *, const void *))strcmp))
		return 0;
	if (mpfs_name_encode(obj->connection_id, name, sizeof(name)) >=
	    sizeof(name))
		return 0;
	grown = realloc(c->dir->names, (c->dir->count + 1) * sizeof(*grown));
	if (!grown || !(grown[c->dir->count] = strdup(name))) {
		if (grown)
			c->dir->names = grown;
		c->failed = 1;
		return 1;
	}
	c->dir->names = grown;
	tsearch(obj->connection_id, &c->seen,
		(int (*)(const void *, const void *))strcmp);
	c->dir->count++;
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
	static const char *const views[] = {"all", "active", "inactive",
					    "by-status", "by-connection"};
	struct mpfs_node node;
	struct mpfs_dir *dir;
	int r = 0;

	if (parse(path, &node, err))
		return -1;
	if (node.type == MPFS_NODE_SYNC) {
		mpfs_err_set(err, MPFS_E_INVALID, "not a directory");
		return -1;
	}
	dir = calloc(1, sizeof(*dir));
	if (!dir)
		goto nomem;
	*cached = node.type != MPFS_NODE_CONNS; /* fixed names */
	switch (node.type) {
	case MPFS_NODE_ROOT:
		if (core->cfg.buckets) {
			char name[MPFS_NAME_MAX + 1];

			for (char **b = core->cfg.buckets; *b && r == 0; b++) {
				mpfs_name_encode(*b, name, sizeof(name));
				r = add_name(dir, name);
			}
		} else {
			dir->listing = listing_of(core, NULL);
			dir->listing_dirs = 1;
			r = dir->listing ? 0 : -1;
		}
		break;
	case MPFS_NODE_BUCKET:
		for (size_t i = 0; i < 5 && r == 0; i++)
			r = add_name(dir, views[i]);
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
	free(dir);
}

int mpfs_core_readdir(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
		      mpfs_fill_fn fill, void *ctx, struct mpfs_err *err)
{
	struct stat st;
	int filled = 0;

	if (dir->failed) {
		dir->failed = 0;
		*err = dir->failure;
		return -1;
	}
	for (off_t i = off < 0 ? 0 : off;; i++) {
		struct mpfs_obj *obj = NULL;
		const char *name;
		int full;

		dir_stat(core, &st);
		if (i < 2) {
			name = i == 0 ? "." : "..";
			st.st_ino = 1; /* readdir(3) hides entries of inode 0 */
		} else if (!dir->listing) {
			if ((size_t)(i - 2) >= dir->count)
				return 0;
			name = dir->names[i - 2];
		} else {
			int r, complete;

			/* Entries in hand go out now; the next call waits. */
			if (i > 2 &&
			    (size_t)(i - 2) >=
				mpfs_listing_count(dir->listing, &complete) &&
			    !complete && i > off)
				return 0;
			r = mpfs_listing_get(dir->listing, (size_t)(i - 2),
					     &obj, err);

			if (r == 0) {
				report_skipped(dir->listing);
				return 0;
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
			name = obj->name;
			if (!dir->listing_dirs)
				file_stat(core, obj, &st);
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
	if (node.type != MPFS_NODE_SYNC) {
		mpfs_err_set(err, MPFS_E_INVALID, "is a directory");
		return -1;
	}
	return sync_obj(core, &node, obj, err);
}
