/* cache.c - TTL lifetimes over reference-counted values. A value taken from
 * here stays valid for its holder after it expires or is replaced: expiry
 * only drops the cache's own reference. Entries are kept in the order they
 * were last used, for eviction.
 *
 * Lock order: c->lock only; values are never made under it. */
#include "mpfs/cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/clock.h"
#include "mpfs/hmap.h"

struct cache_entry {
	struct mpfs_hnode node;		   /* hash: of the key */
	struct cache_entry *older, *newer; /* by last use */
	double used;
	char *key;
	void *value;
	double stamp;
	void *prev; /* the value this one replaced, while in its grace */
	double prev_stamp;
};

struct mpfs_cache {
	double ttl;
	double grace;
	struct mpfs_cache_ops ops;
	mpfs_clock_fn now;
	pthread_mutex_t lock; /* guards map, the use order, the counts */
	struct mpfs_hmap map; /* of struct cache_entry */
	struct cache_entry *oldest, *newest;
	size_t next_prune;
	unsigned long evictions;
};

/* e out of the use order. Lock held. */
static void unlink_use(struct mpfs_cache *c, struct cache_entry *e)
{
	if (e->older)
		e->older->newer = e->newer;
	else
		c->oldest = e->newer;
	if (e->newer)
		e->newer->older = e->older;
	else
		c->newest = e->older;
	e->older = e->newer = NULL;
}

/* e used now: the newest. Lock held. */
static void touch(struct mpfs_cache *c, struct cache_entry *e, double now)
{
	if (c->newest != e) {
		if (c->oldest == e || e->older || e->newer)
			unlink_use(c, e);
		e->older = c->newest;
		if (c->newest)
			c->newest->newer = e;
		else
			c->oldest = e;
		c->newest = e;
	}
	e->used = now;
}

static int same_key(const struct mpfs_hnode *node, const void *key)
{
	return strcmp(((const struct cache_entry *)node)->key, key) == 0;
}

struct mpfs_cache *mpfs_cache_new(double ttl, const struct mpfs_cache_ops *ops,
				  mpfs_clock_fn now)
{
	struct mpfs_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ttl = ttl;
	c->ops = *ops;
	c->now = now ? now : mpfs_clock_monotonic;
	c->next_prune = 256;
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

static void entry_free(struct mpfs_cache *c, struct cache_entry *e)
{
	if (e->prev)
		c->ops.unref(e->prev);
	c->ops.unref(e->value);
	free(e->key);
	free(e);
}

static void free_node(void *ctx, struct mpfs_hnode *node)
{
	entry_free(ctx, (struct cache_entry *)node);
}

void mpfs_cache_clear(struct mpfs_cache *c)
{
	pthread_mutex_lock(&c->lock);
	mpfs_hmap_each(&c->map, free_node, c);
	mpfs_hmap_release(&c->map);
	c->oldest = c->newest = NULL;
	pthread_mutex_unlock(&c->lock);
}

int mpfs_cache_keys(struct mpfs_cache *c, char ***keys, size_t *n)
{
	size_t i = 0, count;
	char **out;

	pthread_mutex_lock(&c->lock);
	count = c->map.count;
	out = calloc(count + 1, sizeof(*out));
	for (struct cache_entry *e = c->newest; out && e; e = e->older) {
		if (!(out[i] = strdup(e->key))) {
			mpfs_cache_keys_free(out);
			out = NULL;
			break;
		}
		i++;
	}
	pthread_mutex_unlock(&c->lock);
	*keys = out;
	*n = i;
	return out ? 0 : -1;
}

void mpfs_cache_keys_free(char **keys)
{
	for (char **k = keys; k && *k; k++)
		free(*k);
	free(keys);
}

void mpfs_cache_free(struct mpfs_cache *c)
{
	if (!c)
		return;
	mpfs_cache_clear(c);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int fresh(struct mpfs_cache *c, const struct cache_entry *e, double now)
{
	return now - e->stamp < c->ttl;
}

static int kept(struct mpfs_cache *c, double stamp, double now)
{
	return now - stamp < c->ttl + c->grace;
}

static void remove_entry(struct mpfs_cache *c, struct cache_entry *e)
{
	unlink_use(c, e);
	mpfs_hmap_remove(&c->map, &e->node);
	entry_free(c, e);
}

struct prune_walk {
	struct mpfs_cache *c;
	double now;
};

static void prune_one(void *ctx, struct mpfs_hnode *node)
{
	struct prune_walk *w = ctx;
	struct cache_entry *e = (struct cache_entry *)node;

	if (!kept(w->c, e->stamp, w->now))
		remove_entry(w->c, e);
}

/* Drops expired entries once the map has doubled since the last prune, so
 * keys nobody asks for again do not pile up. Lock held. */
static void prune(struct mpfs_cache *c, double now)
{
	struct prune_walk w = {.c = c, .now = now};

	if (c->map.count < c->next_prune)
		return;
	mpfs_hmap_each(&c->map, prune_one, &w);
	c->next_prune = 2 * c->map.count + 256;
}

/* The entry under key, fresh or in its grace; one past both is removed,
 * and so is a replaced value past its grace. Lock held. */
static struct cache_entry *find(struct mpfs_cache *c, const char *key,
				double now)
{
	struct cache_entry *e = (struct cache_entry *)mpfs_hmap_find(
	    &c->map, mpfs_hmap_hash_str(key), same_key, key);

	if (e && !kept(c, e->stamp, now)) {
		remove_entry(c, e);
		e = NULL;
	}
	if (e && e->prev && !kept(c, e->prev_stamp, now)) {
		c->ops.unref(e->prev);
		e->prev = NULL;
	}
	return e;
}

enum which {
	FRESH,	  /* the value, within ttl */
	KEPT,	  /* the value, within ttl and grace */
	REPLACED, /* the value it replaced, within grace */
};

/* A new reference to the value under key that which asks for, and its
 * age; NULL when there is none. */
static void *lookup(struct mpfs_cache *c, const char *key, enum which which,
		    double *age)
{
	void *value = NULL;
	struct cache_entry *e;
	double now;

	pthread_mutex_lock(&c->lock);
	now = c->now();
	e = find(c, key, now);
	if (e && which == FRESH && !fresh(c, e, now))
		e = NULL;
	if (e && (which != REPLACED || e->prev)) {
		touch(c, e, now);
		value = c->ops.ref(which == REPLACED ? e->prev : e->value);
		if (age)
			*age = now -
			       (which == REPLACED ? e->prev_stamp : e->stamp);
	}
	pthread_mutex_unlock(&c->lock);
	return value;
}

void *mpfs_cache_get(struct mpfs_cache *c, const char *key)
{
	return lookup(c, key, FRESH, NULL);
}

void *mpfs_cache_get_stale(struct mpfs_cache *c, const char *key, double *age)
{
	return lookup(c, key, KEPT, age);
}

void *mpfs_cache_get_replaced(struct mpfs_cache *c, const char *key,
			      double *age)
{
	return lookup(c, key, REPLACED, age);
}

void mpfs_cache_drop(struct mpfs_cache *c, const char *key)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	e = (struct cache_entry *)mpfs_hmap_find(
	    &c->map, mpfs_hmap_hash_str(key), same_key, key);
	if (e)
		remove_entry(c, e);
	pthread_mutex_unlock(&c->lock);
}

void mpfs_cache_set_grace(struct mpfs_cache *c, double grace)
{
	pthread_mutex_lock(&c->lock);
	c->grace = grace;
	pthread_mutex_unlock(&c->lock);
}

/* Inserts key -> value (taking a new reference). Lock held. */
static void insert(struct mpfs_cache *c, const char *key, void *value,
		   double now)
{
	struct cache_entry *e = malloc(sizeof(*e));

	if (!e)
		return;
	e->key = strdup(key);
	e->value = c->ops.ref(value);
	e->stamp = now;
	e->prev = NULL;
	e->older = e->newer = NULL;
	e->node.hash = e->key ? mpfs_hmap_hash_str(e->key) : 0;
	if (!e->key || mpfs_hmap_add(&c->map, &e->node)) {
		entry_free(c, e); /* out of memory: simply not cached */
		return;
	}
	touch(c, e, now);
}

/* Puts value in e's place; the old value is kept as prev for its grace.
 * Lock held. */
static void replace(struct mpfs_cache *c, struct cache_entry *e, void *value,
		    double now)
{
	touch(c, e, now);
	if (e->value == value) { /* the same again: fresh again */
		e->stamp = now;
		return;
	}
	if (c->grace > 0 && (!c->ops.usable || c->ops.usable(e->value))) {
		if (e->prev)
			c->ops.unref(e->prev);
		e->prev = e->value;
		e->prev_stamp = e->stamp;
	} else {
		c->ops.unref(e->value); /* the older prev, if any, stays */
	}
	e->value = c->ops.ref(value);
	e->stamp = now;
}

void *mpfs_cache_put(struct mpfs_cache *c, const char *key, void *value)
{
	void *old = NULL;
	double now;
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	now = c->now();
	e = find(c, key, now);
	if (e) {
		old = c->ops.ref(e->value);
		replace(c, e, value, now);
	} else {
		prune(c, now);
		insert(c, key, value, now);
	}
	pthread_mutex_unlock(&c->lock);
	return old;
}

void *mpfs_cache_put_new(struct mpfs_cache *c, const char *key, void *value)
{
	double now;
	struct cache_entry *e;
	void *won;

	pthread_mutex_lock(&c->lock);
	now = c->now();
	e = find(c, key, now);
	if (e && fresh(c, e, now)) {
		won = c->ops.ref(e->value);
	} else {
		if (e) {
			replace(c, e, value, now);
		} else {
			prune(c, now);
			insert(c, key, value, now);
		}
		won = c->ops.ref(value);
	}
	pthread_mutex_unlock(&c->lock);
	return won;
}

double mpfs_cache_oldest(struct mpfs_cache *c)
{
	double used;

	pthread_mutex_lock(&c->lock);
	used = c->oldest ? c->oldest->used : -1;
	pthread_mutex_unlock(&c->lock);
	return used;
}

int mpfs_cache_evict_oldest(struct mpfs_cache *c)
{
	struct cache_entry *e;
	int r = 0;

	pthread_mutex_lock(&c->lock);
	for (e = c->oldest; e; e = e->newer)
		if (!c->ops.busy || !c->ops.busy(e->value))
			break;
	if (e) {
		remove_entry(c, e);
		c->evictions++;
		r = 1;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

size_t mpfs_cache_count(struct mpfs_cache *c, unsigned long *evictions)
{
	size_t n;

	pthread_mutex_lock(&c->lock);
	n = c->map.count;
	if (evictions)
		*evictions = c->evictions;
	pthread_mutex_unlock(&c->lock);
	return n;
}
