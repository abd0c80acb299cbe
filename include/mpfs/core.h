/* core.h - the filesystem's meaning, without FUSE: what a path is, what a
 * directory lists and what a file holds, answered from the caches or the
 * API. fs.c is the only caller. */
#ifndef MPFS_CORE_H
#define MPFS_CORE_H

#include <sys/stat.h>
#include <sys/types.h>

#include "mpfs/api.h"
#include "mpfs/err.h"
#include "mpfs/render.h"

/* The first page when mixpeekfs chooses: small, so that the first entries
 * come one round trip after the reader asks. (A readdir reply that has
 * entries does not wait for the next page: a reader that stops early costs
 * this page and the one read ahead.) */
#define MPFS_FIRST_PAGE 100

struct mpfs_core_cfg {
	double ttl;
	double stale;	  /* after ttl, served when a refresh fails */
	long page_size;	  /* 0: mixpeekfs chooses */
	int max_requests; /* page fetches of one listing at once */
	char **buckets;	  /* NULL-terminated, or NULL for all buckets */
	uid_t uid;
	gid_t gid;
	time_t mount_time;
};

struct mpfs_core;
struct mpfs_dir;

/* Takes ownership of api. */
struct mpfs_core *mpfs_core_new(struct mpfs_api *api,
				const struct mpfs_core_cfg *cfg);
void mpfs_core_free(struct mpfs_core *core);

int mpfs_core_getattr(struct mpfs_core *core, const char *path, struct stat *st,
		      struct mpfs_err *err);

/* A directory handle: a snapshot whose offsets stay valid until released.
 * *cached is set when the snapshot is the same complete listing that an
 * earlier handle showed, so the kernel may keep what it read then. */
int mpfs_core_opendir(struct mpfs_core *core, const char *path,
		      struct mpfs_dir **dir, int *cached, struct mpfs_err *err);
void mpfs_core_releasedir(struct mpfs_dir *dir);

/* Gives entries from offset on (0 and 1 are "." and ".."), each with its
 * attributes and the offset of the next, until fill returns non-zero or the
 * directory ends. Fetches a page only when it has given no entry yet: a
 * reply with entries does not wait for the network. An entry whose st_nlink
 * is 0 carries only its type and inode (its size would cost a request): ask
 * getattr for the rest. */
typedef int (*mpfs_fill_fn)(void *ctx, const char *name, const struct stat *st,
			    off_t next);
int mpfs_core_readdir(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
		      mpfs_fill_fn fill, void *ctx, struct mpfs_err *err);

/* The statistics changed: the next stat or read of stats.json makes it
 * anew. The caller also drops the kernel's copy. */
void mpfs_core_stats_changed(struct mpfs_core *core);

/* The object a file path shows: a new reference. */
int mpfs_core_open(struct mpfs_core *core, const char *path,
		   struct mpfs_obj **obj, struct mpfs_err *err);

/* The target of a symbolic link (a bucket name at the root), NUL-terminated
 * in buf. */
int mpfs_core_readlink(struct mpfs_core *core, const char *path, char *buf,
		       size_t size, struct mpfs_err *err);

/* Extended attributes: the names, each NUL-terminated, or one value (not
 * terminated), in a new buffer the caller frees. A path without an
 * attribute of that name fails with MPFS_E_NO_ATTR. */
int mpfs_core_listxattr(struct mpfs_core *core, const char *path, char **names,
			size_t *len, struct mpfs_err *err);
int mpfs_core_getxattr(struct mpfs_core *core, const char *path,
		       const char *name, char **value, size_t *len,
		       struct mpfs_err *err);

/* Drops every cache, then calls visit with each path those caches could
 * have handed out (so the caller can drop the kernel's copies). Returns
 * how many paths were visited. */
size_t mpfs_core_drop(struct mpfs_core *core,
		      void (*visit)(void *ctx, const char *path), void *ctx);

#endif
