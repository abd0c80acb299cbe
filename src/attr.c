/* attr.c - what a node is, in attributes: directories, the files of syncs
 * (with the inode number of their version), bucket.json, counts.json and
 * the mount's own files, and the links of bucket and connection names.
 * The mode, owner and times every node shares come from the mount's
 * options. */
#include <string.h>

#include "core_priv.h"

void dir_stat(struct mpfs_core *core, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFDIR | (0555 & ~core->cfg.umask);
	st->st_nlink = 2;
	st->st_uid = core->cfg.uid;
	st->st_gid = core->cfg.gid;
	st->st_mtime = st->st_ctime = st->st_atime = core->cfg.mount_time;
}

/* A file showing obj, with nlink names in the tree. */
static void obj_stat(struct mpfs_core *core, const struct mpfs_obj *obj,
		     nlink_t nlink, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_mode = S_IFREG | (0444 & ~core->cfg.umask);
	st->st_nlink = nlink;
	st->st_uid = core->cfg.uid;
	st->st_gid = core->cfg.gid;
	st->st_size = (off_t)obj->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((obj->size + 511) / 512);
	st->st_mtim = st->st_ctim = st->st_atim = obj->mtime;
}

/* counts.json before it is read, without a request: the size every copy
 * is padded to, and when the copy held was fetched (else the mount's
 * time). */
static void counts_stat(struct mpfs_core *core, const char *bucket,
			struct stat *st)
{
	struct mpfs_obj *held =
	    mpfs_cache_get_stale(core->counts, bucket, NULL);
	struct mpfs_obj shown = {.size = counts_size(core)};

	shown.mtime.tv_sec = held ? held->mtime.tv_sec : core->cfg.mount_time;
	mpfs_obj_unref(held);
	obj_stat(core, &shown, 1, st);
}

void sync_stat(struct mpfs_core *core, const struct mpfs_obj *obj,
	       struct stat *st)
{
	obj_stat(core, obj, sync_links(obj), st);
	st->st_ino = 0; /* the caller knows it */
}

/* A root name that is no bucket id may be a bucket name's link. */
static int link_getattr(struct mpfs_core *core, const struct mpfs_node *node,
			struct stat *st, struct mpfs_err *err)
{
	char target[MPFS_NAME_MAX + 1];

	if (err->kind != MPFS_E_NOT_FOUND ||
	    link_of(core, node->bucket, target, sizeof(target), err))
		return -1;
	link_stat(core, target, st);
	st->st_ino = mpfs_node_ino(node);
	return 0;
}

/* bucket.json, /.mixpeekfs and its stats.json; *out: the file's object. */
static int own_file_stat(struct mpfs_core *core, const struct mpfs_node *node,
			 struct stat *st, struct mpfs_obj **out,
			 struct mpfs_err *err)
{
	struct mpfs_obj *obj = NULL;

	if (node->type == MPFS_NODE_META) {
		dir_stat(core, st);
	} else {
		if (node->type == MPFS_NODE_STATS)
			obj = stats_obj(core, err);
		else if (bucket_exists(core, node->bucket, err) == 0)
			bucket_obj(core, node->bucket, &obj, err);
		if (!obj)
			return -1;
		obj_stat(core, obj, 1, st);
		*out = obj;
	}
	st->st_ino = mpfs_node_ino(node);
	return 0;
}

int node_attr(struct mpfs_core *core, const struct mpfs_node *node, int by_name,
	      struct stat *st, struct mpfs_obj **out, struct mpfs_err *err)
{
	*out = NULL;
	if (node->type == MPFS_NODE_SYNC) {
		if (sync_obj(core, node, by_name, out, err))
			return -1;
		sync_stat(core, *out, st);
		st->st_ino =
		    mpfs_version_ino(mpfs_node_ino(node), (*out)->digest);
		return 0;
	}
	if (node->type == MPFS_NODE_COUNTS) {
		if (bucket_exists(core, node->bucket, err))
			return -1;
		counts_stat(core, node->bucket, st);
		st->st_ino = mpfs_node_ino(node);
		return 0;
	}
	if (node->type == MPFS_NODE_META || node->type == MPFS_NODE_STATS ||
	    node->type == MPFS_NODE_BUCKET_JSON) {
		if (own_file_stat(core, node, st, out, err))
			return -1;
		if (node->type == MPFS_NODE_STATS) {
			mpfs_obj_unref(*out); /* made anew: no versions */
			*out = NULL;
		}
		return 0;
	}
	if (node->type == MPFS_NODE_BUCKET &&
	    bucket_exists(core, node->bucket, err))
		return link_getattr(core, node, st, err);
	if (node->type != MPFS_NODE_ROOT && node->type != MPFS_NODE_BUCKET &&
	    bucket_exists(core, node->bucket, err))
		return -1;
	if (node->type == MPFS_NODE_VIEW &&
	    node->filter.kind == MPFS_FILTER_CONNECTION) {
		char target[MPFS_NAME_MAX + 1];
		int r = conn_link(core, node, target, sizeof(target), err);

		if (r < 0)
			return -1;
		if (r == 1) { /* a connection's name: a link to its id */
			link_stat(core, target, st);
			st->st_ino = mpfs_node_ino(node);
			return 0;
		}
	} else if (node->type == MPFS_NODE_VIEW &&
		   view_exists(core, node, err)) {
		return -1;
	}
	dir_stat(core, st);
	st->st_ino = mpfs_node_ino(node);
	return 0;
}
