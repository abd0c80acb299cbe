/* links.c - bucket names as symbolic links at the root: a name that is
 * safe as a file name, the name of exactly one bucket and the id of none
 * links to that bucket's directory. One rule (link_target) decides, for
 * the root's listing and for a lookup alike. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"

/* The bucket names and ids, each pair kept valid by a reference to the
 * object it came from. */
struct name_pair {
	const char *name; /* NULL when the bucket has none */
	const char *id;
	struct mpfs_obj *obj;
};

struct bucket_names {
	struct name_pair *v;
	size_t n, cap;
	int failed;
};

static int add_pair(struct bucket_names *bn, const char *id,
		    struct mpfs_obj *obj)
{
	if (bn->n == bn->cap) {
		size_t cap = bn->cap ? 2 * bn->cap : 16;
		struct name_pair *grown = realloc(bn->v, cap * sizeof(*grown));

		if (!grown) {
			bn->failed = 1;
			return 1;
		}
		bn->v = grown;
		bn->cap = cap;
	}
	bn->v[bn->n++] =
	    (struct name_pair){obj->bucket_name, id, mpfs_obj_ref(obj)};
	return 0;
}

static int collect_pair(void *ctx, struct mpfs_obj *obj)
{
	return add_pair(ctx, obj->id, obj);
}

static void pairs_release(struct bucket_names *bn)
{
	for (size_t i = 0; i < bn->n; i++)
		mpfs_obj_unref(bn->v[i].obj);
	free(bn->v);
}

/* Every bucket with its name: the whole bucket list, or with -o buckets=
 * a GET of each named bucket. */
static int bucket_pairs(struct mpfs_core *core, struct bucket_names *bn,
			struct mpfs_err *err)
{
	struct mpfs_listing *l;
	struct mpfs_obj *obj;
	int r;

	memset(bn, 0, sizeof(*bn));
	if (core->cfg.buckets) {
		for (char **b = core->cfg.buckets; *b; b++) {
			if (bucket_obj(core, *b, &obj, err))
				return -1;
			r = add_pair(bn, *b, obj);
			mpfs_obj_unref(obj);
			if (r)
				goto nomem;
		}
		return 0;
	}
	l = listing_of(core, NULL);
	if (!l)
		goto nomem;
	r = each_entry(l, collect_pair, bn, err);
	mpfs_listing_unref(l);
	/* Stale is stale everywhere: the links of the last good bucket
	 * list, as the buckets themselves are. */
	if (r < 0 && !bn->failed && (l = stale_listing(core, "/", err))) {
		pairs_release(bn);
		memset(bn, 0, sizeof(*bn));
		r = each_entry(l, collect_pair, bn, err);
		mpfs_listing_unref(l);
	}
	if (bn->failed)
		goto nomem;
	return r < 0 ? -1 : 0;
nomem:
	nomem(err);
	return -1;
}

int safe_link_name(const char *name)
{
	if (!name || !*name || strlen(name) > MPFS_NAME_MAX ||
	    strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strcmp(name, MPFS_META_NAME) == 0)
		return 0;
	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		if (*p == '/' || *p == '%' || *p < 0x20 || *p == 0x7F)
			return 0;
	return 1;
}

/* The bucket id the root name links to, or NULL when it is no link: the
 * name of exactly one bucket and the id of none. Borrowed from bn. */
static const char *link_target(const struct bucket_names *bn, const char *name)
{
	const char *id = NULL;

	if (!safe_link_name(name))
		return NULL;
	for (size_t i = 0; i < bn->n; i++) {
		if (strcmp(bn->v[i].id, name) == 0)
			return NULL;
		if (bn->v[i].name && strcmp(bn->v[i].name, name) == 0) {
			if (id)
				return NULL;
			id = bn->v[i].id;
		}
	}
	return id;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Quadratic in the buckets, which are few. */
int link_names(struct mpfs_core *core, char ***names, size_t *n,
	       struct mpfs_err *err)
{
	struct bucket_names bn;
	char **v = NULL;
	size_t k = 0;
	int r = -1;

	if (bucket_pairs(core, &bn, err))
		goto out;
	v = calloc(bn.n + 1, sizeof(*v));
	if (!v)
		goto nomem;
	for (size_t i = 0; i < bn.n; i++) {
		if (!link_target(&bn, bn.v[i].name))
			continue;
		v[k] = strdup(bn.v[i].name);
		if (!v[k])
			goto nomem;
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_str);
	*names = v;
	*n = k;
	v = NULL;
	r = 0;
	goto out;
nomem:
	nomem(err);
out:
	if (v)
		for (size_t i = 0; i < k; i++)
			free(v[i]);
	free(v);
	pairs_release(&bn);
	return r;
}

int link_of(struct mpfs_core *core, const char *name, char *out, size_t size,
	    struct mpfs_err *err)
{
	struct bucket_names bn;
	const char *id;
	int r = -1;

	if (!safe_link_name(name)) {
		not_found(err, "bucket");
		return -1;
	}
	if (bucket_pairs(core, &bn, err) == 0) {
		id = link_target(&bn, name);
		if (id && mpfs_file_name(id, "", out, size) < size)
			r = 0;
		else
			not_found(err, "bucket");
	}
	pairs_release(&bn);
	return r;
}

void link_stat(struct mpfs_core *core, const char *target, struct stat *st)
{
	dir_stat(core, st);
	st->st_mode = S_IFLNK | 0777;
	st->st_nlink = 1;
	st->st_size = (off_t)strlen(target);
}
