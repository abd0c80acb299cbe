/* inode.c - the kernel's inodes: a hash map keyed by node id.
 *
 * Lock order: t->lock only. */
#include "mpfs/inode.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/hmap.h"
#include "mpfs/render.h"

struct inode {
	struct mpfs_hnode node; /* hash: the node id */
	uint64_t ino;
	uint64_t nlookup;
	uint64_t digest; /* a sync's version; 0: not a sync's inode */
	off_t size;	 /* and the attributes it was given with */
	struct timespec mtime;
	nlink_t nlink;
	int pages;	       /* the kernel was given its bytes */
	struct mpfs_obj *kept; /* its bytes, once superseded */
	char path[];
};

struct mpfs_inodes {
	pthread_mutex_t lock; /* guards map, lookups */
	struct mpfs_hmap map; /* of struct inode */
	uint64_t lookups;
};

static int same_ino(const struct mpfs_hnode *node, const void *key)
{
	return ((const struct inode *)node)->ino == *(const uint64_t *)key;
}

struct mpfs_inodes *mpfs_inodes_new(void)
{
	struct mpfs_inodes *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->lock, NULL);
	return t;
}

static void free_node(void *ctx, struct mpfs_hnode *node)
{
	(void)ctx;
	mpfs_obj_unref(((struct inode *)node)->kept);
	free(node);
}

void mpfs_inodes_free(struct mpfs_inodes *t)
{
	if (!t)
		return;
	mpfs_hmap_each(&t->map, free_node, NULL);
	mpfs_hmap_release(&t->map);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

/* The inode of ino, or NULL. Lock held. */
static struct inode *find(struct mpfs_inodes *t, uint64_t ino)
{
	return (struct inode *)mpfs_hmap_find(&t->map, ino, same_ino, &ino);
}

int mpfs_inodes_ref(struct mpfs_inodes *t, uint64_t ino, const char *path,
		    struct mpfs_obj *obj, const struct stat *st)
{
	struct inode *in;
	size_t len;
	int r = 0;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (!in) {
		len = strlen(path);
		in = calloc(1, sizeof(*in) + len + 1);
		if (in) {
			in->ino = in->node.hash = ino;
			memcpy(in->path, path, len + 1);
			if (obj) {
				in->digest = obj->digest;
				in->size = st->st_size;
				in->mtime = st->st_mtim;
				in->nlink = st->st_nlink;
			}
			if (mpfs_hmap_add(&t->map, &in->node)) {
				free(in);
				in = NULL;
			}
		}
	}
	if (in) {
		/* Replaced before the kernel had it: its bytes stay. */
		if (obj && !in->kept && atomic_load(&obj->superseded))
			in->kept = mpfs_obj_ref(obj);
		in->nlookup++;
		t->lookups++;
	} else {
		r = -1;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

void mpfs_inodes_forget(struct mpfs_inodes *t, uint64_t ino, uint64_t n)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in) {
		if (n > in->nlookup)
			n = in->nlookup;
		in->nlookup -= n;
		t->lookups -= n;
		if (in->nlookup == 0) {
			mpfs_hmap_remove(&t->map, &in->node);
			free_node(NULL, &in->node);
		}
	}
	pthread_mutex_unlock(&t->lock);
}

int mpfs_inodes_path(struct mpfs_inodes *t, uint64_t ino, char *buf,
		     size_t size)
{
	struct inode *in;
	int r = -1;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in && strlen(in->path) < size) {
		strcpy(buf, in->path);
		r = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return r;
}

uint64_t mpfs_inodes_version(struct mpfs_inodes *t, uint64_t ino,
			     struct stat *st, struct mpfs_obj **kept)
{
	struct inode *in;
	uint64_t digest = 0;

	*kept = NULL;
	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in && in->digest) {
		digest = in->digest;
		if (st) {
			st->st_size = in->size;
			st->st_blocks = (blkcnt_t)((in->size + 511) / 512);
			st->st_mtim = st->st_ctim = st->st_atim = in->mtime;
			st->st_nlink = in->nlink;
		}
		*kept = in->kept ? mpfs_obj_ref(in->kept) : NULL;
	}
	pthread_mutex_unlock(&t->lock);
	return digest;
}

void mpfs_inodes_superseded(struct mpfs_inodes *t, uint64_t ino,
			    struct mpfs_obj *obj)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in && !in->kept && in->digest == obj->digest)
		in->kept = mpfs_obj_ref(obj);
	pthread_mutex_unlock(&t->lock);
}

int mpfs_inodes_wants_pages(struct mpfs_inodes *t, uint64_t ino)
{
	struct inode *in;
	int r;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	r = in && !in->pages;
	pthread_mutex_unlock(&t->lock);
	return r;
}

static void set_pages(struct mpfs_inodes *t, uint64_t ino, int pages)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in)
		in->pages = pages;
	pthread_mutex_unlock(&t->lock);
}

void mpfs_inodes_paged(struct mpfs_inodes *t, uint64_t ino)
{
	set_pages(t, ino, 1);
}

void mpfs_inodes_dropped(struct mpfs_inodes *t, uint64_t ino)
{
	set_pages(t, ino, 0);
}

size_t mpfs_inodes_count(struct mpfs_inodes *t, uint64_t *lookups)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->map.count;
	if (lookups)
		*lookups = t->lookups;
	pthread_mutex_unlock(&t->lock);
	return n;
}

struct copy {
	uint64_t *inos;
	char **paths;
	size_t n;
	int failed;
};

static void copy_one(void *ctx, struct mpfs_hnode *node)
{
	const struct inode *in = (const struct inode *)node;
	struct copy *c = ctx;

	c->paths[c->n] = strdup(in->path);
	if (!c->paths[c->n]) {
		c->failed = 1;
		return;
	}
	c->inos[c->n++] = in->ino;
}

int mpfs_inodes_each(struct mpfs_inodes *t,
		     void (*fn)(void *ctx, uint64_t ino, const char *path),
		     void *ctx)
{
	struct copy c = {0};
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->map.count;
	c.inos = malloc((n ? n : 1) * sizeof(*c.inos));
	c.paths = malloc((n ? n : 1) * sizeof(*c.paths));
	if (c.inos && c.paths)
		mpfs_hmap_each(&t->map, copy_one, &c);
	else
		c.failed = 1;
	pthread_mutex_unlock(&t->lock);
	for (size_t i = 0; i < c.n; i++) {
		if (!c.failed)
			fn(ctx, c.inos[i], c.paths[i]);
		free(c.paths[i]);
	}
	free(c.inos);
	free(c.paths);
	return c.failed ? -1 : 0;
}
