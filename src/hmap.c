/* hmap.c - chained hash buckets over nodes the caller owns. */
#include "mpfs/hmap.h"

#include <stdlib.h>

void mpfs_hmap_release(struct mpfs_hmap *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = m->count = 0;
}

static size_t slot(size_t nbuckets, uint64_t hash)
{
	/* the high bits mixed in: ids often differ only at their end */
	return (size_t)(hash ^ (hash >> 29) ^ (hash >> 47)) & (nbuckets - 1);
}

struct mpfs_hnode *mpfs_hmap_find(const struct mpfs_hmap *m, uint64_t hash,
				  int (*eq)(const struct mpfs_hnode *node,
					    const void *key),
				  const void *key)
{
	struct mpfs_hnode *n;

	if (!m->nbuckets)
		return NULL;
	for (n = m->buckets[slot(m->nbuckets, hash)]; n; n = n->next)
		if (n->hash == hash && eq(n, key))
			return n;
	return NULL;
}

/* Doubles the buckets; nothing changes when that cannot be had. */
static void grow(struct mpfs_hmap *m)
{
	size_t size = m->nbuckets ? 2 * m->nbuckets : 64;
	struct mpfs_hnode **b = calloc(size, sizeof(*b));

	if (!b)
		return;
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct mpfs_hnode *n = m->buckets[i], *next;

		for (; n; n = next) {
			size_t k = slot(size, n->hash);

			next = n->next;
			n->next = b[k];
			b[k] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = size;
}

int mpfs_hmap_add(struct mpfs_hmap *m, struct mpfs_hnode *node)
{
	size_t k;

	if (m->count >= m->nbuckets)
		grow(m);
	if (!m->nbuckets)
		return -1;
	k = slot(m->nbuckets, node->hash);
	node->next = m->buckets[k];
	m->buckets[k] = node;
	m->count++;
	return 0;
}

void mpfs_hmap_remove(struct mpfs_hmap *m, struct mpfs_hnode *node)
{
	struct mpfs_hnode **p;

	if (!m->nbuckets)
		return;
	for (p = &m->buckets[slot(m->nbuckets, node->hash)]; *p;
	     p = &(*p)->next) {
		if (*p == node) {
			*p = node->next;
			m->count--;
			return;
		}
	}
}

void mpfs_hmap_each(struct mpfs_hmap *m,
		    void (*fn)(void *ctx, struct mpfs_hnode *node), void *ctx)
{
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct mpfs_hnode *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			fn(ctx, n);
		}
	}
}

uint64_t mpfs_hmap_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}
