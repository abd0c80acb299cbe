/* slab.c - blocks of 2 MiB that objects are bumped off (see slab.h).
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

#define BLOCK	(2UL << 20) /* a transparent huge page */
#define ALIGN	16
#define MAX_OBJ (BLOCK / 8) /* larger: malloc, not a block mostly empty */

struct mpfs_slab {
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

/* A new block at a huge page's boundary, with one reference: the one it
 * has while current. */
static struct mpfs_slab *block_new(void)
{
	char *p = mmap(NULL, 2 * BLOCK, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *q;
	struct mpfs_slab *s;

	if (p == MAP_FAILED)
		return NULL;
	q = (char *)(((uintptr_t)p + BLOCK - 1) & ~(uintptr_t)(BLOCK - 1));
	if (q > p)
		munmap(p, (size_t)(q - p));
	munmap(q + BLOCK, (size_t)(p + BLOCK - q));
	madvise(q, BLOCK, MADV_HUGEPAGE); /* a hint */
	s = (struct mpfs_slab *)q;
	s->refs = 1;
	atomic_init(&s->used, sizeof(*s));
	atomic_init(&s->live, 0);
	POISON(s->objects, BLOCK - sizeof(*s));
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
	if (!s)
		return;
	UNPOISON(s, BLOCK); /* the addresses may be mapped again */
	munmap(s, BLOCK);
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
	if (!s || atomic_load(&s->used) + need > BLOCK) {
		gone = retire_locked();
		s = slabs.cur = block_new();
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
