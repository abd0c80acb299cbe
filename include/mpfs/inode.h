/* inode.h - the inodes the kernel holds: each node id with its lookup
 * count (raised by every lookup and readdirplus entry the kernel is given,
 * lowered by forget), the path it stands for and, for a sync, the version
 * of its content it stands for.
 *
 * A sync has one inode number for each version of its bytes
 * (mpfs_version_ino): what the kernel holds of an inode, its size and its
 * pages, is of one version for as long as it holds it, so a read is never
 * one version's bytes cut at another's size. A version the daemon has
 * since replaced keeps its bytes here (mpfs_inodes_superseded) until the
 * kernel forgets it.
 *
 * Pure bookkeeping: it knows no FUSE and no API. One mutex guards the
 * table; nothing is called with it held but mpfs_obj_ref and _unref. The root
 * (node id 1) is the kernel's for the whole mount and is never kept here. */
#ifndef MPFS_INODE_H
#define MPFS_INODE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

struct mpfs_inodes;
struct mpfs_obj;

struct mpfs_inodes *mpfs_inodes_new(void);
void mpfs_inodes_free(struct mpfs_inodes *t);

/* One more kernel reference to ino, which names path; a sync's version
 * obj (else NULL) with its attributes st. The first reference records
 * them; obj is kept if it is superseded already. Returns 0, or -1 when out
 * of memory. */
int mpfs_inodes_ref(struct mpfs_inodes *t, uint64_t ino, const char *path,
		    struct mpfs_obj *obj, const struct stat *st);

/* n references fewer; the inode is forgotten at 0. Forgetting more than
 * was given is ignored (and forgets it). */
void mpfs_inodes_forget(struct mpfs_inodes *t, uint64_t ino, uint64_t n);

/* The path of ino, NUL-terminated in buf (at most size bytes). Returns 0,
 * or -1 when the kernel holds no such inode. */
int mpfs_inodes_path(struct mpfs_inodes *t, uint64_t ino, char *buf,
		     size_t size);

/* The version ino stands for: its digest (0: not a sync's inode, or not
 * held), and into st (may be NULL) the size, times and links it was
 * given with. *kept: its bytes, when it was superseded (a new reference),
 * else NULL. */
uint64_t mpfs_inodes_version(struct mpfs_inodes *t, uint64_t ino,
			     struct stat *st, struct mpfs_obj **kept);

/* obj, the version of ino, was replaced by a newer one: kept, if the
 * kernel holds ino, until it forgets it. */
void mpfs_inodes_superseded(struct mpfs_inodes *t, uint64_t ino,
			    struct mpfs_obj *obj);

/* Whether the kernel holds ino without its bytes (a push would help). */
int mpfs_inodes_wants_pages(struct mpfs_inodes *t, uint64_t ino);
/* The kernel was given ino's bytes. */
void mpfs_inodes_paged(struct mpfs_inodes *t, uint64_t ino);
/* The kernel's copy of ino was invalidated: it holds no bytes now. */
void mpfs_inodes_dropped(struct mpfs_inodes *t, uint64_t ino);

/* How many inodes the kernel holds, and the sum of their lookup counts. */
size_t mpfs_inodes_count(struct mpfs_inodes *t, uint64_t *lookups);

/* Calls fn for every inode held, on a copy taken under the lock (fn may
 * call into the table). Returns -1 when out of memory, else 0. */
int mpfs_inodes_each(struct mpfs_inodes *t,
		     void (*fn)(void *ctx, uint64_t ino, const char *path),
		     void *ctx);

#endif
