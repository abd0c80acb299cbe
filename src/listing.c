/* listing.c - the paging state machine of one listing. Pure: pages come
 * from a callback. Offset pages first; past the API's offset bound, the
 * cursor of the last page. Items seen before (page drift) are dropped.
 *
 * Lock order: l->lock only; it is released around every fetch. */
#include "mpfs/listing.h"

#include <pthread.h>
#include <search.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

struct mpfs_listing {
	atomic_int refs;
	struct mpfs_listing_cfg cfg; /* strings owned */

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t fetched;
	struct mpfs_obj **items;
	size_t count, cap;
	void *ids;    /* tsearch tree of the ids in items (borrowed strings) */
	long offset;  /* raw items received: the next offset */
	long limit;   /* the next page's size */
	char *cursor; /* set once paging has moved to the cursor */
	int done;
	int fetching;
	unsigned long fetches;	    /* completed fetch attempts */
	unsigned long failed_fetch; /* the attempt that last failed */
	struct mpfs_err last_err;
	struct mpfs_err broken; /* set: paging cannot go on, ever */
	long skipped;
	long skipped_told;
	long pages;
};

void mpfs_page_release(struct mpfs_page *page)
{
	json_decref(page->items);
	free(page->next_cursor);
	page->items = NULL;
	page->next_cursor = NULL;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
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
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->fetched, NULL);
	l->limit = cfg->first_limit;
	return l;
}

struct mpfs_listing *mpfs_listing_ref(struct mpfs_listing *l)
{
	atomic_fetch_add(&l->refs, 1);
	return l;
}

static void no_free(void *p)
{
	(void)p;
}

void mpfs_listing_unref(struct mpfs_listing *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	if (l->cfg.release)
		l->cfg.release(l->cfg.ctx);
	tdestroy(l->ids, no_free);
	for (size_t i = 0; i < l->count; i++)
		mpfs_obj_unref(l->items[i]);
	free(l->items);
	free(l->cursor);
	free((char *)l->cfg.id_key);
	free((char *)l->cfg.suffix);
	free((char *)l->cfg.what);
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->fetched);
	free(l);
}

/* Appends the page's new items. Called with the lock held. */
static int merge(struct mpfs_listing *l, json_t *items, struct mpfs_err *err)
{
	size_t n = json_array_size(items), i;
	json_t *item;

	if (l->count + n > l->cap) {
		size_t cap = l->cap ? l->cap : 64;
		struct mpfs_obj **grown;

		while (cap < l->count + n)
			cap *= 2;
		grown = realloc(l->items, cap * sizeof(*grown));
		if (!grown) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
		l->items = grown;
		l->cap = cap;
	}
	json_array_foreach (items, i, item) {
		struct mpfs_err ignored;
		struct mpfs_obj *obj =
		    mpfs_obj_new(item, l->cfg.id_key, l->cfg.suffix,
				 (time_t)l->cfg.fallback_mtime, &ignored);

		if (!obj) {
			if (ignored.kind == MPFS_E_NOMEM) {
				*err = ignored;
				return -1;
			}
			l->skipped++;
			continue;
		}
		if (tfind(obj->id, &l->ids, cmp_id)) {
			mpfs_obj_unref(obj); /* seen on an earlier page */
			continue;
		}
		if (l->cfg.intern) {
			struct mpfs_obj *kept = l->cfg.intern(l->cfg.ctx, obj);

			mpfs_obj_unref(obj);
			obj = kept;
		}
		if (!tsearch(obj->id, &l->ids, cmp_id)) {
			mpfs_obj_unref(obj);
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
		l->items[l->count++] = obj;
	}
	return 0;
}

/* Moves paging on after a page of n raw items. Lock held. */
static int advance(struct mpfs_listing *l, long limit, struct mpfs_page *page,
		   struct mpfs_err *err)
{
	long n = (long)json_array_size(page->items);

	l->pages++;
	if (l->cursor) {
		if (n == 0 || !page->next_cursor) {
			l->done = 1;
		} else if (strcmp(page->next_cursor, l->cursor) == 0) {
			mpfs_err_set(err, MPFS_E_MALFORMED,
				     "the API repeated its cursor");
			l->broken = *err;
			return -1;
		} else {
			free(l->cursor);
			l->cursor = page->next_cursor;
			page->next_cursor = NULL;
		}
		return 0;
	}
	l->offset += n;
	/* A short page ends the listing, unless a cursor says more remain
	 * (an API that caps limit below what we asked). */
	if (n == 0 || (n < limit && !page->next_cursor)) {
		l->done = 1;
	} else if (l->offset > l->cfg.max_offset && page->next_cursor) {
		l->cursor = page->next_cursor;
		page->next_cursor = NULL;
	} else if (l->offset > l->cfg.max_offset) {
		/* No cursor past the offset bound: the API says nothing
		 * follows. Unless its total says otherwise: then the rest
		 * cannot be had, and a short listing would be a lie. */
		if (page->total > l->offset) {
			mpfs_err_set(err, MPFS_E_MALFORMED,
				     "the API holds %ld items but gave no "
				     "cursor past offset %ld",
				     page->total, l->cfg.max_offset);
			l->broken = *err;
			return -1;
		}
		l->done = 1;
	}
	return 0;
}

/* Bounds a listing that an API would make endless: a cursor page of
 * nothing new (a cursor that went back), or far more items than the API's
 * own total. Lock held; the page is merged. */
static int check_progress(struct mpfs_listing *l,
			  const struct mpfs_page_req *req,
			  const struct mpfs_page *page, size_t before,
			  struct mpfs_err *err)
{
	if (req->cursor && l->count == before &&
	    json_array_size(page->items) > 0 && page->next_cursor)
		mpfs_err_set(
		    err, MPFS_E_MALFORMED,
		    "the API's cursor led back to items already listed");
	else if (page->total >= 0 &&
		 (long)l->count > 2 * page->total + l->cfg.max_limit)
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "the API sent %zu items, its total says %ld",
			     l->count, page->total);
	else
		return 0;
	l->broken = *err;
	return -1;
}

/* Fetches one page and merges it. Called with the lock held and fetching
 * claimed; drops the lock around the callback. */
static int fetch_page(struct mpfs_listing *l, struct mpfs_err *err)
{
	struct mpfs_page page = {
	    .items = NULL, .next_cursor = NULL, .total = -1};
	struct mpfs_page_req req = {.limit = l->limit, .offset = l->offset};
	char *cursor = l->cursor ? strdup(l->cursor) : NULL;
	size_t before = l->count;
	int r;

	if (l->cursor && !cursor) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	req.cursor = cursor;
	pthread_mutex_unlock(&l->lock);
	r = l->cfg.fetch(l->cfg.ctx, &req, &page, err);
	pthread_mutex_lock(&l->lock);
	free(cursor);
	if (r == 0 && !json_is_array(page.items)) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "page without items");
		r = -1;
	}
	if (r == 0)
		r = merge(l, page.items, err);
	if (r == 0)
		r = check_progress(l, &req, &page, before, err);
	if (r == 0)
		r = advance(l, req.limit, &page, err);
	if (r == 0 && l->limit < l->cfg.max_limit) {
		l->limit *= 10;
		if (l->limit > l->cfg.max_limit)
			l->limit = l->cfg.max_limit;
	}
	mpfs_page_release(&page);
	return r;
}

int mpfs_listing_get(struct mpfs_listing *l, size_t index,
		     struct mpfs_obj **obj, struct mpfs_err *err)
{
	int r = 0;

	pthread_mutex_lock(&l->lock);
	while (index >= l->count && !l->done) {
		if (l->broken.kind != MPFS_OK) {
			*err = l->broken;
			r = -1;
			break;
		}
		if (l->fetching) {
			unsigned long seen = l->fetches;

			while (l->fetching)
				pthread_cond_wait(&l->fetched, &l->lock);
			/* The fetch we waited for failed: share its error
			 * rather than asking the API again at once. */
			if (l->failed_fetch == seen + 1 && index >= l->count) {
				*err = l->last_err;
				r = -1;
				break;
			}
			continue;
		}
		l->fetching = 1;
		r = fetch_page(l, err);
		l->fetching = 0;
		l->fetches++;
		if (r < 0) {
			l->failed_fetch = l->fetches;
			l->last_err = *err;
		}
		pthread_cond_broadcast(&l->fetched);
		if (r < 0)
			break;
	}
	if (r == 0 && index < l->count) {
		*obj = mpfs_obj_ref(l->items[index]);
		r = 1;
	}
	pthread_mutex_unlock(&l->lock);
	return r;
}

size_t mpfs_listing_count(struct mpfs_listing *l, int *complete)
{
	size_t n;

	pthread_mutex_lock(&l->lock);
	n = l->count;
	if (complete)
		*complete = l->done;
	pthread_mutex_unlock(&l->lock);
	return n;
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

long mpfs_listing_pages(struct mpfs_listing *l)
{
	long n;

	pthread_mutex_lock(&l->lock);
	n = l->pages;
	pthread_mutex_unlock(&l->lock);
	return n;
}

const char *mpfs_listing_what(struct mpfs_listing *l)
{
	return l->cfg.what;
}
