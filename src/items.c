/* items.c - pure: a listing's items (see items.h). */
#include "mpfs/items.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/hmap.h"

#define ENTRY_BYTES (sizeof(void *) + 4 * sizeof(size_t))
static atomic_size_t items_bytes;

size_t mpfs_items_bytes(void)
{
	return atomic_load(&items_bytes);
}

/* The object an item shows: one held already in that version, or the
 * item rendered now. NULL with err set (MPFS_E_MALFORMED: no usable id). */
static struct mpfs_obj *object_of(const struct mpfs_listing_cfg *cfg,
				  json_t *item, struct mpfs_err *err)
{
	const char *id = json_string_value(json_object_get(item, cfg->id_key));
	struct mpfs_obj *obj = NULL, *kept;
	uint64_t digest;

	if (!json_is_object(item) || !id || !*id) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "item without '%s'",
			     cfg->id_key);
		return NULL;
	}
	digest = mpfs_json_digest(item);
	if (cfg->reuse)
		obj = cfg->reuse(cfg->ctx, id, digest);
	if (obj)
		return obj;
	obj = mpfs_obj_new(item, cfg->id_key, cfg->suffix,
			   (time_t)cfg->fallback_mtime, digest, err);
	if (obj && cfg->intern) {
		kept = cfg->intern(cfg->ctx, obj);
		mpfs_obj_unref(obj);
		obj = kept;
	}
	return obj;
}

int mpfs_page_objs_make(const struct mpfs_listing_cfg *cfg, json_t *items,
			struct mpfs_page_objs *po, struct mpfs_err *err)
{
	size_t i, n = json_array_size(items);
	unsigned char *skip;
	json_t *item;

	memset(po, 0, sizeof(*po));
	po->objs = calloc(n ? n : 1, sizeof(*po->objs));
	if (!po->objs) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	/* Copies of an id within the page: the first is shown, the others
	 * neither rendered nor kept (counted, and said at the end). */
	skip = calloc(n ? n : 1, 1);
	if (skip)
		mpfs_dups_find(items, cfg->id_key, skip, &po->dups);
	json_array_foreach (items, i, item) {
		struct mpfs_obj *obj;

		if (skip && skip[i])
			continue;
		obj = object_of(cfg, item, err);
		if (obj) {
			po->objs[po->nobjs++] = obj;
		} else if (err->kind == MPFS_E_NOMEM) {
			free(skip);
			mpfs_page_objs_free(po);
			return -1;
		} else {
			po->skipped++;
		}
	}
	free(skip);
	mpfs_err_clear(err);
	po->raw = (long)n;
	return 0;
}

void mpfs_page_objs_free(struct mpfs_page_objs *po)
{
	for (size_t i = 0; i < po->nobjs; i++)
		mpfs_obj_unref(po->objs[i]);
	free(po->objs);
	mpfs_page_dups_free(&po->dups);
	memset(po, 0, sizeof(*po));
}

/* The index cell of id: the one that holds it, or the empty one where it
 * would go. The index has room (ids_cap > 0). (Not an mpfs_hmap: its
 * nodes live in the values, and an object is in many listings.) */
static size_t *id_cell(const struct mpfs_items *it, const char *id)
{
	size_t mask = it->ids_cap - 1;
	size_t i = (size_t)mpfs_hmap_hash_str(id) & mask;

	while (it->ids[i] && strcmp(it->objs[it->ids[i] - 1]->id, id))
		i = (i + 1) & mask;
	return &it->ids[i];
}

struct mpfs_obj *mpfs_items_find(const struct mpfs_items *it, const char *id)
{
	size_t *cell = it->ids_cap ? id_cell(it, id) : NULL;

	return cell && *cell ? it->objs[*cell - 1] : NULL;
}

int mpfs_items_room(struct mpfs_items *it, size_t n)
{
	size_t want = it->count + n, cap, i;
	struct mpfs_obj **grown;
	size_t *ids;

	if (want > it->cap) {
		for (cap = it->cap ? it->cap : 64; cap < want; cap *= 2)
			;
		grown = realloc(it->objs, cap * sizeof(*grown));
		if (!grown)
			return -1;
		it->objs = grown;
		it->cap = cap;
	}
	if (2 * want < it->ids_cap)
		return 0;
	for (cap = it->ids_cap ? it->ids_cap : 128; 2 * want >= cap; cap *= 2)
		;
	ids = calloc(cap, sizeof(*ids));
	if (!ids)
		return -1;
	free(it->ids);
	it->ids = ids;
	it->ids_cap = cap;
	for (i = 0; i < it->count; i++)
		*id_cell(it, it->objs[i]->id) = i + 1;
	return 0;
}

int mpfs_items_add(struct mpfs_items *it, struct mpfs_obj *obj)
{
	size_t *cell = id_cell(it, obj->id);

	if (*cell) {
		mpfs_obj_unref(obj); /* seen on an earlier page */
		return 0;
	}
	it->objs[it->count++] = obj;
	*cell = it->count;
	atomic_fetch_add(&items_bytes, ENTRY_BYTES);
	return 1;
}

void mpfs_items_release(struct mpfs_items *it)
{
	free(it->ids);
	atomic_fetch_sub(&items_bytes, it->count * ENTRY_BYTES);
	for (size_t i = 0; i < it->count; i++)
		mpfs_obj_unref(it->objs[i]);
	free(it->objs);
	memset(it, 0, sizeof(*it));
}
