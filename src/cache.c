/* cache.c - TTL lifetimes over reference-counted values. A value taken from
 * here stays valid for its holder after it expires or is replaced: expiry
 * only drops the cache's own reference.
 *
 * Lock order: c->lock only; values are never made under it. */
#include "mpfs/cache.h"

#include <pthread.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/clock.h"

struct cache_entry {
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
	pthread_mutex_t lock; /* guards root, count, next_prune */
	void *root;	      /* tsearch tree of struct cache_entry */
	size_t count;
	size_t next_prune;
};

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct cache_entry *)a)->key,
		      ((const struct cache_entry *)b)->key);
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

static struct mpfs_cache *freeing; /* tdestroy has no context argument */

static void entry_free_node(void *p)
{
	entry_free(freeing, p);
}

void mpfs_cache_clear(struct mpfs_cache *c)
{
	static pthread_mutex_t freeing_lock = PTHREAD_MUTEX_INITIALIZER;

	pthread_mutex_lock(&c->lock);
	pthread_mutex_lock(&freeing_lock);
	freeing = c;
	tdestroy(c->root, entry_free_node);
	pthread_mutex_unlock(&freeing_lock);
	c->root = NULL;
	c->count = 0;
	pthread_mutex_unlock(&c->lock);
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
	tdelete(e, &c->root, cmp_entry);
	c->count--;
	entry_free(c, e);
}

struct prune_walk {
	struct mpfs_cache *c;
	double now;
	struct cache_entry **stale;
	size_t n;
};

static void collect_stale(const void *node, VISIT which, void *ctx)
{
	struct prune_walk *w = ctx;
	struct cache_entry *e = *(struct cache_entry *const *)node;

	if ((which == postorder || which == leaf) &&
	    !kept(w->c, e->stamp, w->now))
		w->stale[w->n++] = e;
}

/* Drops expired entries once the map has doubled since the last prune, so
 * keys nobody asks for again do not pile up. Lock held. */
static void prune(struct mpfs_cache *c, double now)
{
	struct prune_walk w = {.c = c, .now = now};

	if (c->count < c->next_prune)
		return;
	w.stale = malloc(c->count * sizeof(*w.stale));
	if (w.stale) {
		twalk_r(c->root, collect_stale, &w);
		for (size_t i = 0; i < w.n; i++)
			remove_entry(c, w.stale[i]);
		free(w.stale);
	}
	c->next_prune = 2 * c->count + 256;
}

/* The entry under key, fresh or in its grace; one past both is removed,
 * and so is a replaced value past its grace. Lock held. */
static struct cache_entry *find(struct mpfs_cache *c, const char *key,
				double now)
{
	struct cache_entry probe = {.key = (char *)key};
	void *node = tfind(&probe, &c->root, cmp_entry);
	struct cache_entry *e = node ? *(struct cache_entry **)node : NULL;

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
	void *node;

	if (!e)
		return;
	e->key = strdup(key);
	e->value = c->ops.ref(value);
	e->stamp = now;
	e->prev = NULL;
	node = e->key ? tsearch(e, &c->root, cmp_entry) : NULL;
	if (!node) {
		entry_free(c, e); /* out of memory: simply not cached */
		return;
	}
	c->count++;
}

/* Puts value in e's place; the old value is kept as prev for its grace.
 * Lock held. */
static void replace(struct mpfs_cache *c, struct cache_entry *e, void *value,
		    double now)
{
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

struct each_walk {
	void (*fn)(void *ctx, const char *key, void *value);
	void *ctx;
};

static void visit_entry(const void *node, VISIT which, void *ctx)
{
	struct each_walk *w = ctx;
	struct cache_entry *e = *(struct cache_entry *const *)node;

	if (which == postorder || which == leaf)
		w->fn(w->ctx, e->key, e->value);
}

void mpfs_cache_each(struct mpfs_cache *c,
		     void (*fn)(void *ctx, const char *key, void *value),
		     void *ctx)
{
	struct each_walk w = {fn, ctx};

	pthread_mutex_lock(&c->lock);
	twalk_r(c->root, visit_entry, &w);
	pthread_mutex_unlock(&c->lock);
}
