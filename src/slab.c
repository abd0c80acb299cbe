/* slab.c - blocks that objects are bumped off (see slab.h).
 *
 * Lock order: slabs.lock only; a block is unmapped without it. */
#include "mpfs/slab.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define BLOCK_MIN (64UL << 10)
#define BLOCK_MAX (2UL << 20) /* a transparent huge page */
#define ALIGN	  16
#define MAX_OBJ	  (BLOCK_MAX / 8) /* larger: malloc */

struct mpfs_slab {
	size_t size;	    /* of the block */
	int refs;	    /* objects in it, and one while current */
	atomic_size_t used; /* bumped off it, this header included */
	atomic_size_t live; /* of which objects alive */
	char objects[] __attribute__((aligned(ALIGN)));
};

/* What a block counts in the bytes held: the current one, its objects
 * alive (its holes are at most a block, and come and go while it fills);
 * one no longer current, all bumped off it, holes included, until it
 * goes. */
static struct {
	pthread_mutex_t lock; /* guards cur, refs, and the writes of used,
			       * live and held */
	struct mpfs_slab *cur;
	atomic_size_t held; /* read without the lock */
} slabs = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t rounded(size_t size)
{
	return (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

/* The size of a new block for an object of need bytes: half of what the
 * blocks hold, at least eight objects' worth, as a power of two from
 * BLOCK_MIN to BLOCK_MAX. So the block being filled, faulted in whole, is
 * never the most of the memory (a mount of a few syncs spends 64 KiB on
 * it), and a large listing is bumped off huge pages. Lock held. */
static size_t block_size(size_t need)
{
	size_t size = BLOCK_MIN, want = atomic_load(&slabs.held) / 2;

	while (size < BLOCK_MAX && (size < want || size < 8 * need))
		size *= 2;
	return size;
}

/* A new block of size bytes, at a huge page's boundary when one, with
 * one reference: the one it has while current. */
static struct mpfs_slab *block_new(size_t size)
{
	size_t map = size == BLOCK_MAX ? 2 * size : size;
	char *p = mmap(NULL, map, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q = p;
	struct mpfs_slab *s;

	if (p == MAP_FAILED)
		return NULL;
	if (size == BLOCK_MAX) {
		q = (char *)(((uintptr_t)p + size - 1) &
			     ~(uintptr_t)(size - 1));
		if (q > p)
			munmap(p, (size_t)(q - p));
		munmap(q + size, (size_t)(p + size - q));
		madvise(q, size, MADV_HUGEPAGE); /* a hint */
	}
	s = (struct mpfs_slab *)q;
	s->size = size;
	s->refs = 1;
	atomic_init(&s->used, sizeof(*s));
	atomic_init(&s->live, 0);
	POISON(s->objects, size - sizeof(*s));
	return s;
}

/* Drops a reference to s; lock held. Returns s when that was the last:
 * the caller unmaps it, without the lock. */
static struct mpfs_slab *unref_locked(struct mpfs_slab *s)
{
	if (!s || --s->refs)
		return NULL;
	atomic_fetch_sub(&slabs.held, atomic_load(&s->used));
	return s;
}

static void unmap(struct mpfs_slab *s)
{
	size_t size;

	if (!s)
		return;
	size = s->size;
	UNPOISON(s, size); /* the addresses may be mapped again */
	munmap(s, size);
}

/* cur is no longer current: its holes count from now on. Lock held;
 * returns what to unmap. */
static struct mpfs_slab *retire_locked(void)
{
	struct mpfs_slab *s = slabs.cur;

	slabs.cur = NULL;
	if (!s)
		return NULL;
	atomic_fetch_add(&slabs.held,
			 atomic_load(&s->used) - atomic_load(&s->live));
	return unref_locked(s);
}

void *mpfs_slab_alloc(size_t size, struct mpfs_slab **slab)
{
	size_t need = rounded(size);
	struct mpfs_slab *s, *gone = NULL;
	char *p = NULL;

	if (size > MAX_OBJ)
		return NULL;
	pthread_mutex_lock(&slabs.lock);
	s = slabs.cur;
	if (!s || atomic_load(&s->used) + need > s->size) {
		gone = retire_locked();
		s = slabs.cur = block_new(block_size(need));
	}
	if (s) {
		p = (char *)s + atomic_load(&s->used);
		atomic_store(&s->used, atomic_load(&s->used) + need);
		atomic_store(&s->live, atomic_load(&s->live) + need);
		s->refs++;
		atomic_fetch_add(&slabs.held, need);
	}
	pthread_mutex_unlock(&slabs.lock);
	unmap(gone);
	if (!p)
		return NULL;
	UNPOISON(p, size);
	*slab = s;
	return p; /* zero: never used before */
}

void mpfs_slab_free(struct mpfs_slab *s, void *p, size_t size)
{
	size_t n = rounded(size);
	struct mpfs_slab *gone;

	POISON(p, n);
	pthread_mutex_lock(&slabs.lock);
	atomic_store(&s->live, atomic_load(&s->live) - n);
	if (s == slabs.cur)
		atomic_fetch_sub(&slabs.held, n); /* the current's hole */
	gone = unref_locked(s);
	pthread_mutex_unlock(&slabs.lock);
	unmap(gone);
}

int mpfs_slab_sparse(const struct mpfs_slab *s)
{
	return 2 * atomic_load(&s->live) < atomic_load(&s->used);
}

size_t mpfs_slab_bytes(void)
{
	return atomic_load(&slabs.held);
}

void mpfs_slab_trim(void)
{
	struct mpfs_slab *gone;

	pthread_mutex_lock(&slabs.lock);
	gone = retire_locked();
	pthread_mutex_unlock(&slabs.lock);
	unmap(gone);
}
