/* fs.c - the only struct fuse_operations: path in, core call, errno out.
 * Each failing operation leaves one log line (never the key) through
 * fail(). Every operation that would change something is EROFS. */
#include "mpfs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "mpfs/core.h"
#include "mpfs/err.h"
#include "mpfs/log.h"
#include "mpfs/path.h"
#include "mpfs/stats.h"
#include "mpfs/sig.h"

static struct mpfs_fs *fs_of(void)
{
	return fuse_get_context()->private_data;
}

static int fail(const char *op, const char *path, const struct mpfs_err *err)
{
	int e = mpfs_err_errno(err);
	enum mpfs_log_level level =
	    e == ENOENT || e == EINTR ? MPFS_LOG_INFO : MPFS_LOG_ERROR;

	if (err->op[0] && err->http_status)
		mpfs_log(level, "%s '%s': %s: http %ld: %s", op, path, err->op,
			 err->http_status, err->msg);
	else if (err->op[0])
		mpfs_log(level, "%s '%s': %s: %s", op, path, err->op, err->msg);
	else
		mpfs_log(level, "%s '%s': %s", op, path, err->msg);
	return -e;
}

/* The figures moved: drop our snapshot of stats.json and the kernel's
 * pages and attributes of it (files are kept in the page cache). */
static void stats_changed(void *ctx)
{
	struct mpfs_fs *fs = ctx;

	mpfs_core_stats_changed(fs->core);
	fuse_invalidate_path(fs->fuse, "/" MPFS_META_NAME "/stats.json");
}

/* Signals whose default action is not to end the process. */
#define SIGS_NOT_FATAL                                                         \
	(1ULL << (SIGCHLD - 1) | 1ULL << (SIGURG - 1) |                        \
	 1ULL << (SIGWINCH - 1) | 1ULL << (SIGCONT - 1) |                      \
	 1ULL << (SIGSTOP - 1) | 1ULL << (SIGTSTP - 1) |                       \
	 1ULL << (SIGTTIN - 1) | 1ULL << (SIGTTOU - 1))

/* Whether a signal that ends the process is pending for thread tid: one
 * pending, not blocked, neither caught nor ignored, that by default kills.
 * When that cannot be read (another pid namespace, /proc mounted with
 * hidepid), the kernel's word is taken: yes. */
static int caller_dying(pid_t tid)
{
	unsigned long long pnd = 0, shd = 0, blk = 0, ign = 0, cgt = 0, v;
	char path[64], line[128];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)tid);
	f = tid > 0 ? fopen(path, "re") : NULL;
	if (!f)
		return 1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "SigPnd: %llx", &v) == 1)
			pnd = v;
		else if (sscanf(line, "ShdPnd: %llx", &v) == 1)
			shd = v;
		else if (sscanf(line, "SigBlk: %llx", &v) == 1)
			blk = v;
		else if (sscanf(line, "SigIgn: %llx", &v) == 1)
			ign = v;
		else if (sscanf(line, "SigCgt: %llx", &v) == 1)
			cgt = v;
	}
	fclose(f);
	return ((pnd | shd) & ~(blk | ign | cgt | SIGS_NOT_FATAL)) != 0;
}

/* The kernel interrupts a request for any signal its caller gets, even one
 * that changes nothing: a SIGCHLD queued while a thread of the caller held
 * it blocked (as Python does around fork), the preemption signals of Go.
 * Giving up then would hand the caller an EINTR it has no handler for, so
 * an interrupt counts only when the caller is going away (Ctrl-C on ls,
 * kill): then the worker is freed at once. A caller that handles the
 * signal gets its answer first, within the timeout. */
int mpfs_fs_interrupted(void)
{
	return fuse_interrupted() && caller_dying(fuse_get_context()->pid);
}

static void *fs_init(struct fuse_conn_info *conn, struct fuse_config *cfg)
{
	struct mpfs_fs *fs = fs_of();

	(void)conn;
	cfg->entry_timeout = fs->ttl;
	cfg->attr_timeout = fs->ttl;
	cfg->negative_timeout = fs->ttl;
	cfg->use_ino = 1; /* stable st_ino: see mpfs_node_ino */
	mpfs_sig_start(fuse_get_context()->fuse, fs->core);
	fs->fuse = fuse_get_context()->fuse;
	mpfs_stats_watch(stats_changed, fs);
	return fs;
}

static void fs_destroy(void *private_data)
{
	(void)private_data;
	mpfs_stats_watch(NULL, NULL); /* the fuse handle goes away */
}

static int fs_getattr(const char *path, struct stat *st,
		      struct fuse_file_info *fi)
{
	struct mpfs_err err;

	(void)fi;
	mpfs_err_clear(&err);
	if (mpfs_core_getattr(fs_of()->core, path, st, &err))
		return fail("stat", path, &err);
	return 0;
}

static int fs_opendir(const char *path, struct fuse_file_info *fi)
{
	struct mpfs_dir *dir;
	struct mpfs_err err;
	int cached;

	mpfs_err_clear(&err);
	if (mpfs_core_opendir(fs_of()->core, path, &dir, &cached, &err))
		return fail("opendir", path, &err);
	fi->fh = (uintptr_t)dir;
	/* The kernel keeps what it read until the listing is fetched anew. */
	fi->cache_readdir = 1;
	fi->keep_cache = cached;
	return 0;
}

static int fs_releasedir(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	mpfs_core_releasedir((struct mpfs_dir *)(uintptr_t)fi->fh);
	return 0;
}

struct fill_ctx {
	void *buf;
	fuse_fill_dir_t filler;
};

static int fill(void *ctx, const char *name, const struct stat *st, off_t next)
{
	struct fill_ctx *f = ctx;

	/* st_nlink 0: type and inode only, getattr tells the rest. */
	return f->filler(f->buf, name, st, next,
			 st->st_nlink ? FUSE_FILL_DIR_PLUS : 0);
}

static int fs_readdir(const char *path, void *buf, fuse_fill_dir_t filler,
		      off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct fill_ctx ctx = {buf, filler};
	struct mpfs_err err;

	(void)flags;
	mpfs_err_clear(&err);
	if (mpfs_core_readdir(fs_of()->core,
			      (struct mpfs_dir *)(uintptr_t)fi->fh, off, fill,
			      &ctx, &err))
		return fail("readdir", path, &err);
	return 0;
}

/* With a ttl, the first open answers ENOSYS: the kernel then opens files
 * without asking (no open or release round trip) and keeps their pages,
 * dropping them when a refreshed stat shows another size or mtime; reads
 * find the object by path. With ttl=0 every open fetches the object anew. */
static int fs_open(const char *path, struct fuse_file_info *fi)
{
	struct mpfs_obj *obj;
	struct mpfs_err err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC))
		return -EROFS;
	if (fs_of()->ttl > 0)
		return -ENOSYS;
	mpfs_err_clear(&err);
	if (mpfs_core_open(fs_of()->core, path, &obj, &err))
		return fail("open", path, &err);
	fi->fh = (uintptr_t)obj;
	fi->direct_io = obj->live; /* stats.json: its size is not known */
	return 0;
}

static int fs_read(const char *path, char *buf, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	struct mpfs_obj *obj = (struct mpfs_obj *)(uintptr_t)fi->fh;
	struct mpfs_err err;

	if (!obj) {
		mpfs_err_clear(&err);
		if (mpfs_core_open(fs_of()->core, path, &obj, &err))
			return fail("read", path, &err);
	} else {
		mpfs_obj_ref(obj);
	}
	if (off < 0 || (size_t)off >= obj->size)
		size = 0;
	else if (size > obj->size - (size_t)off)
		size = obj->size - (size_t)off;
	if (size)
		memcpy(buf, obj->data + off, size);
	mpfs_obj_unref(obj);
	return (int)size;
}

static int fs_release(const char *path, struct fuse_file_info *fi)
{
	(void)path;
	mpfs_obj_unref((struct mpfs_obj *)(uintptr_t)fi->fh);
	return 0;
}

static int fs_readlink(const char *path, char *buf, size_t size)
{
	struct mpfs_err err;

	mpfs_err_clear(&err);
	if (mpfs_core_readlink(fs_of()->core, path, buf, size, &err))
		return fail("readlink", path, &err);
	return 0;
}

/* The xattr calls' size protocol: 0 asks for the length. */
static int xattr_reply(char *data, size_t len, char *buf, size_t size)
{
	int r = (int)len;

	if (size && len > size)
		r = -ERANGE;
	else if (size)
		memcpy(buf, data, len);
	free(data);
	return r;
}

static int fs_getxattr(const char *path, const char *name, char *buf,
		       size_t size)
{
	struct mpfs_err err;
	char *value;
	size_t len;

	mpfs_err_clear(&err);
	if (mpfs_core_getxattr(fs_of()->core, path, name, &value, &len, &err)) {
		/* Asked of every file by ls -l (security.*): not worth a
		 * log line. */
		if (err.kind == MPFS_E_NO_ATTR)
			return -mpfs_err_errno(&err);
		return fail("getxattr", path, &err);
	}
	return xattr_reply(value, len, buf, size);
}

static int fs_listxattr(const char *path, char *buf, size_t size)
{
	struct mpfs_err err;
	char *names;
	size_t len;

	mpfs_err_clear(&err);
	if (mpfs_core_listxattr(fs_of()->core, path, &names, &len, &err))
		return fail("listxattr", path, &err);
	return xattr_reply(names, len, buf, size);
}

static int fs_statfs(const char *path, struct statvfs *sv)
{
	(void)path;
	/* Zeros would make df and file managers hide the mount; a full disk
	 * would page whoever watches disk space. Nothing can be written. */
	memset(sv, 0, sizeof(*sv));
	sv->f_bsize = 4096;
	sv->f_frsize = 4096;
	sv->f_blocks = sv->f_bfree = sv->f_bavail = 1UL << 20;
	sv->f_files = sv->f_ffree = sv->f_favail = 1UL << 20;
	sv->f_namemax = 255;
	sv->f_flag = ST_RDONLY | ST_NOSUID;
	return 0;
}

/* Every change is refused: the tree is a read-only view of the API. */
static int rofs_path(const char *path)
{
	(void)path;
	return -EROFS;
}
static int rofs_mode(const char *path, mode_t mode)
{
	(void)path;
	(void)mode;
	return -EROFS;
}
static int rofs_mknod(const char *path, mode_t mode, dev_t dev)
{
	(void)path;
	(void)mode;
	(void)dev;
	return -EROFS;
}
static int rofs_two(const char *from, const char *to)
{
	(void)from;
	(void)to;
	return -EROFS;
}
static int rofs_rename(const char *from, const char *to, unsigned int flags)
{
	(void)flags;
	return rofs_two(from, to);
}
static int rofs_chmod(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return rofs_mode(path, mode);
}
static int rofs_chown(const char *path, uid_t uid, gid_t gid,
		      struct fuse_file_info *fi)
{
	(void)uid;
	(void)gid;
	(void)fi;
	return rofs_path(path);
}
static int rofs_truncate(const char *path, off_t size,
			 struct fuse_file_info *fi)
{
	(void)size;
	(void)fi;
	return rofs_path(path);
}
static int rofs_write(const char *path, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	(void)buf;
	(void)size;
	(void)off;
	(void)fi;
	return rofs_path(path);
}
static int rofs_create(const char *path, mode_t mode, struct fuse_file_info *fi)
{
	(void)fi;
	return rofs_mode(path, mode);
}
static int rofs_utimens(const char *path, const struct timespec tv[2],
			struct fuse_file_info *fi)
{
	(void)tv;
	(void)fi;
	return rofs_path(path);
}
static int rofs_setxattr(const char *path, const char *name, const char *value,
			 size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	return rofs_path(path);
}
static int rofs_removexattr(const char *path, const char *name)
{
	(void)name;
	return rofs_path(path);
}

const struct fuse_operations mpfs_fs_ops = {
    .init = fs_init,
    .destroy = fs_destroy,
    .getattr = fs_getattr,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .read = fs_read,
    .release = fs_release,
    .statfs = fs_statfs,
    .readlink = fs_readlink,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .mknod = rofs_mknod,
    .mkdir = rofs_mode,
    .unlink = rofs_path,
    .rmdir = rofs_path,
    .symlink = rofs_two,
    .rename = rofs_rename,
    .link = rofs_two,
    .chmod = rofs_chmod,
    .chown = rofs_chown,
    .truncate = rofs_truncate,
    .write = rofs_write,
    .create = rofs_create,
    .utimens = rofs_utimens,
    .setxattr = rofs_setxattr,
    .removexattr = rofs_removexattr,
};
