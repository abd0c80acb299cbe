/* arena.h - where the parse trees of list pages live. A page of 1,000
 * syncs parses into a tree several times its size, of tens of thousands of
 * small blocks; taken from malloc, they cost more than the parsing, and
 * freed they leave the heap in holes. So each page is parsed into a slot
 * of its own: jansson's allocations on the parsing thread are bumped off
 * the slot, a block it frees there serves its next allocation of that
 * size, other frees there cost nothing, and once the tree is gone the
 * slot goes to the next page and its memory back to the system whole: at
 * once when no page waits for a slot, else lazily (MADV_FREE), so that the
 * next page parsed into it reuses what the system has not taken, without a
 * page fault for each 4 KiB; what is held lazily goes when a listing ends
 * or the caches are trimmed. A tree that outgrows its slot goes on with
 * malloc.
 *
 * Slots are few, one per core: taking one waits for a free one, which
 * bounds the trees alive at once, and so the memory they hold.
 *
 * jansson's allocator is process-wide: mpfs_arenas_init installs it once,
 * before any thread. Without it (unit tests, fuzzers) there are no slots,
 * nothing waits, and pages are parsed with malloc. */
#ifndef MPFS_ARENA_H
#define MPFS_ARENA_H

#include <stddef.h>

struct mpfs_arena;

/* slots of size bytes each (address space; only what is used is memory).
 * Returns 0, or -1 when the space cannot be had. */
int mpfs_arenas_init(int slots, size_t size);
void mpfs_arenas_cleanup(void);

/* Waits for a free slot; jansson's allocations on this thread come from
 * it until mpfs_arena_stop. An urgent page (one a reader waits for) goes
 * before the others waiting. NULL when there are no slots. */
struct mpfs_arena *mpfs_arena_take(int urgent);

/* This thread allocates from malloc again; the tree stays valid. */
void mpfs_arena_stop(void);

/* Whether some of the tree went to malloc (it outgrew the slot): it must
 * then be freed with json_decref before the slot is given back. A tree
 * wholly in its slot needs no json_decref: it goes with the slot. */
int mpfs_arena_spilled(const struct mpfs_arena *a);

/* The tree of the slot is gone: the slot is free for the next page. NULL
 * is a no-op. */
void mpfs_arena_give(struct mpfs_arena *a);

/* The memory of the slots not in use goes back to the system now. */
void mpfs_arenas_trim(void);

#endif
