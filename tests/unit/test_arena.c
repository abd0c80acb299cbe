/* The parse slots: blocks bumped off a slot 8 bytes apart, a block freed
 * while parsing given to the next allocation of its size, frees that are
 * not the slot's own ignored, and trees parsed there equal to malloc's. */
#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/arena.h"

static json_malloc_t jmalloc;
static json_free_t jfree;

static void test_freed_blocks_serve_their_size(void)
{
	struct mpfs_arena *a = mpfs_arena_take(0);
	char *x, *y, *z, *big;

	x = jmalloc(20);
	y = jmalloc(24);
	CHECK(x && y == x + 24 && (uintptr_t)x % 8 == 0);
	jfree(x); /* 24 bytes: the next block marks its end */
	CHECK(jmalloc(16) == y + 24);
	CHECK(jmalloc(17) == x);
	z = jmalloc(40);
	jfree(z); /* the last block: it ends where the slot's use does */
	CHECK(jmalloc(33) == z);
	big = jmalloc(2000);
	jfree(big); /* too large to be kept */
	CHECK(jmalloc(2000) == big + 2000);
	CHECK(!mpfs_arena_spilled(a));
	mpfs_arena_stop();
	mpfs_arena_give(a);
}

/* A tree's marks go with it: the next tree's blocks have their own. */
static void test_a_slot_taken_again_starts_clean(void)
{
	struct mpfs_arena *a = mpfs_arena_take(0);
	char *first = jmalloc(8), *b;

	for (int i = 0; i < 100; i++)
		jmalloc(8);
	mpfs_arena_stop();
	mpfs_arena_give(a);
	a = mpfs_arena_take(0);
	b = jmalloc(64);
	CHECK(b == first);
	jmalloc(8);
	jfree(b);
	CHECK(jmalloc(64) == b);
	mpfs_arena_stop();
	mpfs_arena_give(a);
}

struct other {
	struct mpfs_arena *slot;
	char *block;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int state; /* 1: block taken; 2: may give the slot back */
};

static void *take_other(void *arg)
{
	struct other *o = arg;

	o->slot = mpfs_arena_take(0);
	o->block = jmalloc(32);
	jmalloc(8);
	pthread_mutex_lock(&o->lock);
	o->state = 1;
	pthread_cond_broadcast(&o->cond);
	while (o->state != 2)
		pthread_cond_wait(&o->cond, &o->lock);
	pthread_mutex_unlock(&o->lock);
	mpfs_arena_stop();
	mpfs_arena_give(o->slot);
	return NULL;
}

/* A block of another thread's slot goes with its slot: it is not handed
 * out again. */
static void test_frees_not_of_the_parse_are_ignored(void)
{
	struct other o = {.lock = PTHREAD_MUTEX_INITIALIZER,
			  .cond = PTHREAD_COND_INITIALIZER};
	struct mpfs_arena *a;
	pthread_t t;

	pthread_create(&t, NULL, take_other, &o);
	pthread_mutex_lock(&o.lock);
	while (o.state != 1)
		pthread_cond_wait(&o.cond, &o.lock);
	pthread_mutex_unlock(&o.lock);

	a = mpfs_arena_take(0);
	CHECK(a != o.slot);
	jfree(o.block);
	CHECK(jmalloc(32) != o.block);
	mpfs_arena_stop();
	mpfs_arena_give(a);

	pthread_mutex_lock(&o.lock);
	o.state = 2;
	pthread_cond_broadcast(&o.cond);
	pthread_mutex_unlock(&o.lock);
	pthread_join(t, NULL);
}

/* A page of objects with the same keys, each key lexed, copied into its
 * object and freed, and objects growing their hash tables: parsed in a
 * slot, where those blocks are reused, it is the tree malloc gives. */
static void test_a_tree_parsed_in_a_slot_is_malloc_s(void)
{
	json_t *items = json_array(), *page, *want, *got;
	struct mpfs_arena *a;
	char *text;

	for (int i = 0; i < 2000; i++) {
		json_t *o = json_object();

		for (int k = 0; k < 40; k++) {
			char key[32];

			snprintf(key, sizeof(key), "field_%d%s", k,
				 k % 3 ? "_long_name" : "");
			json_object_set_new(o, key,
					    k % 2
						? json_integer(i * k)
						: json_sprintf("v%d.%d", i, k));
		}
		json_array_append_new(items, o);
	}
	page = json_pack("{s:o}", "results", items);
	text = json_dumps(page, JSON_COMPACT);
	want = json_loads(text, 0, NULL);

	a = mpfs_arena_take(1);
	got = json_loads(text, 0, NULL);
	mpfs_arena_stop();
	CHECK(got && json_equal(got, want) && !mpfs_arena_spilled(a));
	if (got) {
		char *again = json_dumps(got, JSON_COMPACT);

		CHECK_STR(again, text);
		free(again);
	}
	mpfs_arena_give(a);
	json_decref(want);
	json_decref(page);
	free(text);
}

int main(void)
{
	if (mpfs_arenas_init(2, 64UL << 20))
		return 1;
	json_get_alloc_funcs(&jmalloc, &jfree);
	test_freed_blocks_serve_their_size();
	test_a_slot_taken_again_starts_clean();
	test_frees_not_of_the_parse_are_ignored();
	test_a_tree_parsed_in_a_slot_is_malloc_s();
	mpfs_arenas_cleanup();
	return check_done();
}
