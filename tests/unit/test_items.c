/* A listing's items: a page's items made objects (reused, rendered,
 * interned; without an id or sent twice, left out), and the set of a
 * listing's objects by id (in order, each id once, found after growing). */
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/items.h"

static int reused, interned;
static struct mpfs_obj *kept; /* what reuse gives for id "r" */

static struct mpfs_obj *reuse(void *ctx, const char *id, uint64_t digest)
{
	(void)ctx;
	(void)digest;
	if (strcmp(id, "r") || !kept)
		return NULL;
	reused++;
	return mpfs_obj_ref(kept);
}

static struct mpfs_obj *intern(void *ctx, struct mpfs_obj *obj)
{
	(void)ctx;
	interned++;
	return mpfs_obj_ref(obj);
}

static const struct mpfs_listing_cfg cfg = {
    .reuse = reuse,
    .intern = intern,
    .id_key = "id",
    .suffix = ".json",
};

static struct mpfs_obj *obj_of(const char *id)
{
	json_t *j = json_pack("{s:s}", "id", id);
	struct mpfs_err err;
	struct mpfs_obj *o = mpfs_obj_new(j, "id", ".json", 0, 1, &err);

	json_decref(j);
	return o;
}

static void test_page(void)
{
	json_t *items =
	    json_pack("[{s:s},{s:i},{s:s},{s:s},{s:s},{s:s}]", "id", "a", "n",
		      1, "id", "r", "id", "b", "id", "a", "id", "");
	struct mpfs_page_objs po;
	struct mpfs_err err;

	kept = obj_of("r");
	CHECK(mpfs_page_objs_make(&cfg, items, &po, &err) == 0);
	CHECK(err.kind == MPFS_OK);
	CHECK(po.raw == 6);
	CHECK(po.skipped == 2); /* no id, an empty one */
	CHECK(po.nobjs == 3);	/* a, r, b: a's second copy left out */
	if (po.nobjs == 3) {
		CHECK_STR(po.objs[0]->id, "a");
		CHECK(po.objs[1] == kept); /* reused, not rendered */
		CHECK_STR(po.objs[2]->id, "b");
	}
	CHECK(po.dups.n == 1);
	CHECK(reused == 1 && interned == 2);
	mpfs_page_objs_free(&po);
	CHECK(po.objs == NULL && po.nobjs == 0 && po.dups.n == 0);
	mpfs_obj_unref(kept);
	kept = NULL;
	json_decref(items);
}

static void test_set(void)
{
	struct mpfs_items it = {0};
	size_t bytes = mpfs_items_bytes();
	char id[16];
	int ok = 1, found = 1;

	CHECK(mpfs_items_find(&it, "x") == NULL);
	/* 1,000 ids added 100 at a time: the index grows and keeps them. */
	for (int i = 0; i < 1000; i++) {
		if (i % 100 == 0 && mpfs_items_room(&it, 100))
			ok = 0;
		snprintf(id, sizeof(id), "s%d", i);
		if (mpfs_items_add(&it, obj_of(id)) != 1)
			ok = 0;
	}
	CHECK(ok);
	CHECK(it.count == 1000);
	CHECK(it.ids_cap > 2 * it.count);
	for (int i = 0; i < 1000; i++) {
		struct mpfs_obj *o;

		snprintf(id, sizeof(id), "s%d", i);
		o = mpfs_items_find(&it, id);
		if (!o || o != it.objs[i] || strcmp(o->id, id))
			found = 0;
	}
	CHECK(found);
	/* An id held already: not added again, the new copy dropped. */
	CHECK(mpfs_items_room(&it, 1) == 0);
	CHECK(mpfs_items_add(&it, obj_of("s7")) == 0);
	CHECK(it.count == 1000);
	CHECK(mpfs_items_bytes() > bytes);
	mpfs_items_release(&it);
	CHECK(mpfs_items_bytes() == bytes);
	CHECK(it.count == 0 && it.objs == NULL && it.ids_cap == 0);
	CHECK(mpfs_items_find(&it, "s1") == NULL);
}

int main(void)
{
	test_page();
	test_set();
	return check_done();
}
