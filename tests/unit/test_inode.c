/* The kernel's inodes: lookup counts, paths, and which version of a file
 * the kernel holds. */
#include <stdlib.h>

#include "check.h"
#include "mpfs/inode.h"

static void test_counts(void)
{
	struct mpfs_inodes *t = mpfs_inodes_new();
	char path[64];
	uint64_t lookups;

	CHECK(mpfs_inodes_path(t, 7, path, sizeof(path)) == -1);
	CHECK(mpfs_inodes_ref(t, 7, "/b/all/s.json") == 0);
	CHECK(mpfs_inodes_ref(t, 7, "/b/by-status/failed/s.json") == 0);
	CHECK(mpfs_inodes_ref(t, 9, "/b") == 0);
	CHECK(mpfs_inodes_count(t, &lookups) == 2 && lookups == 3);
	/* The first path stands: one inode in every view. */
	CHECK(mpfs_inodes_path(t, 7, path, sizeof(path)) == 0);
	CHECK_STR(path, "/b/all/s.json");
	CHECK(mpfs_inodes_path(t, 7, path, 4) == -1); /* does not fit */
	mpfs_inodes_forget(t, 7, 1);
	CHECK(mpfs_inodes_path(t, 7, path, sizeof(path)) == 0);
	mpfs_inodes_forget(t, 7, 1);
	CHECK(mpfs_inodes_path(t, 7, path, sizeof(path)) == -1);
	/* Forgetting more than was looked up, or what is unknown: ignored. */
	mpfs_inodes_forget(t, 9, 5);
	mpfs_inodes_forget(t, 11, 1);
	CHECK(mpfs_inodes_count(t, &lookups) == 0 && lookups == 0);
	mpfs_inodes_free(t);
}

static void test_versions(void)
{
	struct mpfs_inodes *t = mpfs_inodes_new();

	/* Not held by the kernel: nothing to take back, nothing kept. */
	CHECK(mpfs_inodes_newest(t, 5, 100) == 0);
	CHECK(mpfs_inodes_given(t, 5, 100, 1) == 0);
	CHECK(!mpfs_inodes_has_pages(t, 5, 100));

	CHECK(mpfs_inodes_ref(t, 5, "/b/all/s.json") == 0);
	CHECK(mpfs_inodes_given(t, 5, 100, 0) == 0);
	CHECK(!mpfs_inodes_has_pages(t, 5, 100)); /* attributes only */
	CHECK(mpfs_inodes_given(t, 5, 100, 1) == 0);
	CHECK(mpfs_inodes_has_pages(t, 5, 100));
	CHECK(mpfs_inodes_given(t, 5, 100, 0) == 0); /* pages stay */
	CHECK(mpfs_inodes_has_pages(t, 5, 100));
	/* The same version again: nothing to take back. */
	CHECK(mpfs_inodes_newest(t, 5, 100) == 0);
	/* Another: the kernel's copy must go, and then it holds none. */
	CHECK(mpfs_inodes_newest(t, 5, 200) == 1);
	CHECK(!mpfs_inodes_has_pages(t, 5, 100));
	CHECK(mpfs_inodes_newest(t, 5, 300) == 0);
	/* Handing out a version older than the newest: told so. */
	CHECK(mpfs_inodes_given(t, 5, 200, 0) == 1);
	CHECK(mpfs_inodes_ref(t, 5, "/b/all/s.json") == 0);
	CHECK(mpfs_inodes_given(t, 5, 200, 0) == 1);
	CHECK(mpfs_inodes_given(t, 5, 300, 1) == 0);
	CHECK(mpfs_inodes_has_pages(t, 5, 300));
	mpfs_inodes_dropped(t, 5);
	CHECK(!mpfs_inodes_has_pages(t, 5, 300));
	CHECK(mpfs_inodes_newest(t, 5, 400) == 0); /* held none */
	mpfs_inodes_free(t);
}

struct seen {
	uint64_t sum;
	int n;
};

static void visit(void *ctx, uint64_t ino, const char *path)
{
	struct seen *s = ctx;

	s->sum += ino;
	s->n += path[0] == '/';
}

static void test_each(void)
{
	struct mpfs_inodes *t = mpfs_inodes_new();
	struct seen s = {0};
	char path[32];

	for (uint64_t i = 2; i < 1002; i++) {
		snprintf(path, sizeof(path), "/b%llu", (unsigned long long)i);
		mpfs_inodes_ref(t, i, path);
	}
	CHECK(mpfs_inodes_each(t, visit, &s) == 0);
	CHECK(s.n == 1000 && s.sum == (2 + 1001) * 1000 / 2);
	mpfs_inodes_free(t);
}

int main(void)
{
	test_counts();
	test_versions();
	test_each();
	return check_done();
}
