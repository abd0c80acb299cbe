/* core_priv.h - what the files of the core share and nobody else sees:
 * the core itself, and the calls one part makes of another.
 *
 *   core.c      the core, inodes in and out, lookups
 *   attr.c      what a node is, in attributes
 *   view.c      listings of views: fetching, refreshes, stale copies
 *   names.c     what a name stands for: buckets, connections, statuses,
 *               short forms of long names
 *   object.c    sync and bucket objects: GET, cache, stale, versions
 *   links.c     bucket names as links at the root
 *   dir.c       directory handles: snapshots, entries, offsets
 *   kernel.c    what the kernel holds and everything it is told: lookup
 *               counts, versions given, invalidations, the page-cache
 *               push, names gone from a view, the SIGHUP drop
 *   counts.c    <bucket>/counts.json
 *   statsfile.c /.mixpeekfs/stats.json
 *   xattr.c     extended attributes
 */
#ifndef MPFS_CORE_PRIV_H
#define MPFS_CORE_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "mpfs/api.h"
#include "mpfs/cache.h"
#include "mpfs/core.h"
#include "mpfs/hmap.h"
#include "mpfs/inode.h"
#include "mpfs/listing.h"
#include "mpfs/notify.h"
#include "mpfs/path.h"
#include "mpfs/pool.h"
#include "mpfs/stats.h"

/* Room for any path of the core: four components, ids %-encoded in full
 * (the core's paths never hold a short form of a name). */
#define PATH_SIZE (4 * (MPFS_ENCODED_MAX + 8) + 8)

struct mpfs_core {
	struct mpfs_api *api;
	struct mpfs_core_cfg cfg;
	struct mpfs_cache *listings; /* view key -> struct mpfs_listing */
	struct mpfs_cache *objects;  /* id, bucket -> struct mpfs_obj */
	struct mpfs_cache *conns;    /* connection id or name -> its object */
	struct mpfs_cache *bucket_objs; /* bucket id -> struct mpfs_obj (GET) */
	struct mpfs_cache *counts;	/* bucket id -> counts.json's obj */
	pthread_mutex_t counts_lock;	/* guards counts_flights */
	pthread_cond_t counts_done;	/* a counts.json fetch ended */
	struct counts_flight *counts_flights; /* those under way, a bucket
					       * at most once (counts.c) */
	struct mpfs_inodes *inodes;	      /* what the kernel holds */
	struct mpfs_notifier *notifier;
	struct mpfs_notify_ops fs_ops; /* the FUSE glue's (kernel.c) */
	void *fs_ctx;
	uint64_t stats_ino;

	pthread_mutex_t stats_lock;  /* guards stats_snap, stats_size */
	struct mpfs_obj *stats_snap; /* stats.json as last handed out */
	size_t stats_size;	     /* its padded size, only grows */
	size_t counts_size; /* every counts.json's padded size, only grows */

	struct mpfs_pool *pool;	     /* page fetches ahead of readers */
	pthread_mutex_t budget_lock; /* one thread evicts at a time */

	pthread_mutex_t created_lock; /* guards created */
	/* bucket id -> its created_at (core.c's struct created), kept for
	 * the mount: the mtime of its syncs that have no time */
	struct mpfs_hmap created;
};

/* One view's fetch context, freed with its listing. */
struct view {
	struct mpfs_core *core;
	char bucket[MPFS_ID_MAX + 1];
	char status[MPFS_NAME_MAX + 1];
	char conn[MPFS_ID_MAX + 1];
	struct mpfs_sync_filter filter;
	char path[PATH_SIZE];		 /* the directory, for stats.json */
	struct mpfs_stats_listing stats; /* while pages are to come */
	atomic_long pushed;		 /* bytes pushed into the page cache */
	struct mpfs_listing *listing;	 /* whose ctx this is (borrowed) */
	uint64_t ino;			 /* of the directory */
	_Atomic long long fetched_ms;	 /* the last page's arrival, or 0 */
	stale_slot stale; /* why it is served after a failed refresh */
};

/* attr.c */
void dir_stat(struct mpfs_core *core, struct stat *st);
/* A sync file's attributes, but st_ino. */
void sync_stat(struct mpfs_core *core, const struct mpfs_obj *obj,
	       struct stat *st);
/* What a node is, in attributes; *out: the object of a file that has
 * versions (a sync, bucket.json), a new reference, else NULL. by_name: a
 * lookup, where a sync is only if it matches the view; an inode the kernel
 * holds is the sync whatever view it was found in. */
int node_attr(struct mpfs_core *core, const struct mpfs_node *node, int by_name,
	      struct stat *st, struct mpfs_obj **out, struct mpfs_err *err);

/* core.c */
/* Bytes the caches' values hold: objects with their rendered bytes, and
 * listings. */
size_t held_bytes(void);
/* Over cfg.cache_size: the least recently used entries go (not a listing
 * in use) until an eighth of it is free, and the memory back to the
 * system. */
void core_budget(struct mpfs_core *core);
/* What malloc and the parse slots hold unused goes back to the system. */
void give_back(void);
void not_found(struct mpfs_err *err, const char *what);
/* Whether a value held age seconds may still be served (ttl + stale=):
 * caches keep values longer than that. */
int servable(const struct mpfs_core *core, double age);
void nomem(struct mpfs_err *err);
/* The path of entry name in the directory at dir. */
void child_path(const char *dir, const char *name, char *out, size_t size);
/* The path of an id's entry (bucket "", sync ".json") in the directory at
 * dir: the id %-encoded in full, whatever the name the kernel is given. */
void id_path(const char *dir, const char *id, const char *suffix, char *out,
	     size_t size);
/* A bucket's object was seen (from the bucket list or a GET): its
 * created_at is kept for the mount. */
void bucket_seen(struct mpfs_core *core, const struct mpfs_obj *bucket);
/* The mtime of a sync of bucket that has no time of its own: the bucket's
 * created_at once seen, else 0. The same at every mount: the bucket list,
 * or with -o buckets= the check at mount, shows the bucket before any of
 * its syncs. */
time_t bucket_created(struct mpfs_core *core, const char *bucket);

/* view.c */
/* The cached listing of a view (node NULL: the bucket list), or a new one.
 * Returns a new reference, or NULL. */
struct mpfs_listing *listing_of(struct mpfs_core *core,
				const struct mpfs_node *node);
/* The cache key of a view's listing: the directory it shows. */
const char *view_key(const struct mpfs_node *node, char *key, size_t size);
void report_skipped(struct mpfs_listing *l);
/* Calls visit for each entry of a listing, fetching all of it; stops
 * when visit returns non-zero. 1 when stopped, 0 at the end, -1. */
int each_entry(struct mpfs_listing *l,
	       int (*visit)(void *ctx, struct mpfs_obj *obj), void *ctx,
	       struct mpfs_err *err);
/* The listing a failed refresh of key replaced, if within its grace. */
struct mpfs_listing *stale_listing(struct mpfs_core *core, const char *key,
				   const struct mpfs_err *err);
int stale_ok(const struct mpfs_err *err);
/* A copy age seconds old is served for a refresh that failed with err:
 * logged, and its stale slot (a view's or an object's) says why until a
 * refresh brings it again. The slots are guarded by one lock of their
 * own; stale_copy returns a new string or NULL. */
void log_stale(const char *what, const struct mpfs_err *err, double age,
	       stale_slot *slot);
void stale_clear(stale_slot *slot);
char *stale_copy(const stale_slot *slot);
/* How old the copy of a view key shows is, without a request: *fetched_ms
 * (0: nothing held) and *stale (a new string, or NULL when fresh). */
void view_age(struct mpfs_core *core, const char *key, long long *fetched_ms,
	      char **stale);
/* The listing of the view of node (a sync: the view it is in): the
 * cached one while fresh, else a new one. New reference, or NULL. */
struct mpfs_listing *view_listing(struct mpfs_core *core,
				  const struct mpfs_node *node);
/* Whether the view of node has a listing held, fresh or stale, that has
 * entries or is complete. */
int view_listed(struct mpfs_core *core, const struct mpfs_node *node);

/* names.c */
int bucket_exists(struct mpfs_core *core, const char *bucket,
		  struct mpfs_err *err);
/* A view exists when its connection does, and its status is one of
 * by-status/'s or one the API takes (asked with one page). */
int view_exists(struct mpfs_core *core, const struct mpfs_node *node,
		struct mpfs_err *err);
/* The id a short form of a name stands for in directory dir (the root,
 * by-connection/ or a view), found among the names it lists (which may
 * fetch all of it). 0, or -1 with err (MPFS_E_NOT_FOUND: none). */
int short_name_id(struct mpfs_core *core, const struct mpfs_node *dir,
		  const char *name, char *id, size_t size,
		  struct mpfs_err *err);
/* A by-connection/ name that is a connection's name, not its id: 1 and
 * the link's target (the id's encoded name); 0 when it is an id; -1 with
 * err (MPFS_E_NOT_FOUND: neither). */
int conn_link(struct mpfs_core *core, const struct mpfs_node *node,
	      char *target, size_t size, struct mpfs_err *err);

/* object.c */
struct mpfs_obj *object_reuse(void *ctx, const char *id, uint64_t digest);
struct mpfs_obj *object_intern(void *ctx, struct mpfs_obj *obj);
/* A sync gone from a view: whatever is held of it is out of date. */
void object_forget(struct mpfs_core *core, const char *bucket, const char *id);
/* The inode number of obj's version, a sync of bucket. */
uint64_t object_ino(const char *bucket, const struct mpfs_obj *obj);
/* The newest object held for a listed one: obj itself, or a version a
 * GET brought since. New reference. */
struct mpfs_obj *object_current(struct mpfs_core *core, const char *bucket,
				struct mpfs_obj *obj);
/* The object a sync node shows (with match: only if it matches the node's
 * view), fresh from the cache, else revalidated (see object.c). */
int sync_obj(struct mpfs_core *core, const struct mpfs_node *node, int match,
	     struct mpfs_obj **out, struct mpfs_err *err);
/* The version of a sync's file that inode ino (of node) is: its bytes kept
 * since it was replaced, else sync_obj's if it is that version, else -1
 * with MPFS_E_STALE (core.c). New reference, or -1 with err. */
int sync_version(struct mpfs_core *core, uint64_t ino,
		 const struct mpfs_node *node, struct mpfs_obj **obj,
		 struct mpfs_err *err);
int bucket_obj(struct mpfs_core *core, const char *bucket,
	       struct mpfs_obj **out, struct mpfs_err *err);
/* How many fixed views show a sync: its st_nlink. */
nlink_t sync_links(const struct mpfs_obj *obj);

/* links.c */
/* A root name that is a bucket's link: its target (the encoded id). */
int link_of(struct mpfs_core *core, const char *name, char *out, size_t size,
	    struct mpfs_err *err);
void link_stat(struct mpfs_core *core, const char *target, struct stat *st);
/* Every link name of the root, sorted: a new array of n new strings. */
int link_names(struct mpfs_core *core, char ***names, size_t *n,
	       struct mpfs_err *err);
int safe_link_name(const char *name);

/* counts.c */
/* A bucket's counts.json, fresh or fetched now (else stale within
 * stale=). New reference, or -1 with err. */
int counts_obj(struct mpfs_core *core, const char *bucket,
	       struct mpfs_obj **out, struct mpfs_err *err);
/* Its size before it is fetched: what every copy is padded to. */
size_t counts_size(struct mpfs_core *core);

/* statsfile.c */
/* Pads a live file (stats.json, counts.json) with spaces before its final
 * newline to *padded, a size that only grows, by 4 KiB steps (guarded by
 * stats_lock): the kernel reads it with the size a stat gave, and a copy
 * made in between must not be cut short. */
int pad_live(struct mpfs_core *core, struct mpfs_obj *obj, size_t *padded,
	     struct mpfs_err *err);
struct mpfs_obj *stats_obj(struct mpfs_core *core, struct mpfs_err *err);
void stats_watch(struct mpfs_core *core);

/* kernel.c: what the kernel holds and is told. THE RULE: no thread that
 * a FUSE request can wait on ever calls into the kernel (a request's, a
 * pool worker's, the signal thread): these functions only queue, and the
 * notifier's one thread makes the calls (see kernel.c). */
int kernel_start(struct mpfs_core *core, const struct mpfs_notify_ops *ops,
		 void *ctx);
/* One more lookup of ino, which names path (a sync's file: version obj,
 * with attributes st; else obj NULL): before the reply that hands it out.
 * 0, or -1 when out of memory (the inode must not be handed out). */
int kernel_ref(struct mpfs_core *core, uint64_t ino, const char *path,
	       struct mpfs_obj *obj, const struct stat *st);
void kernel_forget(struct mpfs_core *core, uint64_t ino, uint64_t n);
/* A reply gave the kernel the bytes of ino. */
void kernel_paged(struct mpfs_core *core, uint64_t ino);
/* old, the version of a file the daemon had, was replaced by another: a
 * sync's (ino: mpfs_sync_ino) keeps its bytes for its inode while the
 * kernel holds it; a file of one inode (bucket.json, ino) is taken back. */
void kernel_replaced(struct mpfs_core *core, uint64_t ino, int versions,
		     struct mpfs_obj *old);
/* Attributes and pages of ino taken back. */
void kernel_inval(struct mpfs_core *core, uint64_t ino);
/* The entry name of directory parent taken back, with all below it. */
void kernel_inval_entry(struct mpfs_core *core, uint64_t parent,
			const char *name);
/* Entries from index from to to of a view's listing reached the kernel:
 * their bytes go into the page cache. */
void kernel_push(struct mpfs_core *core, struct mpfs_listing *l, struct view *v,
		 size_t from, size_t to);
/* v's listing is complete and replaced another: the syncs gone from it
 * are taken back. Called with the listing's lock held (it only queues). */
void kernel_gone(struct mpfs_core *core, struct view *v);
/* Every inode and root entry the kernel holds taken back; told(ctx, ...)
 * with what was, once done (0, 0 when it could not be). */
void kernel_drop(struct mpfs_core *core,
		 void (*told)(void *ctx, size_t inodes, size_t entries),
		 void *ctx);
/* The notifier's flood: every inode the kernel holds taken back. */
void flood_run(void *core, const struct mpfs_notify_ops *ops, void *ctx);

#endif
