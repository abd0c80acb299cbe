/* arena.c - bump-allocated slots for jansson's parse trees.
 *
 * Lock order: lock only; nothing is called with it held. */
#include "mpfs/arena.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#define ALIGN	 16
#define THP_SIZE (2UL << 20) /* a transparent huge page */

struct mpfs_arena {
	char *base;
	size_t used, size;
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

static void *arena_malloc(size_t size)
{
	struct mpfs_arena *a = current;
	size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);

	if (a && need >= size && a->size - a->used >= need) {
		void *p = a->base + a->used;

		a->used += need;
		return p;
	}
	if (a)
		a->spilled = 1;
	return malloc(size);
}

static void arena_free(void *p)
{
	if ((char *)p >= arenas.start && (char *)p < arenas.end)
		return; /* goes with its slot */
	free(p);
}

int mpfs_arenas_init(int slots, size_t size)
{
	void *mem;

	size = (size + THP_SIZE - 1) & ~(THP_SIZE - 1);
	arenas.slots = calloc((size_t)slots, sizeof(*arenas.slots));
	/* One huge page more, so that every slot starts on one: a tree is
	 * then faulted in 2 MiB at a time, not 4 KiB (a page of 1,000 heavy
	 * syncs parses into 16 MiB: 8 faults instead of 4,000). */
	mem = arenas.slots
		  ? mmap(NULL, size * (size_t)slots + THP_SIZE,
			 PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
		  : MAP_FAILED;
	if (mem == MAP_FAILED) {
		free(arenas.slots);
		arenas.slots = NULL;
		return -1;
	}
	arenas.map = mem;
	arenas.map_size = size * (size_t)slots + THP_SIZE;
	mem = (void *)(((uintptr_t)mem + THP_SIZE - 1) &
		       ~(uintptr_t)(THP_SIZE - 1));
	madvise(mem, size * (size_t)slots, MADV_HUGEPAGE); /* a hint */
	for (int i = 0; i < slots; i++) {
		arenas.slots[i].base = (char *)mem + size * (size_t)i;
		arenas.slots[i].size = size;
	}
	arenas.n = slots;
	arenas.start = mem;
	arenas.end = (char *)mem + size * (size_t)slots;
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
			a->held = 0;
		}
	}
	pthread_mutex_unlock(&arenas.lock);
}
