/* The kernel's inodes: lookup counts, paths, and the version of a sync
 * each stands for, with its bytes once replaced. */
#include <stdatomic.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/inode.h"
#include "mpfs/render.h"

/* An object of version digest. */
static struct mpfs_obj *version(uint64_t digest)
{
	json_t *json = json_pack("{ss}", "sync_config_id", "s");
	struct mpfs_err err;
	struct mpfs_obj *obj =
	    mpfs_obj_new(json, "sync_config_id", ".json", 0, digest, &err);

	json_decref(json);
	CHECK(obj != NULL);
	return obj;
}

static void test_counts(void)
{
	struct mpfs_inodes *t = mpfs_inodes_new();
	char path[64];
	uint64_t lookups;

	CHECK(mpfs_inodes_path(t, 7, path, sizeof(path)) == -1);
	CHECK(mpfs_inodes_ref(t, 7, "/b/all/s.json", NULL, NULL) == 0);
	CHECK(mpfs_inodes_ref(t, 7, "/b/by-status/failed/s.json", NULL, NULL) ==
	      0);
	CHECK(mpfs_inodes_ref(t, 9, "/b", NULL, NULL) == 0);
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
	struct mpfs_obj *v100 = version(100), *v200 = version(200), *kept;
	struct stat st = {.st_size = 42, .st_nlink = 3}, got = {0};

	st.st_mtim.tv_sec = 1700000000;
	/* Not held by the kernel: no version, nothing kept. */
	CHECK(mpfs_inodes_version(t, 5, &got, &kept) == 0 && kept == NULL);
	mpfs_inodes_superseded(t, 5, v100);
	CHECK(!mpfs_inodes_wants_pages(t, 5));

	/* Held: the version and the attributes it was given with, whatever
	 * a later reference says. */
	CHECK(mpfs_inodes_ref(t, 5, "/b/all/s.json", v100, &st) == 0);
	st.st_size = 99;
	CHECK(mpfs_inodes_ref(t, 5, "/b/active/s.json", v100, &st) == 0);
	CHECK(mpfs_inodes_version(t, 5, &got, &kept) == 100 && kept == NULL);
	CHECK(got.st_size == 42 && got.st_nlink == 3 &&
	      got.st_mtim.tv_sec == 1700000000 && got.st_blocks == 1);
	/* A node without versions: none. */
	CHECK(mpfs_inodes_ref(t, 6, "/b/bucket.json", NULL, &st) == 0);
	CHECK(mpfs_inodes_version(t, 6, NULL, &kept) == 0 && kept == NULL);

	/* Pages: wanted until given, wanted again once dropped. */
	CHECK(mpfs_inodes_wants_pages(t, 5));
	mpfs_inodes_paged(t, 5);
	CHECK(!mpfs_inodes_wants_pages(t, 5));
	mpfs_inodes_dropped(t, 5);
	CHECK(mpfs_inodes_wants_pages(t, 5));

	/* Replaced: the bytes are kept for the inode, only for its own
	 * version, until the kernel forgets it. */
	mpfs_inodes_superseded(t, 5, v200);
	CHECK(mpfs_inodes_version(t, 5, NULL, &kept) == 100 && kept == NULL);
	mpfs_inodes_superseded(t, 5, v100);
	CHECK(mpfs_inodes_version(t, 5, NULL, &kept) == 100 && kept == v100);
	mpfs_obj_unref(kept);
	mpfs_inodes_forget(t, 5, 2);
	CHECK(mpfs_inodes_version(t, 5, NULL, &kept) == 0 && kept == NULL);

	/* Replaced before the kernel had it (a view not refreshed yet):
	 * kept from the first reference. */
	atomic_store(&v200->superseded, 1);
	CHECK(mpfs_inodes_ref(t, 8, "/b/all/s.json", v200, &st) == 0);
	CHECK(mpfs_inodes_version(t, 8, NULL, &kept) == 200 && kept == v200);
	mpfs_obj_unref(kept);
	mpfs_obj_unref(v100);
	mpfs_obj_unref(v200);
	mpfs_inodes_free(t); /* what it kept goes with it (ASan's check) */
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
		mpfs_inodes_ref(t, i, path, NULL, NULL);
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
