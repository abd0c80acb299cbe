/* Ids sent more than once within a page: which copies are skipped, what a
 * page records, and what a listing counts once. */
#include <jansson.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/dups.h"

static json_t *page(const char *const *ids, size_t n)
{
	json_t *items = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(items,
				      ids[i] ? json_pack("{s:s}", "id", ids[i])
					     : json_pack("{s:i}", "n", (int)i));
	return items;
}

static void test_copies_after_the_first_are_skipped(void)
{
	const char *ids[] = {"a", "b", "a", "c", "a", "b", NULL, ""};
	unsigned char skip[8] = {0}, want[8] = {0, 0, 1, 0, 1, 1, 0, 0};
	json_t *items = page(ids, 8);
	struct mpfs_page_dups p = {0};

	mpfs_dups_find(items, "id", skip, &p);
	CHECK(memcmp(skip, want, sizeof(want)) == 0);
	CHECK(p.n == 2); /* in the order of their second copies */
	if (p.n == 2) {
		CHECK_STR(p.v[0].id, "a");
		CHECK(p.v[0].copies == 3);
		CHECK_STR(p.v[1].id, "b");
		CHECK(p.v[1].copies == 2);
	}
	mpfs_page_dups_free(&p);
	CHECK(p.n == 0 && p.v == NULL);
	json_decref(items);
}

/* Pages that overlap bring the same pair again: counted once. */
static void test_a_listing_counts_each_id_once(void)
{
	const char *one[] = {"x", "y", "x"}, *two[] = {"x", "x", "z", "z", "z"};
	json_t *a = page(one, 3), *b = page(two, 5);
	struct mpfs_page_dups pa = {0}, pb = {0};
	struct mpfs_dups d = {0};
	unsigned char skip[5] = {0};

	mpfs_dups_find(a, "id", skip, &pa);
	mpfs_dups_find(b, "id", skip, &pb);
	mpfs_dups_count(&d, &pa);
	mpfs_dups_count(&d, &pb);
	mpfs_dups_count(&d, &pa);
	CHECK(d.count == 2);
	CHECK_STR(d.first, "x");
	CHECK(d.first_copies == 2);
	mpfs_dups_tell(&d, "test");
	CHECK(d.told);
	mpfs_dups_release(&d);
	mpfs_page_dups_free(&pa);
	mpfs_page_dups_free(&pb);
	json_decref(a);
	json_decref(b);
}

int main(void)
{
	test_copies_after_the_first_are_skipped();
	test_a_listing_counts_each_id_once();
	return check_done();
}
