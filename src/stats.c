/* stats.c - process-wide counters (atomics) and the list of listings in
 * progress (one mutex, held only to link, unlink, update or copy). Renders
 * them with jansson for /.mixpeekfs/stats.json. Knows no FUSE and no API
 * shapes beyond the endpoint paths it sorts requests by.
 *
 * Lock order: list_lock only. */
#include "mpfs/stats.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "mpfs/clock.h"

#define KINDS (MPFS_E_INTERRUPTED + 1)

static atomic_ulong requests[MPFS_EP_COUNT];

/* The last minute's requests: a slot a second, each counting the second
 * it holds. */
#define MINUTE 60
static pthread_mutex_t minute_lock = PTHREAD_MUTEX_INITIALIZER;
static long minute_sec[MINUTE]; /* guarded by minute_lock */
static unsigned long minute_n[MINUTE][MPFS_EP_COUNT]; /* guarded too */
static atomic_ulong ops[MPFS_OP_COUNT];
static atomic_ulong retries, bytes, hits, misses, drops, pushed, pushed_bytes;
static atomic_ulong errors[KINDS];
static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mpfs_stats_listing *head; /* guarded by list_lock */

static const char *const ep_names[] = {
    [MPFS_EP_BUCKET_LIST] = "bucket_list",
    [MPFS_EP_BUCKET_GET] = "bucket_get",
    [MPFS_EP_SYNC_LIST] = "sync_list",
    [MPFS_EP_SYNC_GET] = "sync_get",
    [MPFS_EP_CONNECTION_LIST] = "connection_list",
    [MPFS_EP_CONNECTION_GET] = "connection_get",
    [MPFS_EP_OTHER] = "other",
};

static const char *const op_names[MPFS_OP_COUNT] = {
    [MPFS_OP_LOOKUP] = "lookup",     [MPFS_OP_FORGET] = "forget",
    [MPFS_OP_GETATTR] = "getattr",   [MPFS_OP_OPENDIR] = "opendir",
    [MPFS_OP_READDIR] = "readdir",   [MPFS_OP_OPEN] = "open",
    [MPFS_OP_READ] = "read",	     [MPFS_OP_READLINK] = "readlink",
    [MPFS_OP_GETXATTR] = "getxattr", [MPFS_OP_LISTXATTR] = "listxattr",
    [MPFS_OP_STATFS] = "statfs",
};

static const char *const kind_names[KINDS] = {
    [MPFS_OK] = "ok",
    [MPFS_E_NOT_FOUND] = "not_found",
    [MPFS_E_AUTH] = "auth",
    [MPFS_E_INVALID] = "invalid",
    [MPFS_E_TRANSPORT] = "transport",
    [MPFS_E_SERVER] = "server",
    [MPFS_E_MALFORMED] = "malformed",
    [MPFS_E_TOO_LARGE] = "too_large",
    [MPFS_E_NOMEM] = "nomem",
    [MPFS_E_NO_ATTR] = "no_attr",
    [MPFS_E_INTERRUPTED] = "interrupted",
};

/* The path's segments after /v1, up to the query: how many, and whether the
 * last is "list". */
enum mpfs_stats_endpoint mpfs_stats_endpoint_of(const char *method,
						const char *path)
{
	const char *p = path, *seg[5];
	size_t len[5];
	int n = 0, post = strcmp(method, "POST") == 0;

	if (strncmp(p, "/v1/", 4) != 0)
		return MPFS_EP_OTHER;
	p += 4;
	while (*p && *p != '?') {
		const char *e = p + strcspn(p, "/?");

		if (n == 5)
			return MPFS_EP_OTHER;
		seg[n] = p;
		len[n++] = (size_t)(e - p);
		p = *e == '/' ? e + 1 : e;
	}
#define IS(i, s) (len[i] == strlen(s) && strncmp(seg[i], s, len[i]) == 0)
	if (n >= 1 && IS(0, "buckets")) {
		if (n == 2 && post && IS(1, "list"))
			return MPFS_EP_BUCKET_LIST;
		if (n == 2 && !post)
			return MPFS_EP_BUCKET_GET;
		if (n == 4 && post && IS(2, "syncs") && IS(3, "list"))
			return MPFS_EP_SYNC_LIST;
		if (n == 4 && !post && IS(2, "syncs"))
			return MPFS_EP_SYNC_GET;
	} else if (n == 3 && IS(0, "organizations") && IS(1, "connections")) {
		if (post && IS(2, "list"))
			return MPFS_EP_CONNECTION_LIST;
		if (!post)
			return MPFS_EP_CONNECTION_GET;
	}
#undef IS
	return MPFS_EP_OTHER;
}

static void (*watcher)(void *ctx);
static void *watcher_ctx;
static atomic_int armed;
static atomic_ulong generation;

void mpfs_stats_watch(void (*fn)(void *ctx), void *ctx)
{
	watcher_ctx = ctx;
	watcher = fn;
}

unsigned long mpfs_stats_arm(void)
{
	atomic_store(&armed, 1);
	return atomic_load(&generation);
}

int mpfs_stats_unchanged(unsigned long gen)
{
	return atomic_load(&generation) == gen;
}

static void changed(void)
{
	atomic_fetch_add(&generation, 1);
	if (atomic_load(&armed) && atomic_exchange(&armed, 0) && watcher)
		watcher(watcher_ctx);
}

void mpfs_stats_request(const char *method, const char *path)
{
	enum mpfs_stats_endpoint ep = mpfs_stats_endpoint_of(method, path);
	long sec = (long)mpfs_clock_monotonic();
	int i = (int)(sec % MINUTE);

	atomic_fetch_add(&requests[ep], 1);
	pthread_mutex_lock(&minute_lock);
	if (minute_sec[i] != sec) {
		memset(minute_n[i], 0, sizeof(minute_n[i]));
		minute_sec[i] = sec;
	}
	minute_n[i][ep]++;
	pthread_mutex_unlock(&minute_lock);
	changed();
}

/* The requests of the last 60 seconds, by endpoint and in all. */
static json_t *last_minute(void)
{
	unsigned long n[MPFS_EP_COUNT] = {0}, total = 0;
	long now = (long)mpfs_clock_monotonic();
	json_t *o = json_object();

	pthread_mutex_lock(&minute_lock);
	for (int i = 0; i < MINUTE; i++)
		if (minute_sec[i] > now - MINUTE)
			for (int ep = 0; ep < MPFS_EP_COUNT; ep++)
				n[ep] += minute_n[i][ep];
	pthread_mutex_unlock(&minute_lock);
	for (int ep = 0; ep < MPFS_EP_COUNT; ep++) {
		total += n[ep];
		json_object_set_new(o, ep_names[ep],
				    json_integer((json_int_t)n[ep]));
	}
	json_object_set_new(o, "total", json_integer((json_int_t)total));
	return o;
}

void mpfs_stats_op(enum mpfs_stats_op op)
{
	atomic_fetch_add(&ops[op], 1);
	changed();
}

void mpfs_stats_changed(void)
{
	changed();
}

void mpfs_stats_push(size_t n)
{
	atomic_fetch_add(&pushed, 1);
	atomic_fetch_add(&pushed_bytes, n);
	changed();
}

void mpfs_stats_retry(void)
{
	atomic_fetch_add(&retries, 1);
	changed();
}

void mpfs_stats_error(enum mpfs_err_kind kind)
{
	if ((unsigned)kind < KINDS)
		atomic_fetch_add(&errors[kind], 1);
	changed();
}

void mpfs_stats_bytes(size_t n)
{
	atomic_fetch_add(&bytes, n);
	changed();
}

void mpfs_stats_cache(int hit)
{
	atomic_fetch_add(hit ? &hits : &misses, 1);
	changed();
}

void mpfs_stats_drop(void)
{
	atomic_fetch_add(&drops, 1);
	changed();
}

static void link_locked(struct mpfs_stats_listing *sl)
{
	if (sl->linked)
		return;
	sl->prev = NULL;
	sl->next = head;
	if (head)
		head->prev = sl;
	head = sl;
	sl->linked = 1;
}

static void unlink_locked(struct mpfs_stats_listing *sl)
{
	if (!sl->linked)
		return;
	if (sl->prev)
		sl->prev->next = sl->next;
	else
		head = sl->next;
	if (sl->next)
		sl->next->prev = sl->prev;
	sl->linked = 0;
}

void mpfs_stats_listing_fetch(struct mpfs_stats_listing *sl, const char *path)
{
	pthread_mutex_lock(&list_lock);
	if (!sl->path[0]) {
		snprintf(sl->path, sizeof(sl->path), "%s", path);
		sl->total = -1;
	}
	sl->fetching = 1;
	if (!sl->ended)
		link_locked(sl);
	pthread_mutex_unlock(&list_lock);
	changed();
}

void mpfs_stats_listing_page(struct mpfs_stats_listing *sl, int ok, long items,
			     long total)
{
	pthread_mutex_lock(&list_lock);
	sl->fetching = 0;
	if (ok) {
		sl->pages++;
		sl->items += items;
		if (total >= 0)
			sl->total = total;
	}
	pthread_mutex_unlock(&list_lock);
	changed();
}

void mpfs_stats_listing_end(struct mpfs_stats_listing *sl)
{
	pthread_mutex_lock(&list_lock);
	sl->ended = 1;
	unlink_locked(sl);
	pthread_mutex_unlock(&list_lock);
	changed();
}

static json_t *listings_json(void)
{
	json_t *list = json_array();

	pthread_mutex_lock(&list_lock);
	for (struct mpfs_stats_listing *sl = head; sl && list; sl = sl->next)
		json_array_append_new(
		    list,
		    json_pack("{s:s, s:I, s:I, s:o, s:b}", "path", sl->path,
			      "pages_done", (json_int_t)sl->pages, "items",
			      (json_int_t)sl->items, "total",
			      sl->total >= 0
				  ? json_integer((json_int_t)sl->total)
				  : json_null(),
			      "fetching", sl->fetching));
	pthread_mutex_unlock(&list_lock);
	return list;
}

static json_int_t get(atomic_ulong *a)
{
	return (json_int_t)atomic_load(a);
}

json_t *mpfs_stats_json(void)
{
	json_t *root = json_object(), *req = json_object(),
	       *err = json_object(), *op = json_object();
	json_int_t total = 0, failed = 0;

	if (!root || !req || !err || !op)
		goto fail;
	for (int i = 0; i < MPFS_OP_COUNT; i++)
		json_object_set_new(op, op_names[i],
				    json_integer(get(&ops[i])));
	for (int i = 0; i < MPFS_EP_COUNT; i++) {
		total += get(&requests[i]);
		json_object_set_new(req, ep_names[i],
				    json_integer(get(&requests[i])));
	}
	json_object_set_new(req, "total", json_integer(total));
	for (int i = 1; i <= MPFS_E_NOMEM; i++) { /* the API's kinds */
		failed += get(&errors[i]);
		json_object_set_new(err, kind_names[i],
				    json_integer(get(&errors[i])));
	}
	json_object_set_new(err, "total", json_integer(failed));
	/* calls given up because their caller went away: not the API's */
	json_object_set_new(err, "interrupted",
			    json_integer(get(&errors[MPFS_E_INTERRUPTED])));
	json_object_set_new(root, "requests", req);
	json_object_set_new(root, "requests_last_minute", last_minute());
	json_object_set_new(root, "retries", json_integer(get(&retries)));
	json_object_set_new(root, "errors", err);
	json_object_set_new(root, "cache",
			    json_pack("{s:I, s:I, s:I}", "hits", get(&hits),
				      "misses", get(&misses), "drops",
				      get(&drops)));
	json_object_set_new(root, "bytes_received", json_integer(get(&bytes)));
	json_object_set_new(root, "listings_in_progress", listings_json());
	json_object_set_new(root, "ops", op);
	json_object_set_new(root, "push",
			    json_pack("{s:I, s:I}", "files", get(&pushed),
				      "bytes", get(&pushed_bytes)));
	return root;
fail:
	json_decref(root);
	json_decref(req);
	json_decref(err);
	json_decref(op);
	return NULL;
}

void mpfs_stats_reset(void)
{
	for (int i = 0; i < MPFS_EP_COUNT; i++)
		atomic_store(&requests[i], 0);
	for (int i = 0; i < KINDS; i++)
		atomic_store(&errors[i], 0);
	for (int i = 0; i < MPFS_OP_COUNT; i++)
		atomic_store(&ops[i], 0);
	pthread_mutex_lock(&minute_lock);
	memset(minute_sec, 0, sizeof(minute_sec));
	memset(minute_n, 0, sizeof(minute_n));
	pthread_mutex_unlock(&minute_lock);
	atomic_store(&retries, 0);
	atomic_store(&bytes, 0);
	atomic_store(&hits, 0);
	atomic_store(&misses, 0);
	atomic_store(&drops, 0);
	atomic_store(&pushed, 0);
	atomic_store(&pushed_bytes, 0);
}
