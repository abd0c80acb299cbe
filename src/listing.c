/* listing.c - the paging state machine of one listing. Pure: pages come
 * from a callback, threads from another. Offset pages first; past the API's
 * offset bound, the cursor of the last offset page. A page's items are
 * made objects, and merged into the listing's set of them, by items.h:
 * items seen before (page drift) are dropped; so are the copies of an id
 * within a page (dups.h).
 *
 * Pages are planned as slots in a queue and merged strictly in order. The
 * first page is fetched by the reader that asks for it. When the API told
 * the total, one more page is read ahead; once the reader goes past the
 * first page the listing turns eager: every offset page the total
 * announces is planned, max_inflight of them fetched at once, the one that
 * crosses the offset bound first (its cursor starts the chain), and each
 * finished fetch starts the next, the cursor chain included, up to
 * MAX_AHEAD pages not yet merged. A slot nobody could spawn a thread for is
 * fetched by the reader that reaches it.
 *
 * Lock order: l->lock, then the leaf locks cfg.ended takes (it only queues
 * work, see listing.h). l->lock is released
 * around every fetch and every rendering; cfg.reuse and cfg.intern are
 * called without it. */
#include "mpfs/listing.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpfs/dups.h"
#include "mpfs/items.h"
#include "mpfs/log.h"

/* Pages planned and not merged yet, at most: bounds what a listing holds
 * ahead of its readers, and an API whose cursor chain never ends. */
#define MAX_AHEAD 32

enum slot_state {
	SLOT_QUEUED,   /* planned; the reader that reaches it fetches it */
	SLOT_FETCHING, /* a reader or a spawned thread fetches it */
	SLOT_DONE,
	SLOT_FAILED,
};

struct slot {
	struct slot *next;
	enum slot_state state;
	long offset, limit; /* offset pages */
	char *cursor;	    /* cursor pages: the cursor asked with */
	/* results, set once state is DONE */
	struct mpfs_page_objs got; /* NULL entries: already merged */
	char *next_cursor;
	long total;
	struct mpfs_err err;   /* FAILED */
	unsigned long failure; /* FAILED: the listing's failures then */
};

struct mpfs_listing {
	atomic_int refs;
	struct mpfs_listing_cfg cfg; /* strings owned */

	pthread_mutex_t lock;	/* guards everything below */
	pthread_cond_t changed; /* a slot finished */
	struct mpfs_items items;
	struct slot *head; /* planned pages, in order */
	struct slot *tail;
	int nslots;
	int inflight;	  /* slots fetched on spawned threads now */
	int eager;	  /* the reader went past the first page */
	long next_offset; /* the offset of the next page to plan */
	long next_limit;
	int by_cursor;	/* paging has moved to the cursor */
	char *cursor;	/* the cursor of the page after the tail, if known */
	long total;	/* as the API last said; -1: unknown */
	int full_pages; /* the API gave a whole page: it honours limit */
	int done;
	int cut;	 /* done before the end: the API would never end it */
	long planned;	 /* pages asked for so far */
	double ended_at; /* when it ended (monotonic seconds), done or broken */
	struct mpfs_err broken; /* set: paging cannot go on, ever */
	unsigned long failures; /* fetches failed so far */
	long skipped;
	long skipped_told;
	struct mpfs_dups dups; /* ids sent more than once within one page */
	long pages;
	uint64_t opened[4]; /* directories whose handles opened it */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Whether a page is being fetched, by a reader or ahead. Lock held. */
static int fetching(const struct mpfs_listing *l)
{
	for (const struct slot *s = l->head; s; s = s->next)
		if (s->state == SLOT_FETCHING)
			return 1;
	return 0;
}

struct mpfs_listing *mpfs_listing_new(const struct mpfs_listing_cfg *cfg)
{
	struct mpfs_listing *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	atomic_init(&l->refs, 1);
	l->cfg = *cfg;
	l->cfg.id_key = strdup(cfg->id_key);
	l->cfg.suffix = strdup(cfg->suffix);
	l->cfg.what = strdup(cfg->what ? cfg->what : "listing");
	if (!l->cfg.id_key || !l->cfg.suffix || !l->cfg.what) {
		free((char *)l->cfg.id_key);
		free((char *)l->cfg.suffix);
		free((char *)l->cfg.what);
		free(l);
		return NULL;
	}
	if (l->cfg.max_inflight < 1)
		l->cfg.max_inflight = 1;
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->changed, NULL);
	l->next_limit = cfg->first_limit;
	l->total = -1;
	return l;
}

struct mpfs_listing *mpfs_listing_ref(struct mpfs_listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

static void slot_free(struct slot *s)
{
	mpfs_page_objs_free(&s->got);
	free(s->cursor);
	free(s->next_cursor);
	free(s);
}

void mpfs_listing_unref(struct mpfs_listing *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	mpfs_dups_tell(&l->dups, l->cfg.what); /* one that never ended */
	mpfs_dups_release(&l->dups);
	/* Spawned fetches hold references: no slot is being fetched now. */
	while (l->head) {
		struct slot *s = l->head;

		l->head = s->next;
		slot_free(s);
	}
	if (l->cfg.release)
		l->cfg.release(l->cfg.ctx);
	mpfs_items_release(&l->items);
	free(l->cursor);
	free((char *)l->cfg.id_key);
	free((char *)l->cfg.suffix);
	free((char *)l->cfg.what);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->changed);
	free(l);
}

static void chain_early(struct mpfs_listing *l, struct slot *slot,
			const struct mpfs_page *page);

/* Fetches the page slot asks for and renders its items into s, a copy of
 * the slot owned by the caller. Called without the lock. */
static void fetch_slot(struct mpfs_listing *l, struct slot *slot,
		       struct slot *s, int urgent)
{
	struct mpfs_page page = {
	    .items = NULL, .next_cursor = NULL, .total = -1};
	struct mpfs_page_req req = {.limit = s->limit,
				    .offset = s->offset,
				    .cursor = s->cursor,
				    .urgent = urgent};
	struct mpfs_err err;

	mpfs_err_clear(&err);
	if (l->cfg.fetch(l->cfg.ctx, &req, &page, &err) == 0 &&
	    !json_is_array(page.items))
		mpfs_err_set(&err, MPFS_E_MALFORMED, "page without items");
	if (err.kind != MPFS_OK)
		goto failed;
	chain_early(l, slot, &page);
	if (mpfs_page_objs_make(&l->cfg, page.items, &s->got, &err))
		goto failed;
	s->total = page.total;
	s->next_cursor = page.next_cursor;
	page.next_cursor = NULL;
	mpfs_page_release(&page);
	s->state = SLOT_DONE;
	return;
failed:
	mpfs_page_release(&page);
	s->err = err;
	s->state = SLOT_FAILED;
}

/* How far a page fetched ahead reaches back into the page before it. Pages
 * fetched at once are answered in any order: syncs created meanwhile (the
 * newest come first) shift a later page before an earlier one is read, and
 * without the overlap the items at the seam would be lost. */
static long overlap(long limit)
{
	if (limit >= 128)
		return 8;
	return limit >= 2 ? 1 + limit / 16 : 0;
}

/* Appends a slot for the next page: by the cursor once paging has moved
 * there (taking l->cursor), else by offset; ahead: overlapping the page
 * before. Lock held. Returns the slot, or NULL when out of memory or when
 * the next cursor is not known yet. */
static struct slot *plan(struct mpfs_listing *l, int ahead)
{
	struct slot *s;

	if (l->by_cursor && !l->cursor)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->limit = l->next_limit;
	if (l->by_cursor) {
		s->cursor = l->cursor;
		l->cursor = NULL;
	} else {
		long back = ahead && l->next_offset > 0 ? overlap(s->limit) : 0;

		s->offset = l->next_offset - back;
		l->next_offset = s->offset + s->limit;
	}
	l->next_limit = l->cfg.max_limit;
	l->planned++;
	if (l->tail)
		l->tail->next = s;
	else
		l->head = s;
	l->tail = s;
	l->nslots++;
	return s;
}

/* Whether the pages asked for reach what the API's total allows:
 * ceil(total / step) + 2, step being what a full page adds past the
 * overlap (the first page is smaller, the last may be short, and one more
 * makes sure). Bounds an API that ignores offset or cursor. Lock held. */
static int over_cap(const struct mpfs_listing *l)
{
	long step = l->cfg.max_limit - overlap(l->cfg.max_limit);

	if (step < 1)
		step = 1;
	return l->total >= 0 && l->planned >= (l->total + step - 1) / step + 2;
}

/* The listing ends here, short of what the API says it holds, because
 * the API would never end it: what it has is shown, with one warning.
 * Lock held. */
static void cut(struct mpfs_listing *l, const char *why)
{
	if (l->done)
		return;
	l->done = 1;
	l->cut = 1;
	mpfs_log(MPFS_LOG_WARN, "list %s: %s; showing the %zu items had",
		 l->cfg.what, why, l->items.count);
}

/* Whether more offset pages can be planned ahead of need: the total says
 * they exist, they stay within the offset bound, the API's total allows
 * more pages, and the API is known to give the page sizes asked for (else
 * planned offsets would leave gaps). Lock held. */
static int can_plan_ahead(struct mpfs_listing *l)
{
	return l->cfg.spawn && !l->by_cursor && !l->done && !over_cap(l) &&
	       l->broken.kind == MPFS_OK && l->full_pages && l->total >= 0 &&
	       l->next_offset < l->total && l->next_offset <= l->cfg.max_offset;
}

/* The cursor that continues the listing after s, a page just fetched
 * with raw items and next_cursor: an offset page that reaches past the
 * offset bound, or a cursor page, that came with items and a cursor other
 * than its own. */
static const char *chain_cursor(struct mpfs_listing *l, const struct slot *s,
				long raw, const char *next)
{
	if (raw == 0 || !next)
		return NULL;
	if (s->cursor)
		return strcmp(next, s->cursor) ? next : NULL;
	return s->offset + raw > l->cfg.max_offset ? next : NULL;
}

/* Whether the cursor chain goes on from a page. */
static int chained(const struct mpfs_listing *l, const struct slot *s)
{
	return s->cursor || s->offset + s->limit > l->cfg.max_offset;
}

/* Whether a page is on the critical path: the one readers wait for, or
 * one the cursor chain goes on from. Lock held. */
static int urgent(struct mpfs_listing *l, const struct slot *s)
{
	return s == l->head || chained(l, s);
}

static void run_job(void *arg);
static void drop_job(void *arg);

struct job {
	struct mpfs_listing *l;
	struct slot *s;
};

/* Has a QUEUED slot fetched on a thread of its own. Lock held. */
static int spawn_slot(struct mpfs_listing *l, struct slot *s)
{
	struct job *job = malloc(sizeof(*job));

	if (!job)
		return -1;
	job->l = mpfs_listing_ref(l);
	job->s = s;
	s->state = SLOT_FETCHING;
	if (l->cfg.spawn(l->cfg.ctx, run_job, drop_job, job) != 0) {
		s->state = SLOT_QUEUED;
		mpfs_listing_unref(l); /* not the last: the caller holds one */
		free(job);
		return -1;
	}
	l->inflight++;
	return 0;
}

/* The next slot to fetch ahead: the tail first when it crosses the
 * offset bound (the cursor chain starts from it), else the first queued.
 * Lock held. */
static struct slot *next_to_spawn(struct mpfs_listing *l)
{
	struct slot *t = l->tail;

	if (t && t->state == SLOT_QUEUED && chained(l, t))
		return t;
	for (struct slot *s = l->head; s; s = s->next)
		if (s->state == SLOT_QUEUED)
			return s;
	return NULL;
}

/* How many fetches may be in flight when s is the next: all of
 * max_inflight for the cursor chain, one fewer for the others while the
 * chain is to come, so that it goes on at once, not after a page fetched
 * ahead. Lock held. */
static int room_for(const struct mpfs_listing *l, const struct slot *s)
{
	int n = l->cfg.max_inflight;

	if (n > 1 && !chained(l, s) && l->total > l->cfg.max_offset)
		return n - 1;
	return n;
}

/* Plans up to want slots (an eager listing: every one the total
 * announces) and spawns queued ones while there is room. Lock held. */
static void fetch_ahead(struct mpfs_listing *l, int want)
{
	struct slot *s;

	if (!l->cfg.spawn || l->done || l->broken.kind != MPFS_OK)
		return;
	if (l->eager)
		want = MAX_AHEAD;
	while (l->nslots < want && can_plan_ahead(l) && plan(l, 1))
		;
	while ((s = next_to_spawn(l)) && l->inflight < room_for(l, s))
		if (spawn_slot(l, s))
			break;
}

/* An eager listing whose tail, slot, has a page with raw items and next:
 * the cursor page after it is planned (and fetched ahead), up to
 * MAX_AHEAD pages not merged. Lock held. */
static void chain(struct mpfs_listing *l, struct slot *slot, long raw,
		  const char *next)
{
	char *copy;

	if (!l->eager || slot != l->tail || l->nslots >= MAX_AHEAD || l->done ||
	    l->broken.kind != MPFS_OK || over_cap(l) ||
	    !(next = chain_cursor(l, slot, raw, next)))
		return;
	copy = strdup(next);
	if (!copy)
		return;
	free(l->cursor);
	l->cursor = copy;
	l->by_cursor = 1;
	plan(l, 0);
	fetch_ahead(l, 0);
}

/* A page arrived, not rendered yet: its cursor, if it continues the
 * chain, is sent on now rather than after a thousand renderings. */
static void chain_early(struct mpfs_listing *l, struct slot *slot,
			const struct mpfs_page *page)
{
	pthread_mutex_lock(&l->lock);
	chain(l, slot, (long)json_array_size(page->items), page->next_cursor);
	pthread_mutex_unlock(&l->lock);
}

/* Publishes the result of a fetch of slot; lock held. An eager listing
 * goes on: the cursor chain from the tail, and more fetches ahead. */
static void finished(struct mpfs_listing *l, struct slot *slot,
		     struct slot *result)
{
	slot->got = result->got;
	slot->next_cursor = result->next_cursor;
	slot->total = result->total;
	slot->err = result->err;
	slot->state = result->state;
	if (slot->state == SLOT_FAILED)
		slot->failure = ++l->failures;
	pthread_cond_broadcast(&l->changed);
	if (!l->eager || slot->state != SLOT_DONE)
		return;
	chain(l, slot, slot->got.raw, slot->next_cursor);
	fetch_ahead(l, 0);
}

/* Fetches a slot, which is FETCHING and so touched by no one else, and
 * publishes the result; its error (kind MPFS_OK when none) in *err unless
 * NULL. Called without the lock. */
static void run_slot(struct mpfs_listing *l, struct slot *slot, int spawned,
		     struct mpfs_err *err)
{
	struct slot result = {.limit = slot->limit,
			      .offset = slot->offset,
			      .cursor = slot->cursor};
	int hurry;

	pthread_mutex_lock(&l->lock);
	hurry = urgent(l, slot);
	pthread_mutex_unlock(&l->lock);
	fetch_slot(l, slot, &result, hurry);
	pthread_mutex_lock(&l->lock);
	if (spawned)
		l->inflight--;
	finished(l, slot, &result);
	pthread_mutex_unlock(&l->lock);
	if (err)
		*err = result.err;
}

static void run_job(void *arg)
{
	struct job *job = arg;

	run_slot(job->l, job->s, 1, NULL);
	mpfs_listing_unref(job->l);
	free(job);
}

/* A fetch never run: the threads stopped (the mount is going). */
static void drop_job(void *arg)
{
	struct job *job = arg;

	mpfs_listing_unref(job->l);
	free(job);
}

/* Takes the head slot's objects into the listing, those not seen before,
 * or none when out of memory (the merge can be tried again). Each taken is
 * cleared from the slot, which owns it no more. Lock held. */
static int take_objects(struct mpfs_listing *l, struct slot *s,
			struct mpfs_err *err)
{
	if (mpfs_items_room(&l->items, s->got.nobjs)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < s->got.nobjs; i++) {
		if (s->got.objs[i])
			mpfs_items_add(&l->items, s->got.objs[i]);
		s->got.objs[i] = NULL;
	}
	return 0;
}

/* What follows the last planned page, s, once merged. Lock held. */
static void after_last(struct mpfs_listing *l, struct slot *s)
{
	long raw = s->got.raw, end = s->offset + raw;
	const char *next = chain_cursor(l, s, raw, s->next_cursor);

	if (next) {
		free(l->cursor);
		l->cursor = s->next_cursor;
		s->next_cursor = NULL;
		l->by_cursor = 1;
	} else if (s->cursor) {
		if (raw == 0 || !s->next_cursor)
			l->done = 1;
		else
			mpfs_err_set(&l->broken, MPFS_E_MALFORMED,
				     "the API repeated its cursor");
	} else if (raw == 0 || (raw < s->limit && !s->next_cursor)) {
		/* A short page ends the listing, unless a cursor says more
		 * remain (an API that caps limit below what we asked). */
		l->done = 1;
	} else if (end <= l->cfg.max_offset) {
		l->next_offset = end;
	} else if (l->total > end) {
		/* No cursor past the offset bound, yet the total says more:
		 * the rest cannot be had, and a short listing would be a
		 * lie. */
		mpfs_err_set(&l->broken, MPFS_E_MALFORMED,
			     "the API holds %ld items but gave no cursor past "
			     "offset %ld",
			     l->total, l->cfg.max_offset);
	} else {
		l->done = 1;
	}
}

/* Merges the head slot, DONE, and decides what follows. Lock held. */
static int merge_head(struct mpfs_listing *l, struct mpfs_err *err)
{
	struct slot *s = l->head;
	size_t before = l->items.count;

	if (take_objects(l, s, err))
		return -1;
	mpfs_dups_count(&l->dups, &s->got.dups);
	l->skipped += s->got.skipped;
	l->pages++;
	if (!s->cursor && s->got.raw == s->limit)
		l->full_pages = 1;
	if (s->total >= 0)
		l->total = s->total;
	l->head = s->next;
	if (!l->head)
		l->tail = NULL;
	l->nslots--;

	/* Bounds an API that would make the listing endless: a cursor page
	 * of nothing new (a cursor that went back), an offset page of nothing
	 * new (an API that ignores offset), or far more items than its own
	 * total. */
	if (s->cursor && l->items.count == before && s->got.raw > 0 &&
	    s->next_cursor)
		mpfs_err_set(&l->broken, MPFS_E_MALFORMED,
			     "the API's cursor led back to items already "
			     "listed");
	else if (!s->cursor && l->pages > 1 && s->got.nobjs > 0 &&
		 l->items.count == before)
		cut(l, "an offset page brought no item not listed already "
		       "(the API ignores offset?)");
	else if (l->total >= 0 &&
		 (long)l->items.count > 2 * l->total + l->cfg.max_limit)
		mpfs_err_set(&l->broken, MPFS_E_MALFORMED,
			     "the API sent %zu items, its total says %ld",
			     l->items.count, l->total);
	if (l->broken.kind == MPFS_OK && !l->done && !l->head)
		after_last(l, s);
	slot_free(s);
	return 0;
}

int mpfs_listing_get(struct mpfs_listing *l, size_t index,
		     struct mpfs_obj **obj, struct mpfs_err *err)
{
	unsigned long seen; /* failures before this call */
	int r = 0;

	pthread_mutex_lock(&l->lock);
	seen = l->failures;
	while (index >= l->items.count && !l->done) {
		struct slot *s;

		if (l->broken.kind != MPFS_OK) {
			*err = l->broken;
			r = -1;
			break;
		}
		/* The reader wants more than the first page: fetch ahead. */
		if (l->pages > 0 && !l->eager) {
			l->eager = 1;
			fetch_ahead(l, 0);
		}
		if (!l->head && over_cap(l)) {
			cut(l, "the API's total allows no more pages");
			mpfs_dups_tell(&l->dups, l->cfg.what);
			l->ended_at = now();
			if (l->cfg.ended)
				l->cfg.ended(l->cfg.ctx, 0);
			break;
		}
		s = l->head ? l->head : plan(l, 0);
		if (!s) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			r = -1;
			break;
		}
		/* A fetch that failed before this call is tried again; so
		 * is one whose caller went away, as that says nothing of
		 * the API. */
		if (s->state == SLOT_FAILED &&
		    (s->failure <= seen || s->err.kind == MPFS_E_INTERRUPTED))
			s->state = SLOT_QUEUED;
		if (s->state == SLOT_QUEUED) {
			s->state = SLOT_FETCHING;
			pthread_mutex_unlock(&l->lock);
			run_slot(l, s, 0, err);
			pthread_mutex_lock(&l->lock);
			if (err->kind == MPFS_E_INTERRUPTED) {
				r = -1;
				break;
			}
			continue; /* s may be merged and freed by another;
				   * its failure is final for this call */
		}
		if (s->state == SLOT_FETCHING) {
			pthread_cond_wait(&l->changed, &l->lock);
		} else if (s->state == SLOT_FAILED) {
			/* It failed while this reader waited: its error is
			 * shared rather than the API asked again at once. */
			*err = s->err;
			r = -1;
			break;
		} else if (merge_head(l, err)) {
			r = -1;
			break;
		} else if (l->done || l->broken.kind != MPFS_OK) {
			/* The one merge that ends it: none follows. */
			mpfs_dups_tell(&l->dups, l->cfg.what);
			l->ended_at = now();
			if (l->cfg.ended)
				l->cfg.ended(l->cfg.ctx, l->done && !l->cut);
		} else if (l->pages == 1 && index < l->items.count) {
			fetch_ahead(l, 1); /* one page of read-ahead */
		} else {
			fetch_ahead(l, 0);
		}
	}
	if (r == 0 && index < l->items.count) {
		*obj = mpfs_obj_ref(l->items.objs[index]);
		r = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

size_t mpfs_listing_count(struct mpfs_listing *l, int *complete)
{
	size_t n;

	pthread_mutex_lock(&l->lock);
	n = l->items.count;
	if (complete)
		*complete = l->done;
	pthread_mutex_unlock(&l->lock);
	return n;
}

int mpfs_listing_current(struct mpfs_listing *l, double ttl)
{
	int current;

	pthread_mutex_lock(&l->lock);
	if (l->done || l->broken.kind != MPFS_OK)
		current = l->ended_at > 0 && now() - l->ended_at < ttl;
	else
		current = l->inflight > 0 || fetching(l);
	pthread_mutex_unlock(&l->lock);
	return current;
}

int mpfs_listing_shared(struct mpfs_listing *l)
{
	return atomic_load(&l->refs) > 1;
}

int mpfs_listing_has(struct mpfs_listing *l, const char *id)
{
	int r;

	pthread_mutex_lock(&l->lock);
	r = mpfs_items_find(&l->items, id) != NULL;
	pthread_mutex_unlock(&l->lock);
	return r;
}

int mpfs_listing_find(struct mpfs_listing *l, const char *id,
		      struct mpfs_obj **obj, struct mpfs_err *err)
{
	for (;;) {
		struct mpfs_obj *o;
		size_t count;
		int done, r;

		pthread_mutex_lock(&l->lock);
		o = mpfs_items_find(&l->items, id);
		if (o)
			*obj = mpfs_obj_ref(o);
		count = l->items.count;
		done = l->done;
		pthread_mutex_unlock(&l->lock);
		if (o)
			return 1;
		if (done)
			return 0;
		r = mpfs_listing_get(l, count, &o, err); /* a page more */
		if (r < 0)
			return -1;
		if (r == 1)
			mpfs_obj_unref(o);
	}
}

int mpfs_listing_reopen(struct mpfs_listing *l, uint64_t dir)
{
	size_t n = sizeof(l->opened) / sizeof(l->opened[0]), i;
	int again;

	pthread_mutex_lock(&l->lock);
	for (i = 0; i < n && l->opened[i] != dir; i++)
		;
	again = i < n && l->done;
	if (i == n) { /* the oldest goes: its next open reads anew */
		memmove(l->opened + 1, l->opened, (n - 1) * sizeof(*l->opened));
		l->opened[0] = dir;
	}
	pthread_mutex_unlock(&l->lock);
	return again;
}

long mpfs_listing_take_skipped(struct mpfs_listing *l)
{
	long n;

	pthread_mutex_lock(&l->lock);
	n = l->skipped - l->skipped_told;
	l->skipped_told = l->skipped;
	pthread_mutex_unlock(&l->lock);
	return n;
}

long mpfs_listing_duplicates(struct mpfs_listing *l, char *first, size_t size)
{
	long n;

	pthread_mutex_lock(&l->lock);
	n = l->dups.count;
	snprintf(first, size, "%s", l->dups.first);
	pthread_mutex_unlock(&l->lock);
	return n;
}

const char *mpfs_listing_what(struct mpfs_listing *l)
{
	return l->cfg.what;
}

void *mpfs_listing_ctx(struct mpfs_listing *l)
{
	return l->cfg.ctx;
}
