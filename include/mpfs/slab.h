/* slab.h - where objects live: bumped off blocks, one after another as
 * listings render them, and unmapped when the last object in a block
 * goes. A block is half the size of what the blocks hold, from 64 KiB to
 * 2 MiB: a large listing's are faulted in whole (a transparent huge page:
 * one page fault where malloc took 512, the most of a cold listing's cost
 * after jansson's own), and a mount of a few syncs spends little on the
 * one being filled.
 *
 * Nothing inside a block is reused: an object gone leaves a hole until
 * its block goes. The holes of a block count in the bytes held (the
 * caches' budget) once objects are no longer bumped off it. A block
 * mostly of holes is sparse: who holds one of its objects may have it
 * made anew elsewhere (object_reuse does, when a listing brings it again
 * unchanged), so that the holes go.
 *
 * Thread-safe. Under AddressSanitizer an object gone is poisoned: a use of
 * it is reported as one of malloc'd memory would be. */
#ifndef MPFS_SLAB_H
#define MPFS_SLAB_H

#include <stddef.h>

struct mpfs_slab;

/* size bytes, zeroed, in a block (*slab: which, for mpfs_slab_free).
 * NULL when larger than a block takes (malloc them) or out of memory. */
void *mpfs_slab_alloc(size_t size, struct mpfs_slab **slab);

/* The size bytes at p, given by mpfs_slab_alloc, are gone. */
void mpfs_slab_free(struct mpfs_slab *slab, void *p, size_t size);

/* Whether less than half of what was bumped off the block is alive. */
int mpfs_slab_sparse(const struct mpfs_slab *slab);

/* Bytes held: of objects alive, and the holes of blocks no longer
 * current (the current one's are at most a block, and come and go). */
size_t mpfs_slab_bytes(void);

/* The block objects are bumped off now is let go: unmapped as soon as no
 * object is in it. */
void mpfs_slab_trim(void);

#endif
