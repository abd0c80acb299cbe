/* render.h - pure: an API object rendered once into the immutable bytes a
 * file shows, with the few fields the tree needs. Reference-counted, so an
 * open file keeps its size and bytes together however caches move on. */
#ifndef MPFS_RENDER_H
#define MPFS_RENDER_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "mpfs/err.h"

struct mpfs_slab;

/* Why a copy is served after a failed refresh, or NULL (the core's). */
typedef char *_Atomic stale_slot;

struct mpfs_obj {
	atomic_int refs;
	/* The version: a digest of the JSON the bytes are rendered from
	 * (mpfs_json_digest), never 0. Equal digests, equal bytes. */
	uint64_t digest;
	/* Set once another object holds its place in the core's caches (a
	 * newer version, or this one made anew): who holds this one may
	 * look for that. */
	atomic_int superseded;
	/* Set once a listing has brought it: it is had again through a
	 * listing, never by a GET of its own. */
	atomic_int listed;
	const char *id;	  /* the API id, as received */
	const char *name; /* its file name: encoded id + suffix */
	char *data;	  /* pretty JSON and a final newline */
	size_t size;
	struct timespec mtime;
	time_t created; /* created_at, in seconds; 0 when absent or no time */
	const char *status;	   /* NULL when absent */
	const char *connection_id; /* NULL when absent */
	int is_active;		   /* 1, 0, or -1 when absent */
	/* For extended attributes and bucket names; NULL when absent. */
	const char *bucket_id;
	const char *updated_at;
	const char *last_error;	 /* a string as it is; another value as JSON */
	const char *bucket_name; /* BucketResponse */
	/* When the API last sent it (a listing's page or a GET that brought
	 * this version, again or first), in ms since the epoch. */
	_Atomic long long fetched_ms;
	/* Why it is served from its last good copy after a failed refresh,
	 * or NULL (see the core's stale slots: written under their lock, read
	 * without it only to see whether there is one). */
	stale_slot stale;
	/* Made at each open: read past the page cache. Its data is malloc'd
	 * apart (statsfile.c grows it); any other's is in strings[]. */
	int live;
	size_t bytes;		/* of memory it holds (mpfs_obj_bytes) */
	struct mpfs_slab *slab; /* the block it is in (slab.h), or NULL */
	char strings[];		/* where the fields above point */
};

/* The wall clock in ms since the epoch: what fetched_ms counts. */
long long mpfs_wall_ms(void);
/* ms as RFC 3339 in UTC with milliseconds: "2026-12-06T08:21:17.123Z". */
void mpfs_rfc3339_ms(long long ms, char *out, size_t size);

/* A digest of a JSON value: of its types, keys in order and values, so
 * that two values render to the same bytes exactly when their digests are
 * equal (but for a 64-bit collision). Never 0. */
uint64_t mpfs_json_digest(json_t *json);

/* Renders a JSON object whose id is the string at id_key. Returns a new
 * reference, or NULL with err set (MPFS_E_MALFORMED when the item is not an
 * object or has no non-empty string id). mtime falls back to fallback_mtime
 * when neither updated_at nor created_at parses: a time that does not
 * change from one mount to the next (the bucket's created_at, or 0). digest is
 * the item's mpfs_json_digest, or 0 to have it computed. */
struct mpfs_obj *mpfs_obj_new(json_t *json, const char *id_key,
			      const char *suffix, time_t fallback_mtime,
			      uint64_t digest, struct mpfs_err *err);

/* A file of mixpeekfs's own (stats.json): json rendered the same way, made
 * anew at each open (live is set). New reference, or NULL with err set. */
struct mpfs_obj *mpfs_obj_new_live(json_t *json, const char *name, time_t mtime,
				   struct mpfs_err *err);

/* Bytes every object alive holds, together. */
size_t mpfs_obj_bytes(void);

/* New reference to the same object. */
struct mpfs_obj *mpfs_obj_ref(struct mpfs_obj *obj);

/* Whether the object is in a block mostly of holes (slab.h): one made
 * anew in its stead lets them go. */
int mpfs_obj_sparse(const struct mpfs_obj *obj);

/* Drops a reference; NULL is a no-op. */
void mpfs_obj_unref(struct mpfs_obj *obj);

/* Pretty-prints json (two-space indent, key order kept, final newline).
 * Returns a malloc'd string and its length, or NULL. */
char *mpfs_render_json(json_t *json, size_t *len);

/* Parses an ISO 8601 timestamp ("2025-01-02T03:04:05.123Z", "+02:00",
 * no zone = UTC), fractions of a second kept to the nanosecond. Returns 0,
 * or -1 if it is not one. */
int mpfs_time_parse(const char *s, struct timespec *out);

#endif
