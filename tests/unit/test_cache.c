/* TTL lifetimes under a fake clock. */
#include <stdlib.h>

#include "check.h"
#include "mpfs/cache.h"

static double now;
static int live;

static double fake_clock(void)
{
	return now;
}

struct val {
	int refs;
	int id;
};

static void *ref(void *v)
{
	((struct val *)v)->refs++;
	return v;
}

static void unref(void *p)
{
	struct val *v = p;

	if (--v->refs == 0) {
		live--;
		free(v);
	}
}

static struct val *val_new(int id)
{
	struct val *v = malloc(sizeof(*v));

	v->refs = 1;
	v->id = id;
	live++;
	return v;
}

static const struct mpfs_cache_ops ops = {ref, unref, NULL, NULL};

/* A put whose caller has no use for the value it replaced. */
static void put(struct mpfs_cache *c, const char *key, struct val *v)
{
	struct val *old = mpfs_cache_put(c, key, v);

	if (old)
		unref(old);
}

static void test_ttl(void)
{
	struct mpfs_cache *c = mpfs_cache_new(30, &ops, fake_clock);
	struct val *v = val_new(1), *got;

	now = 100;
	put(c, "a", v);
	unref(v);
	now = 129.9;
	got = mpfs_cache_get(c, "a");
	CHECK(got && got->id == 1);
	now = 130;
	CHECK(mpfs_cache_get(c, "a") == NULL);
	/* The holder's reference outlives expiry. */
	CHECK(got->refs == 1 && live == 1);
	unref(got);
	CHECK(live == 0);
	CHECK(mpfs_cache_get(c, "missing") == NULL);
	mpfs_cache_free(c);
}

static void test_put_new_and_replace(void)
{
	struct mpfs_cache *c = mpfs_cache_new(10, &ops, fake_clock);
	struct val *a = val_new(1), *b = val_new(2), *got;

	now = 0;
	got = mpfs_cache_put_new(c, "k", a);
	CHECK(got == a);
	unref(got);
	got = mpfs_cache_put_new(c, "k", b); /* a is fresh: a wins */
	CHECK(got == a);
	unref(got);
	got = mpfs_cache_put(c, "k", b); /* put replaces, and says what */
	CHECK(got == a);
	unref(got);
	got = mpfs_cache_put(c, "k", b); /* the same again: only stamped */
	CHECK(got == b);
	unref(got);
	got = mpfs_cache_get(c, "k");
	CHECK(got == b);
	unref(got);
	unref(a);
	unref(b);
	CHECK(live == 1);
	mpfs_cache_clear(c);
	CHECK(live == 0);
	mpfs_cache_free(c);
}

static void test_zero_ttl_and_prune(void)
{
	struct mpfs_cache *c = mpfs_cache_new(0, &ops, fake_clock);
	char key[16];

	now = 5;
	for (int i = 0; i < 1000; i++) {
		struct val *v = val_new(i);

		snprintf(key, sizeof(key), "k%d", i);
		put(c, key, v);
		unref(v);
	}
	CHECK(mpfs_cache_get(c, "k999") == NULL);
	/* Expired entries nobody asked for again do not pile up. */
	CHECK(live < 600);
	mpfs_cache_free(c);
	CHECK(live == 0);
}

static void test_grace(void)
{
	struct mpfs_cache *c = mpfs_cache_new(10, &ops, fake_clock);
	struct val *a = val_new(1), *b = val_new(2), *got;
	double age;

	mpfs_cache_set_grace(c, 100);
	now = 0;
	put(c, "k", a);
	now = 50; /* stale, within grace */
	CHECK(mpfs_cache_get(c, "k") == NULL);
	got = mpfs_cache_get_stale(c, "k", &age);
	CHECK(got == a && age == 50);
	unref(got);
	/* A refresh replaces it; the replaced value is still there to serve
	 * if the new one cannot be had. */
	got = mpfs_cache_put_new(c, "k", b);
	CHECK(got == b);
	unref(got);
	got = mpfs_cache_get(c, "k");
	CHECK(got == b);
	unref(got);
	got = mpfs_cache_get_replaced(c, "k", &age);
	CHECK(got == a && age == 50);
	unref(got);
	now = 65; /* b stale: the newest value still wins */
	got = mpfs_cache_get_stale(c, "k", &age);
	CHECK(got == b && age == 15);
	unref(got);
	now = 120; /* b in grace, a past it */
	got = mpfs_cache_get_stale(c, "k", NULL);
	CHECK(got == b);
	unref(got);
	CHECK(mpfs_cache_get_replaced(c, "k", NULL) == NULL);
	unref(a);
	CHECK(live == 1);
	now = 1000; /* past all grace */
	CHECK(mpfs_cache_get_stale(c, "k", NULL) == NULL);
	unref(b);
	CHECK(live == 0);
	mpfs_cache_free(c);
}

/* A value held by others than the cache is busy, for the eviction test. */
static int busy(void *p)
{
	return ((struct val *)p)->refs > 1;
}

static void test_eviction_order(void)
{
	static const struct mpfs_cache_ops busy_ops = {ref, unref, NULL, busy};
	struct mpfs_cache *c = mpfs_cache_new(100, &busy_ops, fake_clock);
	struct val *held, *got;
	unsigned long evicted;
	char key[8];

	for (int i = 0; i < 4; i++) {
		struct val *v = val_new(i);

		now = i;
		snprintf(key, sizeof(key), "k%d", i);
		put(c, key, v);
		unref(v);
	}
	CHECK(live == 4);
	/* a get makes k0 the newest: k1 (used at 1) is the oldest */
	now = 10;
	got = mpfs_cache_get(c, "k0");
	unref(got);
	CHECK(mpfs_cache_oldest(c) == 1);
	held = mpfs_cache_get(c, "k1");		/* newest, and in use: kept */
	CHECK(mpfs_cache_evict_oldest(c) == 1); /* k2 */
	CHECK(mpfs_cache_get(c, "k2") == NULL);
	CHECK(mpfs_cache_evict_oldest(c) == 1); /* k3 */
	CHECK(mpfs_cache_evict_oldest(c) == 1); /* k0 */
	CHECK(mpfs_cache_evict_oldest(c) == 0); /* k1 alone, and busy */
	CHECK(mpfs_cache_count(c, &evicted) == 1 && evicted == 3);
	CHECK(live == 1);
	unref(held);
	CHECK(mpfs_cache_evict_oldest(c) == 1);
	CHECK(live == 0 && mpfs_cache_oldest(c) == -1);
	mpfs_cache_free(c);
}

int main(void)
{
	test_ttl();
	test_put_new_and_replace();
	test_zero_ttl_and_prune();
	test_grace();
	test_eviction_order();
	return check_done();
}
