/* inode.c - the kernel's inodes: a hash map keyed by node id.
 *
 * Lock order: t->lock only. */
#include "mpfs/inode.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/hmap.h"
#include "mpfs/render.h"

struct inode {
	struct mpfs_hnode node; /* hash: the node id */
	uint64_t ino;
	uint64_t nlookup;
	uint64_t given;	 /* the version the kernel holds; 0: none */
	uint64_t newest; /* the newest version the daemon has seen; 0: none */
	int pages;	 /* the kernel was given the bytes of given */
	/* The version whose size the kernel holds, held from when a newer
	 * version came until the kernel is given the attributes of another
	 * (an invalidation is not enough: a read under way keeps the size it
	 * had): reads are answered from it meanwhile. */
	struct mpfs_obj *held;
	int reading; /* reads being answered from held */
	char path[];
};

struct mpfs_inodes {
	pthread_mutex_t lock;	  /* guards map, lookups */
	pthread_cond_t read_done; /* a read from a held version ended */
	struct mpfs_hmap map;	  /* of struct inode */
	uint64_t lookups;
};

static int same_ino(const struct mpfs_hnode *node, const void *key)
{
	return ((const struct inode *)node)->ino == *(const uint64_t *)key;
}

struct mpfs_inodes *mpfs_inodes_new(void)
{
	struct mpfs_inodes *t = calloc(1, sizeof(*t));

	if (t) {
		pthread_mutex_init(&t->lock, NULL);
		pthread_cond_init(&t->read_done, NULL);
	}
	return t;
}

static void free_node(void *ctx, struct mpfs_hnode *node)
{
	(void)ctx;
	mpfs_obj_unref(((struct inode *)node)->held);
	free(node);
}

void mpfs_inodes_free(struct mpfs_inodes *t)
{
	if (!t)
		return;
	mpfs_hmap_each(&t->map, free_node, NULL);
	mpfs_hmap_release(&t->map);
	pthread_mutex_destroy(&t->lock);
	pthread_cond_destroy(&t->read_done);
	free(t);
}

/* The inode of ino, or NULL. Lock held. */
static struct inode *find(struct mpfs_inodes *t, uint64_t ino)
{
	return (struct inode *)mpfs_hmap_find(&t->map, ino, same_ino, &ino);
}

/* The kernel was given version digest of in: 1 when that is old. Lock
 * held. */
/* The attributes of digest go out: the kernel holds that version (what
 * takes it back, if it is old, follows the reply: mpfs_inodes_given), and
 * what was held for reads goes, unless it is that version, once no read
 * from it is under way: a read answered after the kernel took the new
 * size would fill its page with the old bytes. Lock held; the inode of
 * ino, which it returns, found again after a wait. */
static struct inode *giving(struct mpfs_inodes *t, struct inode *in,
			    uint64_t digest)
{
	uint64_t ino = in->ino;

	while (in && in->held && in->held->digest != digest && in->reading) {
		pthread_cond_wait(&t->read_done, &t->lock);
		in = find(t, ino);
	}
	if (!in)
		return NULL;
	if (in->given != digest)
		in->pages = 0;
	in->given = digest;
	if (in->held && in->held->digest != digest) {
		mpfs_obj_unref(in->held);
		in->held = NULL;
	}
	return in;
}

static int give(struct mpfs_inodes *t, struct inode *in, uint64_t digest,
		int pages)
{
	in = giving(t, in, digest);
	if (!in)
		return 0;
	in->pages = in->pages || pages;
	if (in->newest && in->newest != digest)
		return 1; /* overtaken while it was being handed out */
	in->newest = digest;
	return 0;
}

int mpfs_inodes_ref(struct mpfs_inodes *t, uint64_t ino, const char *path)
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
			if (mpfs_hmap_add(&t->map, &in->node)) {
				free(in);
				in = NULL;
			}
		}
	}
	if (in) {
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

int mpfs_inodes_given(struct mpfs_inodes *t, uint64_t ino, uint64_t digest,
		      int pages)
{
	struct inode *in;
	int old = 0;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in)
		old = give(t, in, digest, pages);
	pthread_mutex_unlock(&t->lock);
	return old;
}

int mpfs_inodes_has_pages(struct mpfs_inodes *t, uint64_t ino, uint64_t digest)
{
	struct inode *in;
	int r;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	r = in && in->given == digest && in->pages;
	pthread_mutex_unlock(&t->lock);
	return r;
}

int mpfs_inodes_newest(struct mpfs_inodes *t, uint64_t ino, uint64_t digest,
		       struct mpfs_obj *old)
{
	struct inode *in;
	int other = 0;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in) {
		other = in->given && in->given != digest;
		if (other && !in->held && old && old->digest == in->given)
			in->held = mpfs_obj_ref(old);
		in->newest = digest;
	}
	pthread_mutex_unlock(&t->lock);
	return other;
}

struct mpfs_obj *mpfs_inodes_read_held(struct mpfs_inodes *t, uint64_t ino)
{
	struct inode *in;
	struct mpfs_obj *obj = NULL;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in && in->held) {
		obj = mpfs_obj_ref(in->held);
		in->reading++;
	}
	pthread_mutex_unlock(&t->lock);
	return obj;
}

void mpfs_inodes_read_done(struct mpfs_inodes *t, uint64_t ino)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in && in->reading > 0 && --in->reading == 0)
		pthread_cond_broadcast(&t->read_done);
	pthread_mutex_unlock(&t->lock);
}

void mpfs_inodes_giving(struct mpfs_inodes *t, uint64_t ino,
			struct mpfs_obj *obj)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in)
		in = giving(t, in, obj->digest);
	/* Older than the newest: the kernel takes this size, so reads must
	 * be answered from these bytes, not the newest's (which the inode's
	 * path may show), until another version's attributes go out. */
	if (in && in->newest && in->newest != obj->digest && !in->held)
		in->held = mpfs_obj_ref(obj);
	pthread_mutex_unlock(&t->lock);
}

int mpfs_inodes_holds(struct mpfs_inodes *t, uint64_t ino, uint64_t digest)
{
	struct inode *in;
	int r;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	r = in && in->given == digest;
	pthread_mutex_unlock(&t->lock);
	return r;
}

void mpfs_inodes_dropped(struct mpfs_inodes *t, uint64_t ino)
{
	struct inode *in;

	pthread_mutex_lock(&t->lock);
	in = find(t, ino);
	if (in) {
		in->given = 0;
		in->pages = 0;
	}
	pthread_mutex_unlock(&t->lock);
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
