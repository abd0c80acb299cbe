/* items.h - a listing's items: a page's items made objects (each reused
 * when held already in that version, else rendered and interned), and the
 * listing's objects in arrival order with an index by id. Pure; the
 * listing's lock guards a set, and a page's objects are made without it. */
#ifndef MPFS_ITEMS_H
#define MPFS_ITEMS_H

#include <jansson.h>
#include <stddef.h>

#include "mpfs/dups.h"
#include "mpfs/err.h"
#include "mpfs/listing.h"
#include "mpfs/render.h"

/* The objects of one page, in the page's order. */
struct mpfs_page_objs {
	struct mpfs_obj **objs; /* NULL entries: taken by a set */
	size_t nobjs;
	long raw;     /* items the API sent, with or without an id */
	long skipped; /* of those, without a usable id */
	struct mpfs_page_dups dups; /* ids sent more than once in the page */
};

/* Makes the objects of a page's items as cfg says (id_key, suffix,
 * fallback_mtime, reuse, intern, ctx); the copies of an id within the page
 * after the first are neither rendered nor kept (dups). 0, or -1 with err
 * set (MPFS_E_NOMEM) and po empty. */
int mpfs_page_objs_make(const struct mpfs_listing_cfg *cfg, json_t *items,
			struct mpfs_page_objs *po, struct mpfs_err *err);
void mpfs_page_objs_free(struct mpfs_page_objs *po);

/* A listing's objects, in order, and by id. Zeroed: empty. */
struct mpfs_items {
	struct mpfs_obj **objs;
	size_t count, cap;
	size_t *ids;	/* by id: open addressing, index + 1 */
	size_t ids_cap; /* a power of two over twice count, or 0 */
};

/* Room for n more objects: 0, or -1 when out of memory (the set as it
 * was). */
int mpfs_items_room(struct mpfs_items *it, size_t n);

/* Adds obj, whose reference it takes, unless an object of its id is held
 * already (then obj is dropped): 1 added, 0 not. Room must have been made
 * for it. */
int mpfs_items_add(struct mpfs_items *it, struct mpfs_obj *obj);

/* The object of id (borrowed), or NULL. */
struct mpfs_obj *mpfs_items_find(const struct mpfs_items *it, const char *id);

/* Drops every object and the index; the set is empty again. */
void mpfs_items_release(struct mpfs_items *it);

/* Bytes of every set's objects and index, as the caches' budget counts
 * them: a pointer and, at most, four index cells an object. */
size_t mpfs_items_bytes(void);

#endif
