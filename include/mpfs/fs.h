/* fs.h - the FUSE operations of mixpeekfs. */
#ifndef MPFS_FS_H
#define MPFS_FS_H

#define FUSE_USE_VERSION 31
#include <fuse.h>

/* The operations; fuse_new's private_data must be the struct mpfs_fs. */
extern const struct fuse_operations mpfs_fs_ops;

struct mpfs_fs {
	struct mpfs_core *core;
	double ttl;
	struct fuse *fuse; /* set in init */
};

/* Whether the FUSE request this thread serves was interrupted and its
 * caller is going away (Ctrl-C on ls): the API client polls it to give up
 * early. */
int mpfs_fs_interrupted(void);

#endif
