/* inode.h - the inodes the kernel holds: each node id with its lookup
 * count (raised by every lookup and readdirplus entry the kernel is given,
 * lowered by forget), the path it stands for, and which version of its
 * content the kernel was given, so that a newer one can be told apart.
 *
 * Pure bookkeeping: it knows no FUSE and no API. One mutex guards the
 * table; nothing is called with it held but mpfs_obj_ref and _unref. The root
 * (node id 1) is the kernel's for the whole mount and is never kept here. */
#ifndef MPFS_INODE_H
#define MPFS_INODE_H

#include <stddef.h>
#include <stdint.h>

struct mpfs_inodes;
struct mpfs_obj;

struct mpfs_inodes *mpfs_inodes_new(void);
void mpfs_inodes_free(struct mpfs_inodes *t);

/* One more kernel reference to ino, which names path (copied the first
 * time). Returns 0, or -1 when out of memory. The version it was given
 * with is mpfs_inodes_given's, once the reply is out. */
int mpfs_inodes_ref(struct mpfs_inodes *t, uint64_t ino, const char *path);

/* n references fewer; the inode is forgotten at 0. Forgetting more than
 * was given is ignored (and forgets it). */
void mpfs_inodes_forget(struct mpfs_inodes *t, uint64_t ino, uint64_t n);

/* The path of ino, NUL-terminated in buf (at most size bytes). Returns 0,
 * or -1 when the kernel holds no such inode. */
int mpfs_inodes_path(struct mpfs_inodes *t, uint64_t ino, char *buf,
		     size_t size);

/* Content versions are digests of the bytes, never 0. */

/* The kernel was given the attributes of version digest, with its bytes
 * when pages is set. Returns 1 when digest is older than the newest the
 * daemon has seen for ino: the caller then takes it back (invalidates).
 * Returns 0 otherwise, and when the kernel holds no such inode. */
int mpfs_inodes_given(struct mpfs_inodes *t, uint64_t ino, uint64_t digest,
		      int pages);

/* Whether the kernel holds ino with the bytes of version digest. */
int mpfs_inodes_has_pages(struct mpfs_inodes *t, uint64_t ino, uint64_t digest);

/* The daemon now has version digest of ino, and had old (may be NULL)
 * before it. Returns 1 when the kernel holds another version, which the
 * caller must have invalidated; until then (mpfs_inodes_dropped) the
 * kernel still counts as holding it, and old, if it is that version, is
 * held for mpfs_inodes_held until attributes of another version are given
 * (mpfs_inodes_giving, mpfs_inodes_given). 0 otherwise. */
int mpfs_inodes_newest(struct mpfs_inodes *t, uint64_t ino, uint64_t digest,
		       struct mpfs_obj *old);

/* The version the kernel holds the size of, when it is not the newest and
 * is held (a new reference); NULL otherwise. A read is answered from it
 * (the kernel cuts what it reads at the size it holds), and, until
 * mpfs_inodes_read_done once its reply is out, the attributes of another
 * version are not given (mpfs_inodes_giving waits). */
struct mpfs_obj *mpfs_inodes_read_held(struct mpfs_inodes *t, uint64_t ino);
void mpfs_inodes_read_done(struct mpfs_inodes *t, uint64_t ino);

/* The attributes of obj's version of ino are about to go out (before the
 * reply; mpfs_inodes_given after it): the kernel counts as holding that
 * version, and a version held for reads goes, if another. A version older
 * than the newest (from a view not refreshed yet: a sync is one inode in
 * every view) is held itself: reads are answered from it, not from the
 * newest, until the attributes of another go out. */
void mpfs_inodes_giving(struct mpfs_inodes *t, uint64_t ino,
			struct mpfs_obj *obj);

/* Whether the kernel holds the attributes of version digest of ino. */
int mpfs_inodes_holds(struct mpfs_inodes *t, uint64_t ino, uint64_t digest);

/* The kernel's copy of ino was invalidated: it holds no version now. */
void mpfs_inodes_dropped(struct mpfs_inodes *t, uint64_t ino);

/* How many inodes the kernel holds, and the sum of their lookup counts. */
size_t mpfs_inodes_count(struct mpfs_inodes *t, uint64_t *lookups);

/* Calls fn for every inode held, on a copy taken under the lock (fn may
 * call into the table). Returns -1 when out of memory, else 0. */
int mpfs_inodes_each(struct mpfs_inodes *t,
		     void (*fn)(void *ctx, uint64_t ino, const char *path),
		     void *ctx);

#endif
