/* core.h - the filesystem's meaning, without FUSE: what an inode is, what
 * a directory lists and what a file holds, answered from the caches or the
 * API, and the inodes the kernel holds. fs.c is the only caller.
 *
 * Inodes are the stable numbers of mpfs_node_ino: a sync has one in every
 * view. Every call that hands the kernel an inode (lookup, a readdirplus
 * entry with attributes) counts one lookup of it; mpfs_core_forget takes
 * them back. */
#ifndef MPFS_CORE_H
#define MPFS_CORE_H

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "mpfs/api.h"
#include "mpfs/err.h"
#include "mpfs/notify.h"
#include "mpfs/render.h"

/* The first page when mixpeekfs chooses: small, so that the first entries
 * come one round trip after the reader asks. (A readdir reply that has
 * entries does not wait for the next page: a reader that stops early costs
 * this page and the one read ahead.) */
#define MPFS_FIRST_PAGE 100

/* The root's inode. */
#define MPFS_ROOT_INO 1

struct mpfs_core_cfg {
	double ttl;
	double stale;	  /* after ttl, served when a refresh fails */
	long page_size;	  /* 0: mixpeekfs chooses */
	int max_requests; /* page fetches of one listing at once */
	char **buckets;	  /* NULL-terminated, or NULL for all buckets */
	uid_t uid;
	gid_t gid;
	mode_t umask;	   /* taken from every mode */
	long prefetch;	   /* bytes of one listing pushed to the page cache */
	size_t cache_size; /* bytes the caches may hold */
	time_t mount_time;
};

struct mpfs_core;
struct mpfs_dir;

/* Takes ownership of api. */
struct mpfs_core *mpfs_core_new(struct mpfs_api *api,
				const struct mpfs_core_cfg *cfg);

/* A bucket object the API sent outside the core (the check at mount, with
 * -o buckets=): what the core keeps of it (its created_at, the mtime of
 * its syncs that have none of their own). */
void mpfs_core_bucket_seen(struct mpfs_core *core, json_t *bucket);

/* Starts the core's own thread, the only one that makes kernel
 * notifications (through ops; see kernel.c for why). Called once the
 * daemon runs (FUSE's init). Returns 0 or -1. */
int mpfs_core_start(struct mpfs_core *core, const struct mpfs_notify_ops *ops,
		    void *ctx);
/* No more kernel notifications: the session is ending (before unmount).
 * mpfs_core_free then waits for the thread. */
void mpfs_core_stop(struct mpfs_core *core);
void mpfs_core_free(struct mpfs_core *core);

/* The entry name in directory parent: its attributes, st_ino its inode,
 * with one lookup counted (mpfs_core_forget it if the reply fails). */
int mpfs_core_lookup(struct mpfs_core *core, uint64_t parent, const char *name,
		     struct stat *st, struct mpfs_err *err);
/* The kernel forgot n lookups of ino. */
void mpfs_core_forget(struct mpfs_core *core, uint64_t ino, uint64_t n);

/* The attributes of ino: of a sync's file, those of the version it is
 * (inode.h), whatever version the API has now. */
int mpfs_core_getattr(struct mpfs_core *core, uint64_t ino, struct stat *st,
		      struct mpfs_err *err);

/* The path an inode (with name: an entry of it) shows, for log lines. */
void mpfs_core_path(struct mpfs_core *core, uint64_t ino, const char *name,
		    char *buf, size_t size);

/* Whether ino is one of mixpeekfs's own (/.mixpeekfs and stats.json):
 * operations on them are not counted in the statistics they show. */
int mpfs_core_own(struct mpfs_core *core, uint64_t ino);

/* A directory handle: a snapshot whose offsets stay valid until released.
 * *cached is set when the snapshot is the same complete listing that an
 * earlier handle showed, so the kernel may keep what it read then. */
int mpfs_core_opendir(struct mpfs_core *core, uint64_t ino,
		      struct mpfs_dir **dir, int *cached, struct mpfs_err *err);
void mpfs_core_releasedir(struct mpfs_core *core, struct mpfs_dir *dir);

/* Gives entries from offset on (0 and 1 are "." and ".."), each with the
 * offset of the next, until fill returns non-zero (the reply is full) or
 * the directory ends. Fetches a page only when it has given no entry yet:
 * a reply with entries does not wait for the network. attrs says st is
 * whole: with plus, such an entry hands the kernel its inode (one lookup
 * counted when fill takes it; an inode that cannot be counted is not
 * handed out: the reply ends before it). Otherwise st has only the type and
 * inode (a size that would cost a request). Once the reply is sent, or failed,
 * mpfs_core_readdir_sent says which. */
typedef int (*mpfs_fill_fn)(void *ctx, const char *name, const struct stat *st,
			    int attrs, off_t next);
/* The inodes a reply hands the kernel, the caller's once
 * mpfs_core_readdir returns (the directory may be released as soon as
 * the reply is out), for mpfs_core_readdir_sent. */
struct mpfs_given {
	uint64_t *inos;
	size_t n;
};
int mpfs_core_readdir(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
		      int plus, mpfs_fill_fn fill, void *ctx,
		      struct mpfs_given *given, struct mpfs_err *err);
/* The reply went out (sent), or it did not: the lookups its entries
 * counted are taken back. Frees given's. */
void mpfs_core_readdir_sent(struct mpfs_core *core, struct mpfs_given *given,
			    int sent);

/* The object a file inode shows, a new reference: of a sync's file, the
 * version it is (MPFS_E_STALE when its bytes are gone). */
int mpfs_core_open(struct mpfs_core *core, uint64_t ino, struct mpfs_obj **obj,
		   struct mpfs_err *err);

/* After the reply to a read of obj as ino (from the handle or the inode):
 * if it went out (sent), the kernel holds obj's bytes. */
void mpfs_core_read(struct mpfs_core *core, uint64_t ino,
		    const struct mpfs_obj *obj, int sent);

/* The target of a symbolic link (a bucket name at the root),
 * NUL-terminated in buf. */
int mpfs_core_readlink(struct mpfs_core *core, uint64_t ino, char *buf,
		       size_t size, struct mpfs_err *err);

/* Extended attributes: the names, each NUL-terminated, or one value (not
 * terminated), in a new buffer the caller frees. A name outside
 * user.mixpeek.* fails with MPFS_E_UNSUPPORTED; one within it that the
 * inode lacks, with MPFS_E_NO_ATTR. */
int mpfs_core_listxattr(struct mpfs_core *core, uint64_t ino, char **names,
			size_t *len, struct mpfs_err *err);
int mpfs_core_getxattr(struct mpfs_core *core, uint64_t ino, const char *name,
		       char **value, size_t *len, struct mpfs_err *err);

/* Drops every cache, and what the kernel holds of every inode and of every
 * entry of the root (with all below it): queued, and told(ctx, inodes,
 * entries) once the kernel was told (from another thread). */
void mpfs_core_drop(struct mpfs_core *core,
		    void (*told)(void *ctx, size_t inodes, size_t entries),
		    void *ctx);

#endif
