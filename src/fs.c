/* fs.c - the only struct fuse_lowlevel_ops: inode in, core call, reply
 * out. Each failing operation leaves one log line (never the key) through
 * fail(). Every operation that would change something is EROFS (the mount
 * is read-only: the kernel refuses most before they come here).
 *
 * Each request is counted in the statistics (but those of stats.json
 * itself). No request's thread ever calls into the kernel of its own
 * accord (kernel.c says why): the three notify ops below are made by the
 * core's notifier thread alone. */
#include "mpfs/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "mpfs/clock.h"
#include "mpfs/core.h"
#include "mpfs/err.h"
#include "mpfs/log.h"
#include "mpfs/policy.h"
#include "mpfs/sig.h"
#include "mpfs/stats.h"

/* Seconds the kernel may keep a name the tree never holds. */
#define NO_NAME_TIMEOUT 86400.0

/* The request this thread serves, for the API client's cancelled(), and
 * when it began. */
static _Thread_local fuse_req_t current;
static _Thread_local double current_began;
static atomic_int stopping;

double mpfs_fs_started(void)
{
	return current ? current_began : 0;
}

void mpfs_fs_stop(void)
{
	atomic_store(&stopping, 1);
}

int mpfs_fs_interrupted(void)
{
	if (atomic_load(&stopping))
		return 1;
	return current && fuse_req_interrupted(current) &&
	       mpfs_policy_caller_dying(fuse_req_ctx(current)->pid);
}

/* Every operation starts here. ino: the inode it is about (a lookup's
 * parent). */
static struct mpfs_fs *begin(fuse_req_t req, enum mpfs_stats_op op,
			     fuse_ino_t ino)
{
	struct mpfs_fs *fs = fuse_req_userdata(req);

	current = req;
	current_began = mpfs_clock_monotonic();
	if (!mpfs_core_own(fs->core, ino))
		mpfs_stats_op(op);
	return fs;
}

/* Logs why an operation on ino (name: its entry) failed, with the path
 * the core knows it by; returns the errno. */
static int said(struct mpfs_fs *fs, const char *op, fuse_ino_t ino,
		const char *name, const struct mpfs_err *err)
{
	int e = mpfs_err_errno(err);
	enum mpfs_log_level level =
	    e == ENOENT || e == EINTR ? MPFS_LOG_INFO : MPFS_LOG_ERROR;
	char path[1100];

	mpfs_core_path(fs->core, ino, name, path, sizeof(path));
	if (err->op[0] && err->http_status)
		mpfs_log(level, "%s '%s': %s: http %ld: %s", op, path, err->op,
			 err->http_status, err->msg);
	else if (err->op[0])
		mpfs_log(level, "%s '%s': %s: %s", op, path, err->op, err->msg);
	else
		mpfs_log(level, "%s '%s': %s", op, path, err->msg);
	return e;
}

/* Answers a failed operation, with one log line. */
static void fail(fuse_req_t req, struct mpfs_fs *fs, const char *op,
		 fuse_ino_t ino, const char *name, const struct mpfs_err *err)
{
	fuse_reply_err(req, said(fs, op, ino, name, err));
}

/* ---- kernel notifications: made on the core's notifier thread alone ---- */

static int notify_inval_inode(void *ctx, uint64_t ino)
{
	struct mpfs_fs *fs = ctx;

	return fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
}

static int notify_inval_entry(void *ctx, uint64_t parent, const char *name)
{
	struct mpfs_fs *fs = ctx;

	return fuse_lowlevel_notify_inval_entry(fs->se, parent, name,
						strlen(name));
}

static int notify_store(void *ctx, uint64_t ino, const char *data, size_t size)
{
	struct mpfs_fs *fs = ctx;
	struct fuse_bufvec buf = FUSE_BUFVEC_INIT(size);

	buf.buf[0].mem = (void *)data;
	return fuse_lowlevel_notify_store(fs->se, ino, 0, &buf, 0);
}

static const struct mpfs_notify_ops notify_ops = {
    .inval_inode = notify_inval_inode,
    .inval_entry = notify_inval_entry,
    .store = notify_store,
};

static struct mpfs_handle *handle_of(const struct fuse_file_info *fi)
{
	return (struct mpfs_handle *)(uintptr_t)fi->fh;
}

/* ---- the operations ---- */

static void fs_init(void *userdata, struct fuse_conn_info *conn)
{
	struct mpfs_fs *fs = userdata;

	/* readdirplus for every listing, not when the kernel guesses it
	 * pays: the next tool finds every entry with its attributes. */
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	}
	if (conn->capable & FUSE_CAP_PARALLEL_DIROPS)
		conn->want |= FUSE_CAP_PARALLEL_DIROPS;
	if (mpfs_core_start(fs->core, &notify_ops, fs))
		mpfs_log(MPFS_LOG_ERROR, "cannot start the notifier thread: "
					 "files are not pushed to the page "
					 "cache, nor changes told");
	mpfs_sig_start(fs->core);
}

/* An entry for st: the kernel keeps it and its attributes for ttl. */
static void entry_of(const struct mpfs_fs *fs, const struct stat *st,
		     struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = fs->ttl;
	e->entry_timeout = fs->ttl;
}

static void fs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_LOOKUP, parent);
	struct fuse_entry_param e;
	struct mpfs_err err;
	struct stat st;

	mpfs_err_clear(&err);
	if (mpfs_core_lookup(fs->core, parent, name, &st, &err)) {
		if (err.kind != MPFS_E_NOT_FOUND &&
		    err.kind != MPFS_E_NO_NAME) {
			fail(req, fs, "stat", parent, name, &err);
			return;
		}
		/* Not there: the kernel remembers that for ttl too; a name
		 * the tree never holds, for a day whatever ttl is (with a
		 * timeout of 0, the kernel asks again within the same call,
		 * and the log would say it twice). */
		said(fs, "stat", parent, name, &err);
		memset(&e, 0, sizeof(e));
		e.entry_timeout =
		    err.kind == MPFS_E_NO_NAME && fs->ttl < NO_NAME_TIMEOUT
			? NO_NAME_TIMEOUT
			: fs->ttl;
		fuse_reply_entry(req, &e);
		return;
	}
	entry_of(fs, &st, &e);
	if (fuse_reply_entry(req, &e)) /* the kernel did not take it */
		mpfs_core_forget(fs->core, e.ino, 1);
}

static void fs_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_FORGET, ino);

	mpfs_core_forget(fs->core, ino, nlookup);
	fuse_reply_none(req);
}

static void fs_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_FORGET, 0);

	for (size_t i = 0; i < count; i++)
		mpfs_core_forget(fs->core, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void fs_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_GETATTR, ino);
	struct mpfs_err err;
	struct stat st;

	(void)fi;
	mpfs_err_clear(&err);
	if (mpfs_core_getattr(fs->core, ino, &st, &err))
		fail(req, fs, "stat", ino, NULL, &err);
	else
		fuse_reply_attr(req, &st, fs->ttl);
}

static void fs_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_READLINK, ino);
	char target[1024];
	struct mpfs_err err;

	mpfs_err_clear(&err);
	if (mpfs_core_readlink(fs->core, ino, target, sizeof(target), &err))
		fail(req, fs, "readlink", ino, NULL, &err);
	else
		fuse_reply_readlink(req, target);
}

static void fs_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_OPENDIR, ino);
	struct mpfs_handle *h;
	struct mpfs_dir *dir;
	struct mpfs_err err;
	int cached;

	mpfs_err_clear(&err);
	if (mpfs_core_opendir(fs->core, ino, &dir, &cached, &err)) {
		fail(req, fs, "opendir", ino, NULL, &err);
		return;
	}
	h = mpfs_handle_new(&fs->handles, dir, NULL);
	if (!h) {
		mpfs_core_releasedir(fs->core, dir);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	/* The kernel keeps what it read until the listing is fetched anew. */
	fi->cache_readdir = 1;
	fi->keep_cache = cached;
	if (fuse_reply_open(req, fi))
		mpfs_handle_free(&fs->handles, fs->core, h);
}

struct fill_ctx {
	fuse_req_t req;
	char *buf;
	size_t size, used;
	int plus;
	double ttl;
};

static int fill(void *ctx, const char *name, const struct stat *st, int attrs,
		off_t next)
{
	struct fill_ctx *f = ctx;
	char *at = f->buf + f->used;
	size_t room = f->size - f->used, n;

	if (f->plus) {
		/* Node id 0: the name only; the kernel asks for the rest. */
		struct fuse_entry_param e = {.attr = *st};

		if (attrs) {
			e.ino = st->st_ino;
			e.attr_timeout = f->ttl;
			e.entry_timeout = f->ttl;
		}
		n = fuse_add_direntry_plus(f->req, at, room, name, &e, next);
	} else {
		n = fuse_add_direntry(f->req, at, room, name, st, next);
	}
	if (n > room)
		return 1;
	f->used += n;
	return 0;
}

static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi, int plus)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_READDIR, ino);
	struct fill_ctx ctx = {req, malloc(size), size, 0, plus, fs->ttl};
	struct mpfs_dir *dir = handle_of(fi)->dir;
	struct mpfs_given given;
	struct mpfs_err err;
	int sent = 0;

	mpfs_err_clear(&err);
	if (!ctx.buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (mpfs_core_readdir(fs->core, dir, off, plus, fill, &ctx, &given,
			      &err))
		fail(req, fs, "readdir", ino, NULL, &err);
	else /* a reply that fails (the request was interrupted) takes back
	      * the lookups its entries counted */
		sent = fuse_reply_buf(req, ctx.buf, ctx.used) == 0;
	mpfs_core_readdir_sent(fs->core, &given, sent); /* dir may be gone */
	free(ctx.buf);
}

static void fs_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 0);
}

static void fs_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	readdir_common(req, ino, size, off, fi, 1);
}

static void fs_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct mpfs_fs *fs = fuse_req_userdata(req);

	(void)ino;
	current = req;
	current_began = mpfs_clock_monotonic();
	mpfs_handle_free(&fs->handles, fs->core, handle_of(fi));
	fuse_reply_err(req, 0);
}

static void fs_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_OPEN, ino);
	struct mpfs_handle *h;
	struct mpfs_obj *obj;
	struct mpfs_err err;

	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (mpfs_policy_open(fs->ttl, NULL) == MPFS_OPEN_NONE) {
		fuse_reply_err(req, ENOSYS);
		return;
	}
	mpfs_err_clear(&err);
	if (mpfs_core_open(fs->core, ino, &obj, &err)) {
		fail(req, fs, "open", ino, NULL, &err);
		return;
	}
	h = mpfs_handle_new(&fs->handles, NULL, obj);
	if (!h) {
		mpfs_obj_unref(obj);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fi->fh = (uintptr_t)h;
	fi->keep_cache = 0;
	fi->direct_io = mpfs_policy_open(fs->ttl, obj) == MPFS_OPEN_DIRECT;
	if (fuse_reply_open(req, fi))
		mpfs_handle_free(&fs->handles, fs->core, h);
}

/* The kernel follows a read that failed with another of the same file at
 * once (a read-ahead failed; then the page it needs is read alone): that
 * one gets the same answer, without asking the API again and without a
 * second log line, so that a failing read() waits for one fetch, not two.
 * Remembered once, for this long (seconds): */
#define READ_RETRY_WINDOW 1.0

static int failed_just_now(struct mpfs_fs *fs, fuse_ino_t ino)
{
	int e = 0;

	pthread_mutex_lock(&fs->failed_lock);
	if (fs->failed_ino == ino &&
	    mpfs_clock_monotonic() - fs->failed_at < READ_RETRY_WINDOW) {
		e = fs->failed_errno;
		fs->failed_ino = 0;
	}
	pthread_mutex_unlock(&fs->failed_lock);
	return e;
}

static void read_failed(struct mpfs_fs *fs, fuse_ino_t ino, int e)
{
	if (e == EINTR) /* its caller went away: says nothing of the API */
		return;
	pthread_mutex_lock(&fs->failed_lock);
	fs->failed_ino = ino;
	fs->failed_at = mpfs_clock_monotonic();
	fs->failed_errno = e;
	pthread_mutex_unlock(&fs->failed_lock);
}

static void fs_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_READ, ino);
	struct mpfs_handle *h = handle_of(fi);
	struct mpfs_obj *obj = h ? h->obj : NULL;
	struct mpfs_err err;
	const char *data;
	size_t len;
	int sent, e;

	mpfs_err_clear(&err);
	if (obj) {
		mpfs_obj_ref(obj);
	} else if ((e = failed_just_now(fs, ino))) {
		fuse_reply_err(req, e);
		return;
	} else if (mpfs_core_open(fs->core, ino, &obj, &err)) {
		e = said(fs, "read", ino, NULL, &err);
		read_failed(fs, ino, e);
		fuse_reply_err(req, e);
		return;
	}
	data = mpfs_policy_read(obj, size, off, &len);
	sent = fuse_reply_buf(req, data, len) == 0;
	mpfs_core_read(fs->core, ino, obj, sent);
	mpfs_obj_unref(obj);
}

static void fs_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	(void)ino;
	struct mpfs_fs *fs = fuse_req_userdata(req);

	mpfs_handle_free(&fs->handles, fs->core, handle_of(fi));
	fuse_reply_err(req, 0);
}

/* The xattr calls' size protocol: 0 asks for the length. */
static void xattr_reply(fuse_req_t req, char *data, size_t len, size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (len > size)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, data, len);
	free(data);
}

static void fs_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_GETXATTR, ino);
	struct mpfs_err err;
	char *value;
	size_t len;

	if (mpfs_core_getxattr(fs->core, ino, name, &value, &len, &err) == 0)
		xattr_reply(req, value, len, size);
	else if (err.kind == MPFS_E_NO_ATTR || err.kind == MPFS_E_UNSUPPORTED)
		fuse_reply_err(req, mpfs_err_errno(&err)); /* no news */
	else
		fail(req, fs, "getxattr", ino, NULL, &err);
}

static void fs_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	struct mpfs_fs *fs = begin(req, MPFS_OP_LISTXATTR, ino);
	struct mpfs_err err;
	char *names;
	size_t len;

	mpfs_err_clear(&err);
	if (mpfs_core_listxattr(fs->core, ino, &names, &len, &err))
		fail(req, fs, "listxattr", ino, NULL, &err);
	else
		xattr_reply(req, names, len, size);
}

static void fs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	begin(req, MPFS_OP_STATFS, ino);
	/* Zeros would make df and file managers hide the mount; a full disk
	 * would page whoever watches disk space. Nothing can be written. */
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = sv.f_bfree = sv.f_bavail = 1UL << 20;
	sv.f_files = sv.f_ffree = sv.f_favail = 1UL << 20;
	sv.f_namemax = 255;
	sv.f_flag = ST_RDONLY | ST_NOSUID;
	fuse_reply_statfs(req, &sv);
}

/* ---- every change is refused: the tree is a read-only view ---- */

static void rofs(fuse_req_t req)
{
	fuse_reply_err(req, EROFS);
}

static void rofs_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
			 int to_set, struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	rofs(req);
}

static void rofs_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode, dev_t rdev)
{
	(void)parent, (void)name, (void)mode, (void)rdev;
	rofs(req);
}

static void rofs_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		       mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	rofs(req);
}

static void rofs_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	rofs(req);
}

static void rofs_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
			 const char *name)
{
	(void)link, (void)parent, (void)name;
	rofs(req);
}

static void rofs_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			fuse_ino_t newparent, const char *newname,
			unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	rofs(req);
}

static void rofs_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		      const char *newname)
{
	(void)ino, (void)newparent, (void)newname;
	rofs(req);
}

static void rofs_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		       size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino, (void)buf, (void)size, (void)off, (void)fi;
	rofs(req);
}

static void rofs_create(fuse_req_t req, fuse_ino_t parent, const char *name,
			mode_t mode, struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	rofs(req);
}

static void rofs_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			  const char *value, size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	rofs(req);
}

static void rofs_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	rofs(req);
}

const struct fuse_lowlevel_ops mpfs_fs_ops = {
    .init = fs_init,
    .lookup = fs_lookup,
    .forget = fs_forget,
    .forget_multi = fs_forget_multi,
    .getattr = fs_getattr,
    .readlink = fs_readlink,
    .opendir = fs_opendir,
    .readdir = fs_readdir,
    .readdirplus = fs_readdirplus,
    .releasedir = fs_releasedir,
    .open = fs_open,
    .read = fs_read,
    .release = fs_release,
    .getxattr = fs_getxattr,
    .listxattr = fs_listxattr,
    .statfs = fs_statfs,
    .setattr = rofs_setattr,
    .mknod = rofs_mknod,
    .mkdir = rofs_mkdir,
    .unlink = rofs_unlink,
    .rmdir = rofs_unlink,
    .symlink = rofs_symlink,
    .rename = rofs_rename,
    .link = rofs_link,
    .write = rofs_write,
    .create = rofs_create,
    .setxattr = rofs_setxattr,
    .removexattr = rofs_removexattr,
};
