/* Blocks that objects are bumped off: what they hold, when they go, when
 * they are sparse; and objects rendered into them. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/render.h"
#include "mpfs/slab.h"

#define BLOCK (2UL << 20)

static int zeroed(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* One after another in one block, zeroed, 16-byte aligned; the block
 * held while current, and gone once trimmed and empty. */
static void test_bump_and_give_back(void)
{
	struct mpfs_slab *s1, *s2, *s3;
	char *a, *b, *c;
	size_t base = mpfs_slab_bytes();

	CHECK(base == 0);
	a = mpfs_slab_alloc(100, &s1);
	b = mpfs_slab_alloc(1000, &s2);
	c = mpfs_slab_alloc(1, &s3);
	CHECK(a && b && c && s1 == s2 && s2 == s3);
	CHECK(b == a + 112 && c == b + 1008);
	CHECK(((uintptr_t)a | (uintptr_t)b | (uintptr_t)c) % 16 == 0);
	CHECK(zeroed(a, 100) && zeroed(b, 1000) && zeroed(c, 1));
	CHECK(mpfs_slab_bytes() == 112 + 1008 + 16);
	memset(a, 1, 100);
	mpfs_slab_free(s1, a, 100);
	mpfs_slab_free(s2, b, 1000);
	CHECK(mpfs_slab_bytes() == 16);
	mpfs_slab_free(s3, c, 1);
	/* the current block stays; its holes are not counted, nor reused */
	CHECK(mpfs_slab_bytes() == 0);
	a = mpfs_slab_alloc(100, &s1);
	CHECK(a == c + 16 && zeroed(a, 100) && mpfs_slab_bytes() == 112);
	mpfs_slab_trim(); /* its holes count now, until it goes */
	CHECK(mpfs_slab_bytes() > 112 + 1008 + 16 + 112);
	mpfs_slab_free(s1, a, 100);
	CHECK(mpfs_slab_bytes() == 0);
}

/* A full block makes way for a new one, and goes with its last object;
 * blocks grow with what they hold, to huge pages: small for a few objects,
 * 2 MiB once megabytes are held. */
static void test_blocks_go_with_their_objects(void)
{
	enum { N = 4000 };
	static char *p[N];
	static struct mpfs_slab *s[N];
	struct mpfs_slab *first;
	size_t n = 0, before, k, run = 0, longest = 0;

	p[0] = mpfs_slab_alloc(4000, &s[0]);
	first = s[0];
	for (n = 1; n < N && (p[n] = mpfs_slab_alloc(4000, &s[n])); n++)
		if (s[n] != first)
			break;
	CHECK(n < N && s[n] != first && n == (64 * 1024 - 32) / 4000);
	before = mpfs_slab_bytes();
	CHECK(before > (n + 1) * 4000 && before < (n + 1) * 4000 + 64);
	for (size_t i = 1; i < n; i++)
		mpfs_slab_free(s[i], p[i], 4000);
	CHECK(mpfs_slab_bytes() == before); /* holes of a full block */
	CHECK(mpfs_slab_sparse(first));
	mpfs_slab_free(s[0], p[0], 4000);
	CHECK(mpfs_slab_bytes() == 4000); /* gone with its last object */
	for (k = n + 1; k < N && (p[k] = mpfs_slab_alloc(4000, &s[k])); k++) {
		run = s[k] == s[k - 1] ? run + 1 : 1;
		longest = run > longest ? run : longest;
	}
	CHECK(k == N && longest == (2 * 1024 * 1024 - 32) / 4000);
	for (k = n; k < N; k++)
		mpfs_slab_free(s[k], p[k], 4000);
	mpfs_slab_trim();
	CHECK(mpfs_slab_bytes() == 0);
}

/* Sparse once less than half of what was bumped off is alive. */
static void test_sparse(void)
{
	struct mpfs_slab *s[4];
	char *p[4];

	for (int i = 0; i < 4; i++)
		p[i] = mpfs_slab_alloc(10000, &s[i]);
	CHECK(s[0] == s[3] && !mpfs_slab_sparse(s[0]));
	mpfs_slab_free(s[0], p[0], 10000);
	CHECK(!mpfs_slab_sparse(s[1]));
	mpfs_slab_free(s[1], p[1], 10000);
	CHECK(mpfs_slab_sparse(s[2])); /* half of it, and the header */
	mpfs_slab_free(s[2], p[2], 10000);
	mpfs_slab_free(s[3], p[3], 10000);
	mpfs_slab_trim();
	CHECK(mpfs_slab_bytes() == 0);
}

/* Larger than an eighth of a block: not in one (malloc them). */
static void test_too_large(void)
{
	struct mpfs_slab *s = NULL;

	CHECK(mpfs_slab_alloc(BLOCK / 8 + 1, &s) == NULL && s == NULL);
	CHECK(mpfs_slab_bytes() == 0);
}

static void *churn(void *arg)
{
	char *p[64];
	struct mpfs_slab *s[64];
	int ok = 1;

	(void)arg;
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < 64; i++) {
			p[i] = mpfs_slab_alloc(100 + 37 * (size_t)i, &s[i]);
			ok &= p[i] && zeroed(p[i], 100 + 37 * (size_t)i);
			if (p[i])
				memset(p[i], 0xa5, 100 + 37 * (size_t)i);
		}
		for (int i = 0; i < 64; i++)
			if (p[i])
				mpfs_slab_free(s[i], p[i],
					       100 + 37 * (size_t)i);
	}
	return ok ? arg : NULL;
}

/* Threads at once: every allocation distinct and zeroed, every block
 * gone at the end. */
static void test_threads(void)
{
	static int tags[4];
	pthread_t t[4];
	void *r;
	int ok = 1;

	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, churn, &tags[i]);
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], &r);
		ok &= r == &tags[i];
	}
	CHECK(ok);
	mpfs_slab_trim();
	CHECK(mpfs_slab_bytes() == 0);
}

/* A sync rendered is in a block, counted in the objects' bytes, and
 * sparse once most of its block is gone; a large one is malloc'd. */
static void test_objects(void)
{
	struct mpfs_obj *o[3], *big;
	struct mpfs_err err;
	json_t *json;
	char *text = malloc(BLOCK / 4);

	for (int i = 0; i < 3; i++) {
		json = json_pack("{s:s, s:i}", "sync_config_id", "s", "n", i);
		o[i] =
		    mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err);
		json_decref(json);
	}
	CHECK(o[0] && o[1] && o[2] && o[0]->slab && o[0]->slab == o[2]->slab);
	CHECK(mpfs_obj_bytes() == mpfs_slab_bytes() &&
	      mpfs_obj_bytes() >= 3 * o[0]->bytes);
	mpfs_slab_trim();
	CHECK(!mpfs_obj_sparse(o[2]));
	mpfs_obj_unref(o[0]);
	mpfs_obj_unref(o[1]);
	CHECK(mpfs_obj_sparse(o[2]));
	mpfs_obj_unref(o[2]);
	CHECK(mpfs_obj_bytes() == 0);

	memset(text, 'x', BLOCK / 4 - 1);
	text[BLOCK / 4 - 1] = '\0';
	json = json_pack("{s:s, s:s}", "sync_config_id", "b", "note", text);
	big = mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err);
	json_decref(json);
	CHECK(big && !big->slab && mpfs_obj_bytes() == big->bytes &&
	      mpfs_slab_bytes() == 0 && !mpfs_obj_sparse(big));
	mpfs_obj_unref(big);
	CHECK(mpfs_obj_bytes() == 0);
	free(text);
}

int main(void)
{
	test_bump_and_give_back();
	test_blocks_go_with_their_objects();
	test_sparse();
	test_too_large();
	test_threads();
	test_objects();
	return check_done();
}
