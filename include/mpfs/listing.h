/* listing.h - the paging state machine of one listing: offset pages, then
 * the cursor past the API's offset limit, duplicates dropped, entries kept
 * in arrival order so that an index is a stable directory offset.
 *
 * It fetches through a callback and knows no HTTP and no FUSE. Once the
 * first page has told the total and the reader reads past it, the rest is
 * fetched ahead (through cfg.spawn, max_inflight at once) and merged in
 * order: every offset page the total announces, the last one first when
 * the listing runs past the offset bound, so that the cursor pages, which
 * follow one another, start at once. Items are rendered (or reused) as
 * their page arrives, on the thread that fetched it. The lock is never held
 * during a fetch or a rendering. */
#ifndef MPFS_LISTING_H
#define MPFS_LISTING_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "mpfs/err.h"
#include "mpfs/page.h"
#include "mpfs/render.h"

typedef int (*mpfs_fetch_fn)(void *ctx, const struct mpfs_page_req *req,
			     struct mpfs_page *page, struct mpfs_err *err);

/* Called for each item before it is rendered, with its id and digest
 * (mpfs_json_digest): an object of that version already held elsewhere (a
 * new reference), or NULL to have the item rendered. */
typedef struct mpfs_obj *(*mpfs_reuse_fn)(void *ctx, const char *id,
					  uint64_t digest);

/* Called for each object rendered anew; returns the object to keep (a new
 * reference), for instance an equal one already held elsewhere. */
typedef struct mpfs_obj *(*mpfs_intern_fn)(void *ctx, struct mpfs_obj *obj);

/* Runs fn(arg) on another thread, or drop(arg) instead if it is never
 * run (the threads stop first); returns 0, or -1 if it cannot (then the
 * page is fetched by the reader that needs it). */
typedef int (*mpfs_spawn_fn)(void *ctx, void (*fn)(void *arg),
			     void (*drop)(void *arg), void *arg);

struct mpfs_listing_cfg {
	mpfs_fetch_fn fetch;
	mpfs_reuse_fn reuse;   /* may be NULL */
	mpfs_intern_fn intern; /* may be NULL */
	mpfs_spawn_fn spawn;   /* may be NULL: pages one after another */
	int max_inflight;      /* pages fetched at once, at most */
	void *ctx;
	void (*release)(
	    void *ctx); /* frees ctx with the listing; may be NULL */
	/* The listing is complete, or broken for good (complete 0): no page
	 * follows. Called once, with the listing's lock held: it must neither
	 * wait nor call into the kernel (queue such work). May be NULL. */
	void (*ended)(void *ctx, int complete);
	const char *id_key;  /* "sync_config_id" */
	const char *suffix;  /* ".json" */
	long first_limit;    /* first page size */
	long max_limit;	     /* pages grow to this */
	long max_offset;     /* the API's offset bound */
	long fallback_mtime; /* for objects without timestamps */
	const char *what;    /* for log lines: "syncs 'b1' all" */
};

struct mpfs_listing;

/* New listing with one reference. cfg strings are copied. */
struct mpfs_listing *mpfs_listing_new(const struct mpfs_listing_cfg *cfg);
struct mpfs_listing *mpfs_listing_ref(struct mpfs_listing *l);
void mpfs_listing_unref(struct mpfs_listing *l);

/* The entry at index, fetching pages until it is there or the listing ends.
 * Returns 1 and a new reference in *obj, 0 at the end, -1 with err set when
 * a page failed (the next call tries that page again). */
int mpfs_listing_get(struct mpfs_listing *l, size_t index,
		     struct mpfs_obj **obj, struct mpfs_err *err);

/* The entry of id: 1 and a new reference in *obj, fetching pages until it
 * is there; 0 when the listing ends without it; -1 with err set. */
int mpfs_listing_find(struct mpfs_listing *l, const char *id,
		      struct mpfs_obj **obj, struct mpfs_err *err);

/* Whether the listing is still the view's copy past the ttl its cache
 * gives it from when it began: a fetch of it is under way (a refresh that
 * takes longer than ttl is not begun again while it runs), or it ended
 * less than ttl seconds ago (what it shows is that fresh). */
int mpfs_listing_current(struct mpfs_listing *l, double ttl);

/* Whether more than one reference is held (the cache's): a reader or a
 * fetch has it. */
int mpfs_listing_shared(struct mpfs_listing *l);

/* Whether the entries held now include id; no fetch. */
int mpfs_listing_has(struct mpfs_listing *l, const char *id);

/* Entries held now, and whether the listing is complete; no fetch. */
size_t mpfs_listing_count(struct mpfs_listing *l, int *complete);

/* Called when a directory handle of directory dir (its inode) opens the
 * listing: returns 1 if an earlier handle of the same directory opened it
 * too and it is complete, so what the kernel read through that handle is
 * still the listing's content. (Directories that are spellings of one
 * filter share a listing; each has its own copy in the kernel.) */
int mpfs_listing_reopen(struct mpfs_listing *l, uint64_t dir);

/* Items the API sent without a usable id, skipped since the last call. */
long mpfs_listing_take_skipped(struct mpfs_listing *l);

/* Ids the API sent more than once within one page, so far, each counted
 * once (copies on pages that overlap on purpose are not duplicates); the
 * first of them into first (size bytes). Only the first copy is listed,
 * and the listing says so in one warning when it ends: "list WHAT: the
 * API sent ID twice; showing it once". */
long mpfs_listing_duplicates(struct mpfs_listing *l, char *first, size_t size);

/* What the listing is, for log lines: cfg.what. */
const char *mpfs_listing_what(struct mpfs_listing *l);

/* The cfg.ctx the listing was made with (borrowed, valid while the
 * listing is). */
void *mpfs_listing_ctx(struct mpfs_listing *l);

#endif
