/* dups.c - ids the API sends more than once within one page of a listing:
 * found per page, counted and said once per listing (see dups.h). */
#include "mpfs/dups.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/log.h"

/* An id counted, so that a page overlapping the one before does not count
 * the same pair again. */
struct dup_id {
	struct mpfs_hnode node;
	char id[];
};

/* An id of a page: how often it came, and its index in the page's dups
 * + 1, or 0. */
struct seen {
	const char *id;
	int copies;
	size_t dup;
};

void mpfs_page_dups_free(struct mpfs_page_dups *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].id);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

/* Records a second copy of id: 0, or -1 when out of memory. */
static int add(struct mpfs_page_dups *p, const char *id)
{
	struct mpfs_dup *grown = realloc(p->v, (p->n + 1) * sizeof(*grown));
	char *copy = grown ? strdup(id) : NULL;

	if (grown)
		p->v = grown;
	if (!copy)
		return -1;
	p->v[p->n++] = (struct mpfs_dup){copy, 2};
	return 0;
}

void mpfs_dups_find(json_t *items, const char *id_key, unsigned char *skip,
		    struct mpfs_page_dups *out)
{
	size_t n = json_array_size(items), cap = 16, mask, i, k;
	struct seen *t;
	json_t *item;

	while (cap < 2 * n)
		cap *= 2;
	t = calloc(cap, sizeof(*t));
	if (!t)
		return;
	mask = cap - 1;
	json_array_foreach (items, i, item) {
		const char *id =
		    json_string_value(json_object_get(item, id_key));

		if (!json_is_object(item) || !id || !*id)
			continue;
		for (k = (size_t)mpfs_hmap_hash_str(id) & mask;
		     t[k].id && strcmp(t[k].id, id); k = (k + 1) & mask)
			;
		if (!t[k].id) {
			t[k].id = id;
			t[k].copies = 1;
			continue;
		}
		skip[i] = 1;
		if (++t[k].copies > 2) {
			out->v[t[k].dup - 1].copies = t[k].copies;
		} else if (add(out, id) == 0) {
			t[k].dup = out->n;
		} else {
			memset(skip, 0, n);
			mpfs_page_dups_free(out);
			break;
		}
	}
	free(t);
}

static int dup_eq(const struct mpfs_hnode *node, const void *key)
{
	return strcmp(((const struct dup_id *)node)->id, key) == 0;
}

void mpfs_dups_count(struct mpfs_dups *d, const struct mpfs_page_dups *p)
{
	for (size_t i = 0; i < p->n; i++) {
		const char *id = p->v[i].id;
		uint64_t hash = mpfs_hmap_hash_str(id);
		struct dup_id *c;

		if (mpfs_hmap_find(&d->ids, hash, dup_eq, id))
			continue;
		c = malloc(sizeof(*c) + strlen(id) + 1);
		if (c) { /* else counted, if again, again */
			c->node.hash = hash;
			strcpy(c->id, id);
			if (mpfs_hmap_add(&d->ids, &c->node))
				free(c);
		}
		if (d->count++ == 0) {
			snprintf(d->first, sizeof(d->first), "%s", id);
			d->first_copies = p->v[i].copies;
		}
	}
}

void mpfs_dups_tell(struct mpfs_dups *d, const char *what)
{
	if (!d->count || d->told)
		return;
	d->told = 1;
	if (d->count == 1 && d->first_copies == 2)
		mpfs_log(MPFS_LOG_WARN,
			 "list %s: the API sent %s twice; showing it once",
			 what, d->first);
	else if (d->count == 1)
		mpfs_log(MPFS_LOG_WARN,
			 "list %s: the API sent %s %d times; showing it once",
			 what, d->first, d->first_copies);
	else
		mpfs_log(MPFS_LOG_WARN,
			 "list %s: the API sent %ld ids more than once (%s "
			 "first); showing each once",
			 what, d->count, d->first);
}

static void free_id(void *ctx, struct mpfs_hnode *node)
{
	(void)ctx;
	free(node);
}

void mpfs_dups_release(struct mpfs_dups *d)
{
	mpfs_hmap_each(&d->ids, free_id, NULL);
	mpfs_hmap_release(&d->ids);
}
