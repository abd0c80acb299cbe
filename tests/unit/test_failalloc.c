/* Every allocation failure point of rendering, the cache, a page's parse,
 * a listing and the command line, walked one by one (failalloc.h): each ends in
 * a clean out-of-memory error or in the right result, never in a crash, a leak,
 * a wrong value or a listing short of an item. Run under ASan by the sanitized
 * suite. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "failalloc.h"
#include "mpfs/api.h"
#include "mpfs/cache.h"
#include "mpfs/listing.h"
#include "mpfs/opts.h"
#include "mpfs/render.h"
#include "spawn.h"

#define FAIL(...)                                                              \
	do {                                                                   \
		snprintf(why, (size_t)size, __VA_ARGS__);                      \
		return -1;                                                     \
	} while (0)

/* An allocation failure must say so, and only when one failed. */
static int nomem_ok(const struct mpfs_err *err)
{
	return err->kind == MPFS_E_NOMEM && fa_failed();
}

/* ---- render ---- */

static const char sync_json[] =
    "{\"sync_config_id\":\"sync/1\",\"bucket_id\":\"b1\",\"connection_id\":"
    "\"conn_s3\",\"status\":\"FAILED\",\"is_active\":true,\"last_error\":"
    "{\"code\":7,\"why\":[\"a\",null]},\"created_at\":\"2025-01-02T03:04:"
    "05.5Z\",\"updated_at\":\"2025-02-03T04:05:06Z\",\"u\":\"\\u00fc\"}";

static int render_scenario(void *ctx, char *why, int size)
{
	const char *want = ctx;
	struct mpfs_obj *obj, *live;
	struct mpfs_err err;
	json_t *json = json_loadb(sync_json, strlen(sync_json), 0, NULL);
	size_t len;
	char *text;

	if (!json)
		return 0; /* the parse's own failure: nothing made */
	mpfs_err_clear(&err);
	obj = mpfs_obj_new(json, "sync_config_id", ".json", 1, 0, &err);
	if (!obj && !nomem_ok(&err))
		FAIL("mpfs_obj_new failed with '%s'", err.msg);
	if (obj &&
	    (strcmp(obj->data, want) || strcmp(obj->name, "sync%2F1.json") ||
	     strcmp(obj->status, "FAILED") ||
	     strcmp(obj->connection_id, "conn_s3") ||
	     strcmp(obj->last_error, "{\"code\":7,\"why\":[\"a\",null]}") ||
	     obj->is_active != 1 || obj->mtime.tv_sec != 1738555506))
		FAIL("an object rendered wrong: %s", obj->data);
	mpfs_obj_unref(obj);

	mpfs_err_clear(&err);
	live = mpfs_obj_new_live(json, "stats.json", 1, &err);
	if (!live && !nomem_ok(&err))
		FAIL("mpfs_obj_new_live failed with '%s'", err.msg);
	if (live && strcmp(live->data, want))
		FAIL("a live file rendered wrong: %s", live->data);
	mpfs_obj_unref(live);

	text = mpfs_render_json(json, &len);
	if (text && (len != strlen(want) || strcmp(text, want)))
		FAIL("mpfs_render_json gave %s", text);
	free(text);
	json_decref(json);
	return 0;
}

static void test_render(void)
{
	json_t *json = json_loads(sync_json, 0, NULL);
	size_t len;
	char *want = mpfs_render_json(json, &len);

	json_decref(json);
	CHECK(want != NULL);
	CHECK(fa_walk("render", render_scenario, want, 0) > 20);
	CHECK(fa_walk("render", render_scenario, want, 1) > 20);
	free(want);
}

/* ---- cache ---- */

struct val {
	int refs;
	char key[8];
};

static void *val_ref(void *v)
{
	((struct val *)v)->refs++;
	return v;
}

static void val_unref(void *v)
{
	struct val *x = v;

	if (x && --x->refs == 0)
		free(x);
}

static struct val *val_new(const char *key)
{
	struct val *v = malloc(sizeof(*v));

	if (v) {
		v->refs = 1;
		snprintf(v->key, sizeof(v->key), "%s", key);
	}
	return v;
}

static double clock_now;

static double test_clock(void)
{
	return clock_now;
}

/* A value had from the cache is the one of its key, or none. */
static int right(struct val *v, const char *key)
{
	int ok = !v || strcmp(v->key, key) == 0;

	val_unref(v);
	return ok;
}

static int cache_scenario(void *ctx, char *why, int size)
{
	static const struct mpfs_cache_ops ops = {val_ref, val_unref, NULL,
						  NULL};
	struct mpfs_cache *c;
	char key[8];
	double age;

	(void)ctx;
	clock_now = 0;
	c = mpfs_cache_new(10, &ops, test_clock);
	if (!c)
		return 0;
	mpfs_cache_set_grace(c, 100);
	/* Enough keys to grow the map, some of them twice. */
	for (int i = 0; i < 80; i++) {
		struct val *v, *got;

		snprintf(key, sizeof(key), "k%d", i % 60);
		v = val_new(key);
		if (!v)
			continue;
		got = mpfs_cache_put_new(c, key, v);
		if (!right(got, key))
			FAIL("put_new of %s gave another key's value", key);
		val_unref(v);
		clock_now += 0.1;
	}
	for (int i = 0; i < 60; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (!right(mpfs_cache_get(c, key), key))
			FAIL("get of %s gave another key's value", key);
	}
	/* Replaced values kept for their grace, then expired ones. */
	for (int i = 0; i < 10; i++) {
		struct val *v;

		snprintf(key, sizeof(key), "k%d", i);
		v = val_new(key);
		if (v && !right(mpfs_cache_put(c, key, v), key))
			FAIL("put of %s gave another key's value", key);
		val_unref(v);
		if (!right(mpfs_cache_get_replaced(c, key, &age), key))
			FAIL("get_replaced of %s gave another's", key);
	}
	clock_now += 50;
	for (int i = 0; i < 20; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		if (mpfs_cache_get(c, key))
			FAIL("%s fresh after its ttl", key);
		if (!right(mpfs_cache_get_stale(c, key, &age), key))
			FAIL("get_stale of %s gave another's", key);
	}
	mpfs_cache_drop(c, "k3");
	for (int i = 0; i < 5; i++)
		mpfs_cache_evict_oldest(c);
	mpfs_cache_clear(c);
	if (mpfs_cache_count(c, NULL) != 0)
		FAIL("entries left after clear");
	mpfs_cache_free(c);
	return 0;
}

static void test_cache(void)
{
	CHECK(fa_walk("cache", cache_scenario, NULL, 0) > 20);
	CHECK(fa_walk("cache", cache_scenario, NULL, 1) > 20);
}

/* ---- a listing over pages parsed as the API sends them ---- */

#define ITEMS 40

struct api {
	long max_offset;
	int ahead; /* pages fetched ahead on threads, at most */
};

static const char *id_of(int i, char *buf, size_t size)
{
	snprintf(buf, size, "s%02d", i);
	return buf;
}

/* A list answer: items from start, an item without an id at 13, a cursor
 * (the index to go on at) on every page with more after it. */
static int fetch(void *ctx, const struct mpfs_page_req *req,
		 struct mpfs_page *page, struct mpfs_err *err)
{
	long start = req->cursor ? atol(req->cursor) : req->offset, i;
	char body[8192], id[8];
	size_t len;

	(void)ctx;
	len = (size_t)snprintf(body, sizeof(body), "{\"results\":[");
	for (i = start; i < ITEMS && i < start + req->limit; i++) {
		if (i == 13)
			len += (size_t)snprintf(body + len, sizeof(body) - len,
						"%s{\"other\":1}",
						i > start ? "," : "");
		else
			len += (size_t)snprintf(
			    body + len, sizeof(body) - len,
			    "%s{\"sync_config_id\":\"%s\",\"status\":"
			    "\"ACTIVE\",\"n\":%ld}",
			    i > start ? "," : "", id_of((int)i, id, sizeof(id)),
			    i);
	}
	len += (size_t)snprintf(body + len, sizeof(body) - len,
				"],\"pagination\":{\"total\":%d", ITEMS);
	if (i < ITEMS)
		len += (size_t)snprintf(body + len, sizeof(body) - len,
					",\"next_cursor\":\"%ld\"", i);
	len += (size_t)snprintf(body + len, sizeof(body) - len, "}}");
	return mpfs_page_parse(body, len, page, err);
}

/* Reads the listing from index 0 on; 0 at its end, -1 with err set. */
static int read_all(struct mpfs_listing *l, char *out, size_t size,
		    struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	size_t len = 0;
	int r;

	out[0] = '\0';
	for (size_t i = 0; (r = mpfs_listing_get(l, i, &obj, err)) == 1; i++) {
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					i ? " " : "", obj->id);
		mpfs_obj_unref(obj);
	}
	return r;
}

static int listing_scenario(void *ctx, char *why, int size)
{
	struct api *a = ctx;
	struct mpfs_listing_cfg cfg = {
	    .fetch = fetch,
	    .spawn = a->ahead ? spawn : NULL,
	    .max_inflight = a->ahead,
	    .ctx = a,
	    .id_key = "sync_config_id",
	    .suffix = ".json",
	    .first_limit = 4,
	    .max_limit = 8,
	    .max_offset = a->max_offset,
	    .what = "failalloc",
	};
	char got[1024], want[1024], id[8];
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	struct mpfs_err err;
	size_t len = 0;
	int r, tries = 0;

	for (int i = 0; i < ITEMS; i++)
		if (i != 13)
			len += (size_t)snprintf(want + len, sizeof(want) - len,
						"%s%s", len ? " " : "",
						id_of(i, id, sizeof(id)));
	l = mpfs_listing_new(&cfg);
	if (!l)
		return 0;
	/* A failed page is tried again by the next read, which must then
	 * come to the whole listing: nothing lost, nothing twice. */
	while ((r = read_all(l, got, sizeof(got), &err)) < 0) {
		if (!nomem_ok(&err))
			FAIL("the listing failed with '%s'", err.msg);
		fa_disarm();
		if (++tries > 3)
			FAIL("the listing failed again after memory came back");
	}
	if (strcmp(got, want))
		FAIL("the listing read '%s'", got);
	r = mpfs_listing_find(l, "s07", &obj, &err);
	if (r != 1 || strcmp(obj->id, "s07"))
		FAIL("s07 not found in the listing");
	mpfs_obj_unref(obj);
	if (mpfs_listing_take_skipped(l) != 1)
		FAIL("the item without an id not counted as skipped");
	mpfs_listing_unref(l);
	settle();
	return 0;
}

static void test_listing(void)
{
	struct api by_offset = {.max_offset = 10000};
	struct api by_cursor = {.max_offset = 10}; /* the cursor past 10 */
	struct api ahead = {.max_offset = 20, .ahead = 3};

	CHECK(fa_walk("listing by offset", listing_scenario, &by_offset, 0) >
	      50);
	CHECK(fa_walk("listing by offset", listing_scenario, &by_offset, 1) >
	      50);
	CHECK(fa_walk("listing by cursor", listing_scenario, &by_cursor, 0) >
	      50);
	CHECK(fa_walk("listing by cursor", listing_scenario, &by_cursor, 1) >
	      50);
	/* Which allocation is the N-th depends on the threads' order here:
	 * every run must still end clean. */
	CHECK(fa_walk("listing fetched ahead", listing_scenario, &ahead, 0) >
	      50);
	CHECK(fa_walk("listing fetched ahead", listing_scenario, &ahead, 1) >
	      50);
}

/* ---- the command line ---- */

static int opts_scenario(void *ctx, char *why, int size)
{
	static const char *const want[] = {"b1", "b2", "b3"};
	char prog[] = "mixpeekfs", o_[] = "-o",
	     opt[] = "buckets=b1:b2:b3,ttl=5", ns[] = "ns", mnt[] = "/mnt";
	char *argv[] = {prog, o_, opt, ns, mnt, NULL};
	struct fuse_args args = FUSE_ARGS_INIT(5, argv);
	struct mpfs_opts o = {0};
	int r;

	(void)ctx;
	setenv("MIXPEEK_API_KEY", "key", 1);
	setenv("MIXPEEK_API_URL", "http://127.0.0.1:1", 1);
	r = mpfs_opts_parse(&args, &o);
	if (r == 0)
		r = mpfs_opts_check(&o);
	if (r && !fa_failed())
		FAIL("the command line refused without a failed allocation");
	if (r == 0) {
		/* Every bucket, never a list shortened by a failure. */
		for (int i = 0; i < 3; i++)
			if (!o.bucket_list[i] ||
			    strcmp(o.bucket_list[i], want[i]))
				FAIL("buckets= read as something else");
		if (o.bucket_list[3] || strcmp(o.key, "key") ||
		    strcmp(o.namespace, "ns") || o.ttl_s != 5 ||
		    strcmp(o.api_url, "http://127.0.0.1:1"))
			FAIL("the command line read wrong");
	}
	mpfs_opts_release(&o);
	fuse_opt_free_args(&args);
	return 0;
}

static void test_opts(void)
{
	CHECK(fa_walk("command line", opts_scenario, NULL, 0) >= 8);
	CHECK(fa_walk("command line", opts_scenario, NULL, 1) >= 8);
	unsetenv("MIXPEEK_API_URL");
}

int main(void)
{
	test_render();
	test_cache();
	test_listing();
	test_opts();
	return check_done();
}
