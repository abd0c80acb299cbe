/* hmap.h - a hash map of nodes embedded in the caller's own structs, as
 * git's hashmap.h: the map owns no memory but its bucket array, and finds
 * a node by its 64-bit hash and an equality the caller gives. Chained
 * buckets, doubled when there are more nodes than buckets. Not locked:
 * the owner's lock guards it. */
#ifndef MPFS_HMAP_H
#define MPFS_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct mpfs_hnode {
	struct mpfs_hnode *next;
	uint64_t hash;
};

struct mpfs_hmap {
	struct mpfs_hnode **buckets;
	size_t nbuckets; /* a power of two, or 0 */
	size_t count;
};

/* A zeroed struct mpfs_hmap is an empty map. Frees the buckets, not the
 * nodes. */
void mpfs_hmap_release(struct mpfs_hmap *m);

/* The node of that hash for which eq(node, key) is true, or NULL. */
struct mpfs_hnode *mpfs_hmap_find(const struct mpfs_hmap *m, uint64_t hash,
				  int (*eq)(const struct mpfs_hnode *node,
					    const void *key),
				  const void *key);

/* Adds a node whose hash is set. Returns 0, or -1 when the buckets could
 * not grow and the node would not fit (it is then not added). */
int mpfs_hmap_add(struct mpfs_hmap *m, struct mpfs_hnode *node);

/* Takes a node of the map out. */
void mpfs_hmap_remove(struct mpfs_hmap *m, struct mpfs_hnode *node);

/* Calls fn for every node; fn may remove the node it is given, nothing
 * else. */
void mpfs_hmap_each(struct mpfs_hmap *m,
		    void (*fn)(void *ctx, struct mpfs_hnode *node), void *ctx);

/* FNV-1a over a string, for string keys. */
uint64_t mpfs_hmap_hash_str(const char *s);

#endif
