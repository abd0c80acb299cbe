/* stats.h - counters an operator reads in /.mixpeekfs/stats.json: requests
 * by endpoint (in all, and in the last minute), retries, errors by kind, cache
 * hits and misses, bytes received, the listings in progress, FUSE operations by
 * kind and files pushed into the page cache. Process-wide and lock-free but for
 * the list of listings; knows no FUSE. Each hook is one call at the place the
 * event happens. */
#ifndef MPFS_STATS_H
#define MPFS_STATS_H

#include <jansson.h>
#include <stddef.h>

#include "mpfs/err.h"

enum mpfs_stats_endpoint {
	MPFS_EP_BUCKET_LIST,
	MPFS_EP_BUCKET_GET,
	MPFS_EP_SYNC_LIST,
	MPFS_EP_SYNC_GET,
	MPFS_EP_CONNECTION_LIST,
	MPFS_EP_CONNECTION_GET,
	MPFS_EP_OTHER,
	MPFS_EP_COUNT,
};

/* The FUSE operations counted, by kind: what a tool cost in round trips
 * to the daemon. */
enum mpfs_stats_op {
	MPFS_OP_LOOKUP,
	MPFS_OP_FORGET,
	MPFS_OP_GETATTR,
	MPFS_OP_OPENDIR,
	MPFS_OP_READDIR, /* readdir and readdirplus */
	MPFS_OP_OPEN,
	MPFS_OP_READ,
	MPFS_OP_READLINK,
	MPFS_OP_GETXATTR,
	MPFS_OP_LISTXATTR,
	MPFS_OP_STATFS,
	MPFS_OP_COUNT,
};

/* The endpoint a request path names ("/v1/buckets/b1/syncs/list?..."). */
enum mpfs_stats_endpoint mpfs_stats_endpoint_of(const char *method,
						const char *path);

/* One FUSE operation served. */
void mpfs_stats_op(enum mpfs_stats_op op);

/* One HTTP request sent (each try counts). */
void mpfs_stats_request(const char *method, const char *path);
void mpfs_stats_retry(void);
/* A call that failed for good, by kind. */
void mpfs_stats_error(enum mpfs_err_kind kind);
void mpfs_stats_bytes(size_t n);
/* A cache lookup: hit non-zero or a miss. */
void mpfs_stats_cache(int hit);
/* SIGHUP dropped the caches. */
void mpfs_stats_drop(void);
/* A file of bytes pushed into the kernel's page cache. */
void mpfs_stats_push(size_t bytes);
/* Figures that others add to stats.json moved (see mpfs_stats_watch). */
void mpfs_stats_changed(void);

/* A listing while pages are still to come; embedded in its owner, which
 * calls _end when no page is to come, at the latest before it goes away.
 * Zero-initialise it. */
struct mpfs_stats_listing {
	struct mpfs_stats_listing *prev, *next; /* guarded by stats' lock */
	int linked;
	char path[1024]; /* as it shows under the mount */
	long pages;	 /* pages received */
	long items;	 /* items received */
	long total;	 /* the API's total, -1 unknown */
	int fetching;	 /* a page is being fetched */
	int ended;	 /* _end was called: a late page does not relist it */
};

/* path: the directory; copied on the first call. */
void mpfs_stats_listing_fetch(struct mpfs_stats_listing *sl, const char *path);
/* A page of items came (or, ok zero, failed). */
void mpfs_stats_listing_page(struct mpfs_stats_listing *sl, int ok, long items,
			     long total);
void mpfs_stats_listing_end(struct mpfs_stats_listing *sl);

/* Everything, as a new JSON object. */
json_t *mpfs_stats_json(void);

/* Calls fn(ctx) at the first change after mpfs_stats_arm(), from whatever
 * thread makes it (holding no lock of the core): so that a copy of the
 * figures handed out can be dropped when it goes out of date. */
void mpfs_stats_watch(void (*fn)(void *ctx), void *ctx);
/* Returns the figures' generation, which every change moves on. */
unsigned long mpfs_stats_arm(void);
/* No change since mpfs_stats_arm returned gen: a copy of the figures read
 * after it is current (of two readers at once, only the later one's can
 * be). */
int mpfs_stats_unchanged(unsigned long gen);

/* Zeroes the counters (tests). */
void mpfs_stats_reset(void);

#endif
