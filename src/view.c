/* view.c - the listings of views: one filtered list call per directory,
 * paged by listing.c on threads of their own, cached for ttl and kept
 * stale for a failed refresh (whether a directory exists: names.c). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"
#include "mpfs/arena.h"
#include "mpfs/log.h"

/* ---- fetching ---- */

/* Tells stats.json how a view's paging goes: r is the fetch's result. */
static int counted(struct view *v, int r, const struct mpfs_page *page)
{
	if (r == 0)
		atomic_store(&v->fetched_ms, mpfs_wall_ms());
	mpfs_stats_listing_page(&v->stats, r == 0,
				r == 0 ? (long)json_array_size(page->items) : 0,
				r == 0 ? page->total : -1);
	return r;
}

static void view_ended(void *ctx, int complete)
{
	struct view *v = ctx;

	mpfs_stats_listing_end(&v->stats);
	if (complete)
		kernel_gone(v->core, v);
	mpfs_arenas_trim(); /* its pages' trees are gone */
}

static void view_release(void *ctx)
{
	struct view *v = ctx;

	view_ended(ctx, 0);
	free(v->stale);
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

/* A list call of a bucket's syncs answered 404: the bucket is gone, not
 * empty. The bucket list is asked again at the next look, and the
 * kernel's entry of the bucket taken back. */
static void bucket_gone(struct view *v, const struct mpfs_err *err)
{
	char name[MPFS_NAME_MAX + 1];

	mpfs_log(MPFS_LOG_WARN, "list %s: %s: the bucket is gone", v->path,
		 err->msg);
	mpfs_cache_drop(v->core->listings, "/");
	mpfs_file_name(v->bucket, "", name, sizeof(name));
	kernel_inval_entry(v->core, MPFS_ROOT_INO, name);
}

static int fetch_syncs(void *ctx, const struct mpfs_page_req *req,
		       struct mpfs_page *page, struct mpfs_err *err)
{
	struct view *v = ctx;
	int r;

	mpfs_stats_listing_fetch(&v->stats, v->path);
	r = mpfs_api_list_syncs(v->core->api, v->bucket, &v->filter, req, page,
				err);
	if (r && err->kind == MPFS_E_NOT_FOUND && err->http_status == 404)
		bucket_gone(v, err);
	return counted(v, r, page);
}

/* Runs a listing's page fetch on the mount's worker threads. */
static int spawn(void *ctx, void (*fn)(void *arg), void (*drop)(void *arg),
		 void *arg)
{
	struct view *v = ctx;

	return mpfs_pool_run(v->core->pool, fn, drop, arg);
}

const char *view_key(const struct mpfs_node *node, char *key, size_t size)
{
	struct mpfs_node c;
	char status[MPFS_NAME_MAX + 1];
	struct mpfs_terms t;
	int keys;

	if (!node) {
		snprintf(key, size, "/");
		return key;
	}
	c = *node;
	mpfs_filter_terms(&node->filter, &t);
	if (t.status) { /* every spelling of a status: one listing */
		mpfs_status_name(t.status, status, sizeof(status));
		t.status = status;
	}
	keys = !!t.status + !!t.conn + (t.is_active >= 0);
	if (keys > 1) {
		mpfs_where_name(&t, c.filter.value, sizeof(c.filter.value));
	} else {
		c.filter.kind = t.status	   ? MPFS_FILTER_STATUS
				: t.conn	   ? MPFS_FILTER_CONNECTION
				: t.is_active == 1 ? MPFS_FILTER_ACTIVE
				: t.is_active == 0 ? MPFS_FILTER_INACTIVE
						   : MPFS_FILTER_ALL;
		snprintf(c.filter.value, sizeof(c.filter.value), "%s",
			 t.status ? t.status
			 : t.conn ? t.conn
				  : "");
	}
	mpfs_view_path(&c, key, size);
	return key;
}

/* The filter a view sends: the node's, in the API's words. */
static void view_filter(struct view *v, const struct mpfs_node *node)
{
	struct mpfs_terms t;

	snprintf(v->bucket, sizeof(v->bucket), "%s", node->bucket);
	mpfs_filter_terms(&node->filter, &t);
	v->filter.is_active = t.is_active;
	if (t.status) {
		mpfs_status_api_value(t.status, v->status, sizeof(v->status));
		v->filter.status = v->status;
	}
	if (t.conn) {
		snprintf(v->conn, sizeof(v->conn), "%s", t.conn);
		v->filter.connection_id = v->conn;
	}
}

/* A bucket of the bucket list, rendered: its created_at is kept. */
static struct mpfs_obj *bucket_intern(void *ctx, struct mpfs_obj *obj)
{
	struct view *v = ctx;

	bucket_seen(v->core, obj);
	return mpfs_obj_ref(obj);
}

struct mpfs_listing *listing_of(struct mpfs_core *core,
				const struct mpfs_node *node)
{
	struct mpfs_listing_cfg cfg = {
	    .id_key = "sync_config_id",
	    .suffix = ".json",
	    .fetch = fetch_syncs,
	    .reuse = object_reuse,
	    .intern = object_intern,
	    .release = view_release,
	    .ended = view_ended,
	    .spawn = spawn,
	    .max_inflight = core->cfg.max_requests,
	    .first_limit =
		core->cfg.page_size ? core->cfg.page_size : MPFS_FIRST_PAGE,
	    .max_limit = core->cfg.page_size ? core->cfg.page_size : 1000,
	    .max_offset = 10000,
	};
	char key[PATH_SIZE], what[sizeof(key) + 16];
	struct mpfs_listing *l, *kept;
	struct view *v;

	l = mpfs_cache_get(core->listings, view_key(node, key, sizeof(key)));
	if (!l && core->cfg.ttl > 0) { /* past ttl from when it began: still
					* the view's copy? */
		l = mpfs_cache_get_stale(core->listings, key, NULL);
		if (l && !mpfs_listing_current(l, core->cfg.ttl)) {
			mpfs_listing_unref(l);
			l = NULL;
		}
	}
	mpfs_stats_cache(l != NULL);
	if (l)
		return l;

	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->core = core;
	v->filter.is_active = -1;
	if (node) {
		view_filter(v, node);
		cfg.fallback_mtime = bucket_created(core, node->bucket);
		/* "syncs of 'b1' by-status/failed": the view, from its key */
		snprintf(what, sizeof(what), "syncs of '%s' %s", node->bucket,
			 strchr(key + 1, '/') + 1);
	} else {
		cfg.id_key = "bucket_id";
		cfg.suffix = "";
		cfg.fetch = fetch_buckets;
		cfg.reuse = NULL;
		cfg.intern = bucket_intern;
		cfg.max_offset = LONG_MAX;
		snprintf(what, sizeof(what), "buckets");
	}
	snprintf(v->path, sizeof(v->path), "%s", key);
	v->ino = node ? mpfs_node_ino(node) : MPFS_ROOT_INO;
	cfg.ctx = v;
	cfg.what = what;
	l = mpfs_listing_new(&cfg);
	if (!l) {
		free(v);
		return NULL;
	}
	v->listing = l;
	kept = mpfs_cache_put_new(core->listings, key, l);
	mpfs_listing_unref(l);
	return kept;
}

void report_skipped(struct mpfs_listing *l)
{
	long n = mpfs_listing_take_skipped(l);

	if (n > 0)
		mpfs_log(MPFS_LOG_WARN,
			 "list %s: skipped %ld items without id (or with "
			 "one longer than 1024 bytes)",
			 mpfs_listing_what(l), n);
}

int each_entry(struct mpfs_listing *l,
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

/* ---- refreshes ---- */

/* The view a node is in: itself, or a sync's directory. */
static void view_of(const struct mpfs_node *node, struct mpfs_node *view)
{
	*view = *node;
	view->type = MPFS_NODE_VIEW;
	view->sync_id[0] = '\0';
}

struct mpfs_listing *view_listing(struct mpfs_core *core,
				  const struct mpfs_node *node)
{
	struct mpfs_node view;

	view_of(node, &view);
	return listing_of(core, &view);
}

int view_listed(struct mpfs_core *core, const struct mpfs_node *node)
{
	struct mpfs_node view;
	struct mpfs_listing *l;
	char key[PATH_SIZE];
	int complete = 0;
	size_t n = 0;

	view_of(node, &view);
	l = mpfs_cache_get_stale(core->listings,
				 view_key(&view, key, sizeof(key)), NULL);
	if (l)
		n = mpfs_listing_count(l, &complete);
	mpfs_listing_unref(l);
	return n > 0 || complete;
}

/* ---- stale copies ---- */

/* Whether stale data may stand in for a failed refresh: the API could not
 * be asked or answered badly; not when it said no (404, 401, 422). */
int stale_ok(const struct mpfs_err *err)
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

static pthread_mutex_t stale_lock = PTHREAD_MUTEX_INITIALIZER;

void log_stale(const char *what, const struct mpfs_err *err, double age,
	       stale_slot *slot)
{
	char why[sizeof(err->op) + sizeof(err->msg) + 2];

	snprintf(why, sizeof(why), "%s: %s", err->op, err->msg);
	mpfs_log(MPFS_LOG_WARN, "%s: %s; serving what was fetched %.0f s ago",
		 what, why, age);
	pthread_mutex_lock(&stale_lock);
	if (!*slot || strcmp(*slot, why) != 0) {
		free(*slot);
		*slot = strdup(why); /* (none when out of memory) */
	}
	pthread_mutex_unlock(&stale_lock);
}

void stale_clear(stale_slot *slot)
{
	char *old;

	if (!atomic_load(slot)) /* every object a refresh lists again */
		return;
	pthread_mutex_lock(&stale_lock);
	old = atomic_exchange(slot, NULL);
	pthread_mutex_unlock(&stale_lock);
	free(old);
}

char *stale_copy(const stale_slot *slot)
{
	char *copy;

	pthread_mutex_lock(&stale_lock);
	copy = *slot ? strdup(*slot) : NULL;
	pthread_mutex_unlock(&stale_lock);
	return copy;
}

void view_age(struct mpfs_core *core, const char *key, long long *fetched_ms,
	      char **stale)
{
	struct mpfs_listing *l =
	    mpfs_cache_get_stale(core->listings, key, NULL);
	struct view *v = l ? mpfs_listing_ctx(l) : NULL;

	*fetched_ms = v ? atomic_load(&v->fetched_ms) : 0;
	*stale = NULL;
	if (!*fetched_ms) { /* a refresh whose first page never came */
		mpfs_listing_unref(l);
		l = mpfs_cache_get_replaced(core->listings, key, NULL);
		v = l ? mpfs_listing_ctx(l) : NULL;
		if (v) {
			*fetched_ms = atomic_load(&v->fetched_ms);
			*stale = stale_copy(&v->stale);
		}
	}
	mpfs_listing_unref(l);
}

struct mpfs_listing *stale_listing(struct mpfs_core *core, const char *key,
				   const struct mpfs_err *err)
{
	struct mpfs_listing *l;
	double age;

	if (!stale_ok(err))
		return NULL;
	l = mpfs_cache_get_replaced(core->listings, key, &age);
	if (l && !servable(core, age)) {
		mpfs_listing_unref(l);
		return NULL;
	}
	if (l)
		log_stale(mpfs_listing_what(l), err, age,
			  &((struct view *)mpfs_listing_ctx(l))->stale);
	return l;
}
