/* The paging state machine, driven by a scripted fetch callback. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "mpfs/listing.h"
#include "spawn.h"

/* A scripted API: ids[] in order; offset pages up to max_offset, a cursor
 * (the index to continue at) on every page that has more after it. */
struct script {
	const char *ids[64];
	int n;
	int calls;
	long limits[32];
	long offsets[32];
	int urgent[32];
	int cursor_calls;
	int fail_call;	    /* this call number fails (1-based), 0: none */
	int drift_after;    /* after this call, insert "new" at the front */
	int repeat_cursor;  /* serve the same cursor forever */
	int no_cursor;	    /* never send a cursor */
	long fail_offset;   /* the offset page at this offset fails */
	int interrupt_call; /* this call gives up: its caller went away */
	int hold_call;	    /* this call waits for go, having set held */
	int held, go;
	/* offset pages from 6 up to this bound wait until the page crossing
	 * it has been asked for (or for 10 s: then the test fails) */
	long wait_crossing;
	int crossed;
	/* offset pages from 3 that do not cross this bound, and the crossing
	 * page's renderings, wait until a cursor page has been asked for (or
	 * for 10 s: then waited_out is set) */
	long wait_cursor;
	int waited_out;
	pthread_cond_t cond;
	pthread_mutex_t lock;
};

/* Waits, lock held, until a cursor page has been asked for. */
static void wait_for_cursor(struct script *s)
{
	struct timespec deadline;

	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 10;
	while (!s->cursor_calls)
		if (pthread_cond_timedwait(&s->cond, &s->lock, &deadline)) {
			s->waited_out = 1;
			break;
		}
}

static int fetch(void *ctx, const struct mpfs_page_req *req,
		 struct mpfs_page *page, struct mpfs_err *err)
{
	struct script *s = ctx;
	long start = req->cursor ? atol(req->cursor) : req->offset;
	long i;
	char buf[32];

	pthread_mutex_lock(&s->lock);
	s->calls++;
	if (s->calls <= 32) {
		s->limits[s->calls - 1] = req->limit;
		s->offsets[s->calls - 1] = req->cursor ? -1 : req->offset;
		s->urgent[s->calls - 1] = req->urgent;
	}
	s->cursor_calls += req->cursor != NULL;
	if (req->cursor)
		pthread_cond_broadcast(&s->cond);
	if (s->calls == s->fail_call ||
	    (!req->cursor && s->fail_offset && req->offset == s->fail_offset)) {
		pthread_mutex_unlock(&s->lock);
		mpfs_err_set(err, MPFS_E_SERVER, "scripted failure");
		return -1;
	}
	if (s->wait_crossing && !req->cursor &&
	    req->offset + req->limit > s->wait_crossing) {
		s->crossed = 1;
		pthread_cond_broadcast(&s->cond);
	} else if (s->wait_crossing && !req->cursor && req->offset >= 6) {
		struct timespec deadline;

		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 10;
		while (!s->crossed && pthread_cond_timedwait(&s->cond, &s->lock,
							     &deadline) == 0)
			;
	}
	if (s->wait_cursor && !req->cursor && req->offset >= 3 &&
	    req->offset + req->limit <= s->wait_cursor)
		wait_for_cursor(s);
	if (s->calls == s->hold_call) {
		s->held = 1;
		pthread_cond_broadcast(&s->cond);
		while (!s->go)
			pthread_cond_wait(&s->cond, &s->lock);
	}
	if (s->calls == s->interrupt_call) {
		pthread_mutex_unlock(&s->lock);
		mpfs_err_set(err, MPFS_E_INTERRUPTED, "interrupted");
		return -1;
	}
	page->items = json_array();
	page->next_cursor = NULL;
	page->total = s->n;
	for (i = start; i < s->n && i < start + req->limit; i++) {
		json_t *item =
		    s->ids[i] ? json_pack("{s:s}", "sync_config_id", s->ids[i])
			      : json_pack("{s:s}", "other", "x");
		json_array_append_new(page->items, item);
	}
	if (i < s->n && !s->no_cursor) {
		snprintf(buf, sizeof(buf), "%ld", s->repeat_cursor ? 1L : i);
		page->next_cursor = strdup(buf);
	}
	if (s->calls == s->drift_after) {
		memmove(&s->ids[1], &s->ids[0],
			(size_t)s->n * sizeof(s->ids[0]));
		s->ids[0] = "new";
		s->n++;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The crossing page's renderings wait for the first cursor page. */
static struct mpfs_obj *intern_after_cursor(void *ctx, struct mpfs_obj *obj)
{
	struct script *s = ctx;

	pthread_mutex_lock(&s->lock);
	if (atoi(obj->id + 1) >= s->wait_cursor)
		wait_for_cursor(s);
	pthread_mutex_unlock(&s->lock);
	return mpfs_obj_ref(obj);
}

/* A listing over the script; inflight > 0: pages fetched ahead on threads. */
static struct mpfs_listing *make(struct script *s, long first, long max,
				 long max_offset, int inflight)
{
	struct mpfs_listing_cfg cfg = {
	    .fetch = fetch,
	    .intern = s->wait_cursor ? intern_after_cursor : NULL,
	    .spawn = inflight ? spawn : NULL,
	    .max_inflight = inflight,
	    .ctx = s,
	    .id_key = "sync_config_id",
	    .suffix = ".json",
	    .first_limit = first,
	    .max_limit = max,
	    .max_offset = max_offset,
	    .what = "test",
	};
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return mpfs_listing_new(&cfg);
}

static struct mpfs_listing *listing(struct script *s, long first, long max,
				    long max_offset)
{
	return make(s, first, max, max_offset, 0);
}

static struct mpfs_listing *parallel(struct script *s, long first, long max,
				     long max_offset, int inflight)
{
	return make(s, first, max, max_offset, inflight);
}

static void fill(struct script *s, int n)
{
	static char names[64][8];

	s->n = n;
	for (int i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "s%02d", i);
		s->ids[i] = names[i];
	}
}

/* Reads the whole listing into a space-separated string. */
static int read_all(struct mpfs_listing *l, char *out, size_t size)
{
	struct mpfs_obj *obj;
	struct mpfs_err err;
	size_t len = 0;
	int r;

	out[0] = '\0';
	for (size_t i = 0; (r = mpfs_listing_get(l, i, &obj, &err)) == 1; i++) {
		len += (size_t)snprintf(out + len, size - len, "%s%s",
					i ? " " : "", obj->id);
		mpfs_obj_unref(obj);
	}
	return r;
}

static void test_lazy(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	struct mpfs_err err;
	int complete;

	fill(&s, 25);
	l = listing(&s, 5, 5, 10000);
	CHECK(mpfs_listing_get(l, 0, &obj, &err) == 1);
	CHECK_STR(obj->id, "s00");
	mpfs_obj_unref(obj);
	CHECK(s.calls == 1);
	CHECK(mpfs_listing_get(l, 4, &obj, &err) == 1);
	mpfs_obj_unref(obj);
	CHECK(s.calls == 1);
	CHECK(mpfs_listing_get(l, 5, &obj, &err) == 1);
	mpfs_obj_unref(obj);
	CHECK(s.calls == 2 && s.offsets[1] == 5);
	CHECK(mpfs_listing_count(l, &complete) == 10 && !complete);
	/* 25 items in pages of 5: the sixth, empty page ends it. */
	CHECK(mpfs_listing_get(l, 25, &obj, &err) == 0);
	CHECK(s.calls == 6);
	CHECK(mpfs_listing_count(l, &complete) == 25 && complete);
	CHECK(mpfs_listing_get(l, 3, &obj, &err) == 1 && s.calls == 6);
	mpfs_obj_unref(obj);
	mpfs_listing_unref(l);
}

static void test_growth_and_short_page(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024];

	fill(&s, 37);
	s.no_cursor = 1;
	l = listing(&s, 2, 20, 10000);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	/* 2, then 20 (grown x10, capped), then 20: short page ends it. */
	CHECK(s.calls == 3);
	CHECK(s.limits[0] == 2 && s.limits[1] == 20 && s.limits[2] == 20);
	CHECK(s.offsets[2] == 22);
	CHECK(strncmp(all, "s00 s01 s02", 11) == 0);
	mpfs_listing_unref(l);
}

static void test_cursor_past_offset_limit(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024];
	size_t len = 0;

	fill(&s, 50);
	for (int i = 0; i < 50; i++)
		len += (size_t)snprintf(want + len, sizeof(want) - len, "%s%s",
					i ? " " : "", s.ids[i]);
	l = listing(&s, 10, 10, 20);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, want);
	/* offsets 0, 10, 20 (the bound itself), then the cursor */
	CHECK(s.offsets[2] == 20 && s.offsets[3] == -1);
	CHECK(s.cursor_calls == 2);
	mpfs_listing_unref(l);

	/* Past the bound without a cursor while the total says more remain:
	 * an error, not a short listing, and it stays one. */
	memset(&s, 0, sizeof(s));
	fill(&s, 50);
	s.no_cursor = 1;
	l = listing(&s, 10, 10, 20);
	CHECK(read_all(l, all, sizeof(all)) < 0);
	CHECK(s.calls == 3);
	CHECK(read_all(l, all, sizeof(all)) < 0);
	CHECK(s.calls == 3);
	mpfs_listing_unref(l);

	/* A listing that ends just past the bound: no cursor, nothing more. */
	memset(&s, 0, sizeof(s));
	fill(&s, 30);
	l = listing(&s, 10, 10, 15);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK(s.calls == 3);
	CHECK(mpfs_listing_count(l, NULL) == 30);
	mpfs_listing_unref(l);
}

static void test_repeated_cursor(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024];

	fill(&s, 50);
	s.repeat_cursor = 1;
	l = listing(&s, 10, 10, 0);
	CHECK(read_all(l, all, sizeof(all)) < 0);
	CHECK(s.calls == 2);
	CHECK(read_all(l, all, sizeof(all)) < 0);
	CHECK(s.calls == 2);
	mpfs_listing_unref(l);
}

static void test_drift_and_duplicates(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024];

	fill(&s, 12);
	s.drift_after = 1; /* "new" pushes s04 onto the second page too */
	s.no_cursor = 1;
	l = listing(&s, 5, 5, 10000);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, "s00 s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 s11");
	/* s04 on two pages is drift, not a duplicate */
	CHECK(mpfs_listing_duplicates(l, all, sizeof(all)) == 0);
	mpfs_listing_unref(l);
}

/* An id twice or more within one page is shown once and counted once. */
static void test_duplicates_within_a_page(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], first[64];

	fill(&s, 8);
	s.ids[2] = s.ids[3] = s.ids[5] = "x";
	l = listing(&s, 10, 10, 10000);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, "s00 s01 x s04 s06 s07");
	CHECK(mpfs_listing_duplicates(l, first, sizeof(first)) == 1);
	CHECK_STR(first, "x");
	mpfs_listing_unref(l);
}

/* Pages fetched ahead overlap the page before (2 items at a limit of 20):
 * a pair in the overlap is on both pages, and counted once; a pair whose
 * first copy ends a page is a duplicate of the next page only. Neither is
 * the overlap's own repetition, which is no duplicate. */
static void test_duplicates_across_overlapping_pages(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024], first[64];
	size_t len = 0;

	fill(&s, 60);
	s.ids[21] = s.ids[22] = "dupA"; /* pages [3,23) and [21,41) */
	s.ids[40] = s.ids[41] = "dupB"; /* [21,41) has one, [39,59) both */
	l = parallel(&s, 5, 20, 10000, 3);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	/* each id once, at its first place */
	for (int i = 0; i < 60; i++)
		if (i != 22 && i != 41)
			len +=
			    (size_t)snprintf(want + len, sizeof(want) - len,
					     "%s%s", len ? " " : "", s.ids[i]);
	CHECK_STR(all, want);
	CHECK(s.calls == 5); /* offsets 0, 3, 21, 39, 57 */
	CHECK(mpfs_listing_duplicates(l, first, sizeof(first)) == 2);
	CHECK_STR(first, "dupA");
	mpfs_listing_unref(l);
}

static void test_failure_then_retry(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	struct mpfs_err err;
	char all[1024];

	fill(&s, 12);
	s.fail_call = 2;
	l = listing(&s, 5, 5, 10000);
	CHECK(mpfs_listing_get(l, 4, &obj, &err) == 1);
	mpfs_obj_unref(obj);
	CHECK(mpfs_listing_get(l, 5, &obj, &err) == -1 &&
	      err.kind == MPFS_E_SERVER);
	CHECK(mpfs_listing_count(l, NULL) == 5);
	/* The same page is asked again; nothing is lost or doubled. */
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, "s00 s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 s11");
	CHECK(s.offsets[2] == 5);
	mpfs_listing_unref(l);
}

static void test_items_without_id(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024];

	fill(&s, 6);
	s.ids[1] = NULL;
	s.ids[4] = NULL;
	l = listing(&s, 10, 10, 10000);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, "s00 s02 s03 s05");
	CHECK(mpfs_listing_take_skipped(l) == 2);
	CHECK(mpfs_listing_take_skipped(l) == 0);
	mpfs_listing_unref(l);
}

/* What the kernel read through a directory is the listing's content when
 * the same directory opened the complete listing before; another directory
 * sharing the listing has no such copy. */
static void test_reopen_by_directory(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[256];

	fill(&s, 3);
	l = listing(&s, 10, 10, 10000);
	CHECK(mpfs_listing_reopen(l, 7) == 0);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK(mpfs_listing_reopen(l, 7) == 1);
	CHECK(mpfs_listing_reopen(l, 8) == 0); /* another spelling */
	CHECK(mpfs_listing_reopen(l, 8) == 1);
	CHECK(mpfs_listing_reopen(l, 7) == 1);
	for (uint64_t d = 20; d < 24; d++) /* four more: 7 and 8 are out */
		CHECK(mpfs_listing_reopen(l, d) == 0);
	CHECK(mpfs_listing_reopen(l, 7) == 0);
	mpfs_listing_unref(l);
}

static void test_empty(void)
{
	struct script s = {0};
	struct mpfs_listing *l = listing(&s, 10, 10, 10000);
	struct mpfs_obj *obj;
	struct mpfs_err err;

	CHECK(mpfs_listing_get(l, 0, &obj, &err) == 0);
	CHECK(s.calls == 1);
	CHECK(mpfs_listing_get(l, 0, &obj, &err) == 0 && s.calls == 1);
	mpfs_listing_unref(l);
}

static void want_all(struct script *s, char *want, size_t size)
{
	size_t len = 0;

	for (int i = 0; i < s->n; i++)
		len += (size_t)snprintf(want + len, size - len, "%s%s",
					i ? " " : "", s->ids[i]);
}

static void test_parallel(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	struct mpfs_err err;
	char all[1024], want[1024];

	fill(&s, 60);
	want_all(&s, want, sizeof(want));
	l = parallel(&s, 5, 10, 10000, 3);
	/* The first page, then one page read ahead: no more. */
	CHECK(mpfs_listing_get(l, 0, &obj, &err) == 1);
	mpfs_obj_unref(obj);
	settle();
	CHECK(s.calls == 2);
	/* Reading on fetches the rest, several at once, merged in order. */
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	CHECK_STR(all, want);
	/* 5, then pages of 10 reaching one item back (offsets 4, 13, ...,
	 * 58): the last is short, nothing more */
	CHECK(s.calls == 1 + 7);
	CHECK(s.cursor_calls == 0);
	mpfs_listing_unref(l);
}

static void test_parallel_then_cursor(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024];

	fill(&s, 64);
	want_all(&s, want, sizeof(want));
	l = parallel(&s, 4, 10, 20, 8);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	CHECK_STR(all, want);
	/* offsets 0 (4), 3, 12 (within the bound 20), then 22..63 by cursor */
	CHECK(s.calls == 3 + 5);
	CHECK(s.cursor_calls == 5);
	mpfs_listing_unref(l);
}

/* The pages readers or the cursor chain wait for are urgent (parsed
 * first). The page that crosses the offset bound is fetched in the first
 * wave, whatever its place, and the chain goes on from it. */
static void test_urgent_and_the_chain_first(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024];
	int crossing = -1, first_cursor = -1;

	fill(&s, 64);
	want_all(&s, want, sizeof(want));
	/* offsets 0, 3, 6, ..., 27, 30 (reaching past the bound, 30), then
	 * by cursor: pages of 4, two fetched at once. The reader, which
	 * fetches the pages it reaches itself, waits at offset 6 for the
	 * crossing page, whose thread may be slow to start. */
	s.wait_crossing = 30;
	l = parallel(&s, 4, 4, 30, 2);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	CHECK_STR(all, want);
	CHECK(s.urgent[0] == 1);
	for (int i = 1; i < s.calls && i < 32; i++) {
		int crosses =
		    s.offsets[i] >= 0 && s.offsets[i] + s.limits[i] > 30;

		if (crosses)
			crossing = i;
		else if (s.offsets[i] == -1 && first_cursor < 0)
			first_cursor = i;
		if (s.offsets[i] == -1 || crosses)
			CHECK(s.urgent[i] == 1);
	}
	/* after the first page and the one read ahead, in the first wave of
	 * two (threads record their calls in either order), not tenth */
	CHECK(crossing >= 1 && crossing <= 4);
	CHECK(first_cursor > crossing);
	mpfs_listing_unref(l);
}

/* Pages fetched ahead leave one fetch to the cursor chain: its first page
 * goes out while the crossing page is still being rendered and every
 * other fetch is held. */
static void test_a_fetch_is_left_to_the_chain(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024];

	fill(&s, 64);
	want_all(&s, want, sizeof(want));
	s.wait_cursor = 30;
	l = parallel(&s, 4, 4, 30, 3);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	CHECK_STR(all, want);
	CHECK(!s.waited_out);
	mpfs_listing_unref(l);
}

static void test_parallel_failure(void)
{
	struct script s = {0};
	struct mpfs_listing *l;
	char all[1024], want[1024];

	fill(&s, 60);
	want_all(&s, want, sizeof(want));
	s.fail_offset = 22;
	l = parallel(&s, 5, 10, 10000, 4);
	CHECK(read_all(l, all, sizeof(all)) < 0);
	settle();
	CHECK(strncmp(all, want, strlen(all)) == 0); /* a prefix, no gap */
	CHECK(strlen(all) < strlen(want));
	pthread_mutex_lock(&s.lock);
	s.fail_offset = 0;
	pthread_mutex_unlock(&s.lock);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	settle();
	CHECK_STR(all, want);
	mpfs_listing_unref(l);
}

/* A reader of index 0 on its own thread. */
struct reader {
	struct mpfs_listing *l;
	atomic_int tid;
	int r;
	struct mpfs_err err;
};

static void *reader_main(void *p)
{
	struct reader *rd = p;
	struct mpfs_obj *obj;

	atomic_store(&rd->tid, (int)gettid());
	rd->r = mpfs_listing_get(rd->l, 0, &obj, &rd->err);
	if (rd->r == 1)
		mpfs_obj_unref(obj);
	return NULL;
}

/* Whether a thread of this process sleeps. */
static int sleeping(int tid)
{
	char path[64], buf[256], *state;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	state = strrchr(buf, ')');
	return state && state[1] == ' ' && state[2] == 'S';
}

/* A fetch given up because its caller went away fails only that caller:
 * the reader whose fetch it was gets MPFS_E_INTERRUPTED at once; a reader
 * that waited for that fetch asks again, and so does the next one. */
static void test_interrupted_fetch(void)
{
	struct script s = {0};
	struct reader a = {0}, b = {0};
	struct mpfs_listing *l;
	pthread_t ta, tb;
	char all[1024];
	double end = now() + 10;

	fill(&s, 12);
	s.interrupt_call = s.hold_call = 1;
	l = listing(&s, 5, 5, 10000);
	a.l = b.l = l;
	pthread_create(&ta, NULL, reader_main, &a);
	pthread_mutex_lock(&s.lock);
	while (!s.held)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	/* b finds the page being fetched; the only sleep open to it is the
	 * wait for that fetch (a holds no lock of the listing meanwhile). */
	pthread_create(&tb, NULL, reader_main, &b);
	while (now() < end && !(atomic_load(&b.tid) && sleeping(b.tid)))
		sched_yield();
	CHECK(now() < end);
	pthread_mutex_lock(&s.lock);
	s.go = 1;
	pthread_cond_broadcast(&s.cond);
	pthread_mutex_unlock(&s.lock);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	CHECK(a.r == -1 && a.err.kind == MPFS_E_INTERRUPTED);
	CHECK(b.r == 1);
	CHECK(s.calls == 2);
	CHECK(read_all(l, all, sizeof(all)) == 0);
	CHECK_STR(all, "s00 s01 s02 s03 s04 s05 s06 s07 s08 s09 s10 s11");
	mpfs_listing_unref(l);
}

/* An API whose cursors go round: "a" -> "b" -> "a" ..., the same items
 * each time; or, with fresh set, new items forever under a total of 3. */
struct endless {
	int calls;
	int fresh;
};

static int fetch_endless(void *ctx, const struct mpfs_page_req *req,
			 struct mpfs_page *page, struct mpfs_err *err)
{
	struct endless *e = ctx;
	char id[32];

	(void)err;
	e->calls++;
	page->items = json_array();
	for (int i = 0; i < 2; i++) {
		snprintf(id, sizeof(id), "s%d",
			 e->fresh ? e->calls * 2 + i : i);
		json_array_append_new(page->items,
				      json_pack("{s:s}", "sync_config_id", id));
	}
	page->next_cursor =
	    strdup(req->cursor && strcmp(req->cursor, "a") == 0 ? "b" : "a");
	page->total = e->fresh ? 3 : -1;
	return 0;
}

static void test_endless_apis_are_bounded(void)
{
	for (int fresh = 0; fresh < 2; fresh++) {
		struct endless e = {.fresh = fresh};
		struct mpfs_listing_cfg cfg = {
		    .fetch = fetch_endless,
		    .ctx = &e,
		    .id_key = "sync_config_id",
		    .suffix = ".json",
		    .first_limit = 2,
		    .max_limit = 2,
		    .max_offset = 0, /* the cursor from the first page on */
		    .what = "test",
		};
		struct mpfs_listing *l = mpfs_listing_new(&cfg);
		struct mpfs_obj *obj;
		struct mpfs_err err;
		size_t i;
		int r;

		mpfs_err_clear(&err);
		for (i = 0; (r = mpfs_listing_get(l, i, &obj, &err)) == 1; i++)
			mpfs_obj_unref(obj);
		CHECK(r == -1 && err.kind == MPFS_E_MALFORMED);
		CHECK(e.calls < 10);
		CHECK(strstr(err.msg, fresh ? "total" : "led back") != NULL);
		/* And it stays broken: no more requests. */
		r = e.calls;
		CHECK(mpfs_listing_get(l, 1000, &obj, &err) == -1 &&
		      e.calls == r);
		mpfs_listing_unref(l);
	}
}

/* An API that ignores offset: every page the same first limit items, with
 * a cursor (new each time) and, with total, the true total. */
struct ignoring {
	int calls;
	long total; /* -1: not told */
	int n;	    /* items it holds */
};

static int fetch_ignoring(void *ctx, const struct mpfs_page_req *req,
			  struct mpfs_page *page, struct mpfs_err *err)
{
	struct ignoring *g = ctx;
	char id[32];

	(void)err;
	__atomic_add_fetch(&g->calls, 1, __ATOMIC_SEQ_CST);
	page->items = json_array();
	for (long i = 0; i < req->limit && i < g->n; i++) {
		snprintf(id, sizeof(id), "s%03ld", i);
		json_array_append_new(page->items,
				      json_pack("{s:s}", "sync_config_id", id));
	}
	snprintf(id, sizeof(id), "c%d", g->calls);
	page->next_cursor = strdup(id);
	page->total = g->total;
	return 0;
}

/* It ends, showing the first page's items once, within ceil(total/step)
 * + 2 requests when the total is known (step: a page less its overlap),
 * whether pages come one after another or are fetched ahead. */
static void test_an_api_that_ignores_offset_ends(void)
{
	for (int told = 0; told < 2; told++) {
		for (int ahead = 0; ahead < 2; ahead++) {
			struct ignoring g = {.total = told ? 500 : -1,
					     .n = 500};
			struct mpfs_listing_cfg cfg = {
			    .fetch = fetch_ignoring,
			    .spawn = ahead ? spawn : NULL,
			    .max_inflight = 4,
			    .ctx = &g,
			    .id_key = "sync_config_id",
			    .suffix = ".json",
			    .first_limit = 10,
			    .max_limit = 100,
			    .max_offset = 10000,
			    .what = "test",
			};
			struct mpfs_listing *l = mpfs_listing_new(&cfg);
			struct mpfs_obj *obj;
			struct mpfs_err err;
			size_t i;
			int r, complete;

			mpfs_err_clear(&err);
			for (i = 0;
			     (r = mpfs_listing_get(l, i, &obj, &err)) == 1; i++)
				mpfs_obj_unref(obj);
			CHECK(r == 0);
			CHECK(i == 100); /* the most one page showed */
			CHECK(mpfs_listing_count(l, &complete) == 100 &&
			      complete);
			/* ceil(500 / (100 - 8)) + 2 = 8 */
			CHECK(g.calls <= (told ? 8 : 4));
			r = g.calls;
			CHECK(mpfs_listing_get(l, 1000, &obj, &err) == 0 &&
			      g.calls == r);
			mpfs_listing_unref(l);
			settle();
		}
	}
}

int main(void)
{
	test_lazy();
	test_growth_and_short_page();
	test_cursor_past_offset_limit();
	test_repeated_cursor();
	test_drift_and_duplicates();
	test_duplicates_within_a_page();
	test_duplicates_across_overlapping_pages();
	test_failure_then_retry();
	test_items_without_id();
	test_empty();
	test_reopen_by_directory();
	test_parallel();
	test_parallel_then_cursor();
	test_urgent_and_the_chain_first();
	test_a_fetch_is_left_to_the_chain();
	test_parallel_failure();
	test_interrupted_fetch();
	test_endless_apis_are_bounded();
	test_an_api_that_ignores_offset_ends();
	return check_done();
}
