/* arena.c - bump-allocated slots for jansson's parse trees.
 *
 * Lock order: lock only; nothing is called with it held. */
#include "mpfs/arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

/* jansson's blocks hold pointers, sizes and doubles: 8 bytes align them. */
#define GRAIN	 8
#define CLASSES	 128	     /* blocks up to 1 KiB are reused once freed */
#define THP_SIZE (2UL << 20) /* a transparent huge page */

struct mpfs_arena {
	char *base;
	size_t used, size;
	uint64_t *starts;     /* a bit per grain of the slot: a block starts */
	void *freed[CLASSES]; /* blocks freed while parsing, by grains */
	size_t held; /* bytes given back lazily (MADV_FREE): still counted */
	int busy;
	int spilled; /* some of the tree went to malloc */
};

static struct {
	pthread_mutex_t lock; /* guards the slots' busy, held; the counts */
	pthread_cond_t freed;
	struct mpfs_arena *slots;
	int n;
	int waiting;	   /* takers waiting for a slot */
	int urgent;	   /* urgent takers */
	char *start, *end; /* the slots' memory, in one mapping: */
	void *map;	   /* the mapping, a huge page larger */
	size_t map_size;
} arenas = {.lock = PTHREAD_MUTEX_INITIALIZER,
	    .freed = PTHREAD_COND_INITIALIZER};

static _Thread_local struct mpfs_arena *current;

/* The parser frees a fifth of what it takes before the tree is whole (each
 * key's lexed copy, a growing object's hash buckets): such a block goes to
 * the next allocation of its size. jansson does not say a block's size
 * when freeing it, so each block's start is marked, and its size is the
 * distance to the next mark. */
static void *arena_malloc(size_t size)
{
	struct mpfs_arena *a = current;
	size_t n = size / GRAIN + (size % GRAIN != 0), g;
	void *p;

	if (!a)
		return malloc(size);
	n += !n;
	if (n < CLASSES && a->freed[n]) {
		p = a->freed[n];
		a->freed[n] = *(void **)p;
		return p;
	}
	if (n > (a->size - a->used) / GRAIN) {
		a->spilled = 1;
		return malloc(size);
	}
	g = a->used / GRAIN;
	a->starts[g / 64] |= 1ULL << (g % 64);
	p = a->base + a->used;
	a->used += n * GRAIN;
	return p;
}

/* The grains of a's block at grain g, or CLASSES when it is that large. */
static size_t block_grains(const struct mpfs_arena *a, size_t g)
{
	size_t end = a->used / GRAIN, next;

	if (end > g + CLASSES)
		end = g + CLASSES;
	for (size_t i = g + 1; i < end; i = (i / 64 + 1) * 64) {
		int bit = ffsll((long long)(a->starts[i / 64] >> (i % 64)));

		if (bit) {
			next = i + (size_t)bit - 1;
			return (next < end ? next : end) - g;
		}
	}
	return end - g;
}

static void arena_free(void *p)
{
	struct mpfs_arena *a = current;
	char *c = p;

	if (c < arenas.start || c >= arenas.end) {
		free(p);
		return;
	}
	/* A block of another slot, or freed after the parse: it goes with
	 * its slot. */
	if (a && c >= a->base && c < a->base + a->used) {
		size_t n = block_grains(a, (size_t)(c - a->base) / GRAIN);

		if (n < CLASSES) {
			*(void **)p = a->freed[n];
			a->freed[n] = p;
		}
	}
}

int mpfs_arenas_init(int slots, size_t size)
{
	size_t bits; /* bytes of a slot's marks */
	void *mem;

	size = (size + THP_SIZE - 1) & ~(THP_SIZE - 1);
	bits = size / GRAIN / 8;
	arenas.slots = calloc((size_t)slots, sizeof(*arenas.slots));
	/* One huge page more, so that every slot starts on one: a tree is
	 * then faulted in 2 MiB at a time, not 4 KiB (a page of 1,000 heavy
	 * syncs parses into 12.3 MiB: 7 faults instead of 3,150). The slots'
	 * marks follow them. */
	arenas.map_size = (size + bits) * (size_t)slots + THP_SIZE;
	mem = arenas.slots
		  ? mmap(NULL, arenas.map_size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
		  : MAP_FAILED;
	if (mem == MAP_FAILED) {
		free(arenas.slots);
		arenas.slots = NULL;
		return -1;
	}
	arenas.map = mem;
	mem = (void *)(((uintptr_t)mem + THP_SIZE - 1) &
		       ~(uintptr_t)(THP_SIZE - 1));
	madvise(mem, size * (size_t)slots, MADV_HUGEPAGE); /* a hint */
	arenas.start = mem;
	arenas.end = (char *)mem + size * (size_t)slots;
	for (int i = 0; i < slots; i++) {
		arenas.slots[i].base = (char *)mem + size * (size_t)i;
		arenas.slots[i].size = size;
		arenas.slots[i].starts =
		    (uint64_t *)(arenas.end + bits * (size_t)i);
	}
	arenas.n = slots;
	json_set_alloc_funcs(arena_malloc, arena_free);
	return 0;
}

void mpfs_arenas_cleanup(void)
{
	if (!arenas.slots)
		return;
	json_set_alloc_funcs(malloc, free);
	munmap(arenas.map, arenas.map_size);
	free(arenas.slots);
	arenas.slots = NULL;
	arenas.n = 0;
	arenas.start = arenas.end = NULL;
}

struct mpfs_arena *mpfs_arena_take(int urgent)
{
	struct mpfs_arena *a = NULL;

	if (!arenas.n)
		return NULL;
	pthread_mutex_lock(&arenas.lock);
	arenas.urgent += urgent;
	for (;;) {
		for (int i = 0; i < arenas.n && !a; i++)
			if (!arenas.slots[i].busy)
				a = &arenas.slots[i];
		if (a && (urgent || !arenas.urgent))
			break;
		a = NULL;
		arenas.waiting++;
		pthread_cond_wait(&arenas.freed, &arenas.lock);
		arenas.waiting--;
	}
	arenas.urgent -= urgent;
	a->busy = 1;
	a->used = 0;
	memset(a->freed, 0, sizeof(a->freed));
	a->spilled = 0;
	pthread_mutex_unlock(&arenas.lock);
	current = a;
	return a;
}

void mpfs_arena_stop(void)
{
	current = NULL;
}

int mpfs_arena_spilled(const struct mpfs_arena *a)
{
	return a->spilled;
}

void mpfs_arena_give(struct mpfs_arena *a)
{
	size_t used;
	int lazy;

	if (!a)
		return;
	/* The tree's memory goes back to the system; lazily when a page
	 * waits for the slot, which then reuses what the system has not
	 * taken back, without a page fault for each 4 KiB of it. */
	memset(a->starts, 0, (a->used / GRAIN + 63) / 64 * sizeof(*a->starts));
	used =
	    (a->used + THP_SIZE - 1) & ~(THP_SIZE - 1); /* whole huge pages */
	pthread_mutex_lock(&arenas.lock);
	lazy = arenas.waiting > 0;
	pthread_mutex_unlock(&arenas.lock);
	madvise(a->base, used, lazy ? MADV_FREE : MADV_DONTNEED);
	pthread_mutex_lock(&arenas.lock);
	if (lazy && used > a->held)
		a->held = used;
	a->busy = 0;
	pthread_cond_broadcast(&arenas.freed); /* the urgent first */
	pthread_mutex_unlock(&arenas.lock);
}

void mpfs_arenas_trim(void)
{
	pthread_mutex_lock(&arenas.lock);
	for (int i = 0; i < arenas.n; i++) {
		struct mpfs_arena *a = &arenas.slots[i];

		if (!a->busy && a->held) {
			madvise(a->base, a->held, MADV_DONTNEED);
			madvise(a->starts, a->held / GRAIN / 8, MADV_DONTNEED);
			a->held = 0;
		}
	}
	pthread_mutex_unlock(&arenas.lock);
}
