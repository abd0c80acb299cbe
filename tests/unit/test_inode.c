/* The kernel's inodes: lookup counts, paths, and which version of a file
 * the kernel holds. */
#include <stdlib.h>

#include "check.h"
#include "mpfs/inode.h"
#include "mpfs/render.h"

/* What a read would be answered from (and the read done at once). */
static struct mpfs_obj *held(struct mpfs_inodes *t, uint64_t ino)
{
	struct mpfs_obj *obj = mpfs_inodes_read_held(t, ino);

	if (obj)
		mpfs_inodes_read_done(t, ino);
	return obj;
}

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

	struct mpfs_obj *v100 = version(100), *v200 = version(200),
			*v300 = version(300), *got;

	/* Not held by the kernel: nothing to take back, nothing kept. */
	CHECK(mpfs_inodes_newest(t, 5, 100, NULL) == 0);
	CHECK(mpfs_inodes_given(t, 5, 100, 1) == 0);
	CHECK(!mpfs_inodes_has_pages(t, 5, 100));

	CHECK(mpfs_inodes_ref(t, 5, "/b/all/s.json") == 0);
	CHECK(mpfs_inodes_given(t, 5, 100, 0) == 0);
	CHECK(mpfs_inodes_holds(t, 5, 100));
	CHECK(!mpfs_inodes_has_pages(t, 5, 100)); /* attributes only */
	CHECK(mpfs_inodes_given(t, 5, 100, 1) == 0);
	CHECK(mpfs_inodes_has_pages(t, 5, 100));
	CHECK(mpfs_inodes_given(t, 5, 100, 0) == 0); /* pages stay */
	CHECK(mpfs_inodes_has_pages(t, 5, 100));
	/* The same version again: nothing to take back, nothing held. */
	CHECK(mpfs_inodes_newest(t, 5, 100, v100) == 0);
	CHECK(held(t, 5) == NULL);
	/* Another: the kernel's copy must go; until it has gone, it still
	 * holds the old one, whose bytes answer its reads. */
	CHECK(mpfs_inodes_newest(t, 5, 200, v100) == 1);
	CHECK(mpfs_inodes_holds(t, 5, 100));
	got = held(t, 5);
	CHECK(got == v100);
	mpfs_obj_unref(got);
	CHECK(mpfs_inodes_newest(t, 5, 300, v200) == 1); /* still 100 */
	mpfs_inodes_dropped(t, 5);
	/* Told, the kernel may still be in a read that keeps the old size:
	 * held until the attributes of another version go out. */
	got = held(t, 5);
	CHECK(got == v100);
	mpfs_obj_unref(got);
	mpfs_inodes_giving(t, 5, v100); /* the same version: kept */
	got = held(t, 5);
	CHECK(got == v100);
	mpfs_obj_unref(got);
	mpfs_inodes_giving(t, 5, v300);
	CHECK(held(t, 5) == NULL);
	CHECK(!mpfs_inodes_has_pages(t, 5, 100));
	CHECK(mpfs_inodes_newest(t, 5, 300, NULL) == 0); /* holds none */
	/* Handing out a version older than the newest (a view not refreshed
	 * yet): told so after the reply, and its bytes answer the reads
	 * meanwhile, not the newest's, until another version goes out. */
	mpfs_inodes_giving(t, 5, v200);
	got = held(t, 5);
	CHECK(got == v200);
	mpfs_obj_unref(got);
	CHECK(mpfs_inodes_given(t, 5, 200, 0) == 1);
	got = held(t, 5);
	CHECK(got == v200);
	mpfs_obj_unref(got);
	mpfs_inodes_giving(t, 5, v300);
	CHECK(held(t, 5) == NULL);
	CHECK(mpfs_inodes_ref(t, 5, "/b/all/s.json") == 0);
	CHECK(mpfs_inodes_given(t, 5, 200, 0) == 1);
	CHECK(mpfs_inodes_given(t, 5, 300, 1) == 0);
	CHECK(mpfs_inodes_has_pages(t, 5, 300));
	/* Attributes of another version given: what was held goes. */
	CHECK(mpfs_inodes_newest(t, 5, 400, v200) == 1);
	CHECK(held(t, 5) == NULL); /* v200 is not what it holds */
	mpfs_inodes_dropped(t, 5);
	CHECK(!mpfs_inodes_has_pages(t, 5, 300));
	CHECK(mpfs_inodes_newest(t, 5, 500, NULL) == 0); /* held none */
	mpfs_obj_unref(v100);
	mpfs_obj_unref(v200);
	mpfs_obj_unref(v300);
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
