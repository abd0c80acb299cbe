/* cache.h - lifetimes: a map from string keys to reference-counted values,
 * each fresh for ttl seconds from when it was put, and kept stale for grace
 * seconds more, to be served when a refresh fails. The clock is injected so
 * tests drive it. One mutex guards the map; it is never held while a value
 * is made or fetched. */
#ifndef MPFS_CACHE_H
#define MPFS_CACHE_H

#include <stddef.h>

struct mpfs_cache_ops {
	void *(*ref)(void *value);
	void (*unref)(void *value);
	/* Whether a value is worth keeping for its grace once replaced (a
	 * listing whose first page never came is not); NULL: every value. */
	int (*usable)(void *value);
	/* Whether a value is in use, so that it must not be evicted (a
	 * listing a directory handle reads); NULL: none is. */
	int (*busy)(void *value);
};

typedef double (*mpfs_clock_fn)(void);

struct mpfs_cache;

struct mpfs_cache *mpfs_cache_new(double ttl, const struct mpfs_cache_ops *ops,
				  mpfs_clock_fn now);
void mpfs_cache_free(struct mpfs_cache *c);

/* How long values are kept after they stop being fresh; default 0. */
void mpfs_cache_set_grace(struct mpfs_cache *c, double grace);

/* A new reference to the fresh value under key, or NULL. */
void *mpfs_cache_get(struct mpfs_cache *c, const char *key);

/* A new reference to the value under key, fresh or within its grace, or
 * NULL. *age (may be NULL) is how long ago it was put. */
void *mpfs_cache_get_stale(struct mpfs_cache *c, const char *key, double *age);

/* A new reference to the value the current one replaced, if within its
 * grace (for when the new value could not be had), or NULL. */
void *mpfs_cache_get_replaced(struct mpfs_cache *c, const char *key,
			      double *age);

/* Stores a new reference to value under key, stamped now; replaces any
 * (which is kept for its grace, see mpfs_cache_get_replaced). The value
 * already there is only stamped anew. Returns a new reference to the value
 * that was there, fresh or not, or NULL. */
void *mpfs_cache_put(struct mpfs_cache *c, const char *key, void *value);

/* The fresh value under key, or else value itself put there: so that every
 * caller racing to put gets the same one. Returns a new reference. */
void *mpfs_cache_put_new(struct mpfs_cache *c, const char *key, void *value);

/* Forgets the value under key, and the one it replaced. */
void mpfs_cache_drop(struct mpfs_cache *c, const char *key);

/* Forgets every value. */
void mpfs_cache_clear(struct mpfs_cache *c);

/* When the least recently used entry was last used (the clock's time), or
 * -1 when there is none. */
double mpfs_cache_oldest(struct mpfs_cache *c);

/* Forgets the least recently used entry that is not busy. Returns 1, or 0
 * when there is none. */
int mpfs_cache_evict_oldest(struct mpfs_cache *c);

/* The keys held, the most recently used first: a new NULL-terminated
 * array of n new strings (free with mpfs_cache_keys_free). 0, or -1 when
 * out of memory. */
int mpfs_cache_keys(struct mpfs_cache *c, char ***keys, size_t *n);
void mpfs_cache_keys_free(char **keys);
/* Entries held, and evictions so far. */
size_t mpfs_cache_count(struct mpfs_cache *c, unsigned long *evictions);

#endif
