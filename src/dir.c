/* dir.c - directory handles: a snapshot of what a directory shows (fixed
 * names, a view's listing, the root's links after the bucket list) whose
 * offsets stay valid while the handle is open, read out entry by entry
 * with the attributes that readdirplus hands the kernel.
 *
 * Entries given with attributes count one lookup each of their inode,
 * before the reply; a reply that does not go out takes them back. Once it
 * is out, the files among them are pushed into the page cache once the kernel
 * has taken them in: when it asks for the next entries, or closes the directory
 * (a push sent with the reply would find no inode yet). A directory is empty
 * only when the API said so: a listing whose first page fails is an error, not
 * "." and ".." alone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"

struct mpfs_dir {
	struct mpfs_listing *listing; /* NULL: names below */
	int listing_dirs; /* the listing's entries are directories */
	char **names;
	size_t count;
	int failed;		  /* a page failed after entries went out: */
	struct mpfs_err failure;  /* the next call reports it */
	uint64_t ino, parent_ino; /* of "." and ".." */
	char path[PATH_SIZE];
	struct mpfs_node node; /* what the directory is */
	char **tail;	   /* after the listing: the root's links; NULL until */
	size_t tail_count; /* the listing is complete */
	/* Listing entries given with attributes, not pushed yet. */
	size_t push_from, push_to;
	/* Entries of the reply being made given with attributes: handed to
	 * the caller with it (struct mpfs_given), since the handle may be
	 * released as soon as the reply is out. */
	uint64_t *pending;
	size_t npending, pending_cap;
};

/* A name the directory shows, once; the id it stands for, if any, is
 * kept after it (its NUL), for the core's path of the entry. */
static int add_id_name(struct mpfs_dir *dir, const char *name, const char *id)
{
	size_t len = strlen(name), idlen = id ? strlen(id) : 0;
	char **grown, *both;

	for (size_t i = 0; i < dir->count; i++)
		if (strcmp(dir->names[i], name) == 0)
			return 0;
	grown = realloc(dir->names, (dir->count + 1) * sizeof(*grown));
	if (!grown)
		return -1;
	dir->names = grown;
	both = malloc(len + idlen + 2);
	if (!both)
		return -1;
	memcpy(both, name, len + 1);
	memcpy(both + len + 1, id ? id : "", idlen + 1);
	dir->names[dir->count++] = both;
	return 0;
}

static int add_name(struct mpfs_dir *dir, const char *name)
{
	return add_id_name(dir, name, NULL);
}

/* The core's path of a named entry: an id's in full. */
static void named_path(const struct mpfs_dir *dir, const char *name, char *out,
		       size_t size)
{
	const char *id = name + strlen(name) + 1;

	if (*id)
		id_path(dir->path, id, "", out, size);
	else
		child_path(dir->path, name, out, size);
}

struct conn_names {
	struct mpfs_dir *dir;
	int failed;
	int where; /* names as where/ has them: connection_id=<id> */
};

/* A connection's name, once (add_name keeps names unique). */
static int add_conn(void *ctx, struct mpfs_obj *obj)
{
	struct conn_names *c = ctx;
	struct mpfs_terms t = {.conn = obj->connection_id, .is_active = -1};
	char name[MPFS_NAME_MAX + 1];

	if (!obj->connection_id || !*obj->connection_id)
		return 0;
	if (!c->where)
		mpfs_file_name(obj->connection_id, "", name, sizeof(name));
	else if (mpfs_where_name(&t, name, sizeof(name)) >= sizeof(name))
		return 0; /* ls where/ shows the names that fit */
	if (add_id_name(c->dir, name, c->where ? NULL : obj->connection_id)) {
		c->failed = 1;
		return 1;
	}
	return 0;
}

/* by-connection/, or the connection_id= names of where/: the connections
 * the bucket's syncs use. */
static int conn_dir(struct mpfs_core *core, const struct mpfs_node *node,
		    struct mpfs_dir *dir, struct mpfs_err *err)
{
	struct mpfs_node all = {.type = MPFS_NODE_VIEW};
	struct conn_names c = {.dir = dir,
			       .where = node->type == MPFS_NODE_WHERE};
	struct mpfs_listing *l;
	int r;

	snprintf(all.bucket, sizeof(all.bucket), "%s", node->bucket);
	l = listing_of(core, &all);
	if (!l) {
		nomem(err);
		return -1;
	}
	r = each_entry(l, add_conn, &c, err);
	report_skipped(l);
	mpfs_listing_unref(l);
	if (c.failed) {
		nomem(err);
		return -1;
	}
	return r < 0 ? -1 : 0;
}

static uint64_t path_ino(const char *path)
{
	struct mpfs_node node;

	return mpfs_path_parse(path, &node) == 0 ? mpfs_node_ino(&node) : 0;
}

/* The inode of a directory's "..". */
static uint64_t parent_ino(const char *path)
{
	char parent[PATH_SIZE];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", path);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return MPFS_ROOT_INO;
	*slash = '\0';
	return path_ino(parent);
}

/* The names a directory that is no listing shows, or the listing. */
static int dir_content(struct mpfs_core *core, struct mpfs_dir *dir,
		       struct mpfs_err *err)
{
	char name[MPFS_NAME_MAX + 1];
	int r = 0;

	switch (dir->node.type) {
	case MPFS_NODE_META:
		r = add_name(dir, "stats.json");
		break;
	case MPFS_NODE_ROOT:
		r = add_name(dir, MPFS_META_NAME);
		if (r == 0 && core->cfg.buckets) {
			for (char **b = core->cfg.buckets; *b && r == 0; b++) {
				mpfs_file_name(*b, "", name, sizeof(name));
				r = add_id_name(dir, name, *b);
			}
		} else if (r == 0) {
			dir->listing = listing_of(core, NULL);
			dir->listing_dirs = 1;
			r = dir->listing ? 0 : -1;
		}
		break;
	case MPFS_NODE_BUCKET:
		for (size_t i = 0; i < MPFS_VIEW_KINDS && r == 0; i++)
			r = add_name(dir, mpfs_view_dirs[i]);
		r = r ? r : add_name(dir, "bucket.json");
		r = r ? r : add_name(dir, "counts.json");
		break;
	case MPFS_NODE_STATUSES:
		for (size_t i = 0; i < mpfs_statuses_count && r == 0; i++)
			r = add_name(dir, mpfs_statuses[i]);
		break;
	case MPFS_NODE_CONNS:
		return conn_dir(core, &dir->node, dir, err);
	case MPFS_NODE_WHERE:
		/* the single-key names; any combination can be looked up */
		for (size_t i = 0; i < mpfs_statuses_count && r == 0; i++) {
			struct mpfs_terms t = {.status = mpfs_statuses[i],
					       .is_active = -1};

			mpfs_where_name(&t, name, sizeof(name));
			r = add_name(dir, name);
		}
		r = r ? r : add_name(dir, "is_active=true");
		r = r ? r : add_name(dir, "is_active=false");
		if (r == 0)
			return conn_dir(core, &dir->node, dir, err);
		break;
	case MPFS_NODE_VIEW:
		dir->listing = listing_of(core, &dir->node);
		r = dir->listing ? 0 : -1;
		break;
	default:
		break;
	}
	if (r)
		nomem(err);
	return r;
}

/* The first page of a directory's listing failed: show the listing it
 * replaced instead, if that is within its grace. */
static int use_stale_listing(struct mpfs_core *core, struct mpfs_dir *dir,
			     const struct mpfs_err *err)
{
	char key[PATH_SIZE];
	struct mpfs_listing *l;

	view_key(dir->node.type == MPFS_NODE_ROOT ? NULL : &dir->node, key,
		 sizeof(key));
	l = stale_listing(core, key, err);
	if (!l)
		return 0;
	mpfs_listing_unref(dir->listing);
	dir->listing = l;
	return 1;
}

/* The first page of a listing, fetched at open: its failure is the
 * directory's, so that a 404 (the bucket is gone) is ENOENT at open; the
 * same from getdents would be taken by readdir(3) for the end of the
 * directory, an empty one. A listing the API cannot give now is replaced
 * by the copy it replaced, within its grace. */
static int first_page(struct mpfs_core *core, struct mpfs_dir *dir,
		      struct mpfs_err *err)
{
	struct mpfs_obj *obj = NULL;
	int r = mpfs_listing_get(dir->listing, 0, &obj, err);

	mpfs_obj_unref(obj);
	if (r >= 0)
		report_skipped(dir->listing);
	return r >= 0 || use_stale_listing(core, dir, err) ? 0 : -1;
}

int mpfs_core_opendir(struct mpfs_core *core, uint64_t ino,
		      struct mpfs_dir **out, int *cached, struct mpfs_err *err)
{
	struct mpfs_dir *dir = calloc(1, sizeof(*dir));

	if (!dir) {
		nomem(err);
		return -1;
	}
	if (ino == MPFS_ROOT_INO)
		snprintf(dir->path, sizeof(dir->path), "/");
	else if (mpfs_inodes_path(core->inodes, ino, dir->path,
				  sizeof(dir->path))) {
		free(dir);
		not_found(err, "inode");
		return -1;
	}
	if (mpfs_path_parse(dir->path, &dir->node)) {
		free(dir);
		not_found(err, "path");
		return -1;
	}
	if (mpfs_node_is_file(dir->node.type)) {
		free(dir);
		mpfs_err_set(err, MPFS_E_NOT_DIR, "not a directory");
		return -1;
	}
	dir->ino = ino;
	dir->parent_ino = ino == MPFS_ROOT_INO ? ino : parent_ino(dir->path);
	/* Fixed names may be kept; a listing, while it is the same. */
	*cached = dir->node.type != MPFS_NODE_CONNS &&
		  dir->node.type != MPFS_NODE_WHERE;
	/* A view's first page comes with the open (the root's stays lazy:
	 * df opens the mountpoint and reads nothing). */
	if (dir_content(core, dir, err) ||
	    (dir->node.type == MPFS_NODE_VIEW && first_page(core, dir, err))) {
		mpfs_core_releasedir(core, dir);
		return -1;
	}
	if (dir->listing)
		*cached = mpfs_listing_reopen(dir->listing, dir->ino);
	*out = dir;
	return 0;
}

/* The files given with attributes since the last push, into the page
 * cache: the kernel has taken them in by now. */
static void push_given(struct mpfs_core *core, struct mpfs_dir *dir)
{
	if (dir->push_to > dir->push_from)
		kernel_push(core, dir->listing, mpfs_listing_ctx(dir->listing),
			    dir->push_from, dir->push_to);
	dir->push_from = dir->push_to = 0;
}

void mpfs_core_releasedir(struct mpfs_core *core, struct mpfs_dir *dir)
{
	if (!dir)
		return;
	if (dir->listing) {
		push_given(core, dir);
		mpfs_listing_unref(dir->listing);
	}
	for (size_t i = 0; i < dir->count; i++)
		free(dir->names[i]);
	free(dir->names);
	for (size_t i = 0; i < dir->tail_count; i++)
		free(dir->tail[i]);
	free(dir->tail);
	free(dir->pending);
	free(dir);
}

/* One entry on its way out: its attributes, whether they are whole, the
 * path its inode goes by, and the object of a file. */
struct shown {
	const char *name;
	struct stat st;
	int attrs;
	char path[PATH_SIZE];
	struct mpfs_obj *obj;
	size_t index; /* in the listing, for a listed file */
};

/* A named entry (not a listing's): in full for a directory, type and
 * inode only for a file whose size would cost a request. */
static void name_entry(struct mpfs_core *core, const struct mpfs_dir *dir,
		       struct shown *e)
{
	struct mpfs_node node;

	dir_stat(core, &e->st);
	named_path(dir, e->name, e->path, sizeof(e->path));
	e->attrs = 1;
	if (mpfs_path_parse(e->path, &node) == 0) {
		e->st.st_ino = mpfs_node_ino(&node);
		if (mpfs_node_is_file(node.type)) {
			e->st.st_mode = S_IFREG | 0444;
			e->attrs = 0;
		}
	}
}

/* A listed entry: a bucket directory at the root, else a sync file shown
 * in its newest version. */
static void listed_entry(struct mpfs_core *core, const struct mpfs_dir *dir,
			 struct mpfs_obj *obj, struct shown *e)
{
	struct mpfs_node node = {.type = MPFS_NODE_BUCKET};

	e->name = obj->name;
	e->attrs = 1;
	if (dir->listing_dirs) {
		dir_stat(core, &e->st);
		snprintf(node.bucket, sizeof(node.bucket), "%s", obj->id);
		e->st.st_ino = mpfs_node_ino(&node);
		id_path(dir->path, obj->id, "", e->path, sizeof(e->path));
		e->obj = obj;
		return;
	}
	e->obj = object_current(core, dir->node.bucket, obj);
	mpfs_obj_unref(obj);
	sync_stat(core, e->obj, &e->st);
	e->st.st_ino = object_ino(dir->node.bucket, e->obj);
	id_path(dir->path, e->obj->id, ".json", e->path, sizeof(e->path));
}

/* The root's entries after the bucket listing: the names' links, found
 * once the listing is complete. 1 and the link at k, 0 past them. */
static int tail_entry(struct mpfs_core *core, struct mpfs_dir *dir, size_t k,
		      struct shown *e, struct mpfs_err *err)
{
	if (dir->node.type != MPFS_NODE_ROOT)
		return 0;
	if (!dir->tail && link_names(core, &dir->tail, &dir->tail_count, err))
		return -1;
	if (k >= dir->tail_count)
		return 0;
	e->name = dir->tail[k];
	dir_stat(core, &e->st);
	e->st.st_mode = S_IFLNK | 0777;
	child_path(dir->path, e->name, e->path, sizeof(e->path));
	e->st.st_ino = path_ino(e->path);
	e->attrs = 0; /* the target's length is not known here */
	return 1;
}

/* Entry e is to go out with its attributes: one lookup of its inode,
 * counted before the reply, and kept for after it; a
 * listed file's bytes are pushed once the kernel has it (at the next read
 * of the directory, or its release: a push finds no inode if the reply
 * did not go out). Returns 0, or -1 when it cannot be counted. */
static int give(struct mpfs_core *core, struct mpfs_dir *dir, struct shown *e,
		int listed)
{
	int file = listed && !dir->listing_dirs;
	uint64_t *grown;

	if (dir->npending == dir->pending_cap) {
		size_t cap = dir->pending_cap ? 2 * dir->pending_cap : 64;

		grown = realloc(dir->pending, cap * sizeof(*grown));
		if (!grown)
			return -1;
		dir->pending = grown;
		dir->pending_cap = cap;
	}
	if (kernel_ref(core, (uint64_t)e->st.st_ino, e->path,
		       file ? e->obj : NULL, &e->st))
		return -1;
	dir->pending[dir->npending++] = (uint64_t)e->st.st_ino;
	if (file) {
		if (dir->push_to == dir->push_from)
			dir->push_from = e->index;
		dir->push_to = e->index + 1;
	}
	return 0;
}

/* The entries given with attributes go with the reply. */
static void hand_over(struct mpfs_dir *dir, struct mpfs_given *given)
{
	given->inos = dir->pending;
	given->n = dir->npending;
	dir->pending = NULL;
	dir->npending = dir->pending_cap = 0;
}

void mpfs_core_readdir_sent(struct mpfs_core *core, struct mpfs_given *given,
			    int sent)
{
	for (size_t i = 0; i < given->n && !sent; i++)
		kernel_forget(core, given->inos[i], 1);
	free(given->inos);
	given->inos = NULL;
	given->n = 0;
}

static int readdir_into(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
			int plus, mpfs_fill_fn fill, void *ctx,
			struct mpfs_err *err);

int mpfs_core_readdir(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
		      int plus, mpfs_fill_fn fill, void *ctx,
		      struct mpfs_given *given, struct mpfs_err *err)
{
	int r = readdir_into(core, dir, off, plus, fill, ctx, err);

	hand_over(dir, given);
	return r;
}

static int readdir_into(struct mpfs_core *core, struct mpfs_dir *dir, off_t off,
			int plus, mpfs_fill_fn fill, void *ctx,
			struct mpfs_err *err)
{
	int filled = 0, listed = 0;

	if (dir->listing && !dir->listing_dirs)
		push_given(core, dir);
	if (dir->failed) {
		dir->failed = 0;
		*err = dir->failure;
		return -1;
	}
	/* Offsets: ".", "..", the names, the listing, the root's links. */
	for (off_t i = off < 0 ? 0 : off;; i++) {
		struct shown e = {.name = NULL};
		size_t k = i < 2 ? 0 : (size_t)(i - 2);
		int full, r = 0, from_listing = 0;

		if (i < 2) {
			e.name = i == 0 ? "." : "..";
			dir_stat(core, &e.st);
			/* readdir(3) hides entries of inode 0 */
			e.st.st_ino = i == 0 ? dir->ino : dir->parent_ino;
		} else if (k < dir->count) {
			e.name = dir->names[k];
			name_entry(core, dir, &e);
		} else {
			struct mpfs_obj *obj = NULL;
			int complete;

			k -= dir->count;
			/* Entries in hand go out now; the next call waits. */
			if (dir->listing && listed &&
			    k >= mpfs_listing_count(dir->listing, &complete) &&
			    !complete)
				return 0;
			if (dir->listing)
				r = mpfs_listing_get(dir->listing, k, &obj,
						     err);
			if (r == 0 && dir->listing) {
				report_skipped(dir->listing);
				k -= mpfs_listing_count(dir->listing, NULL);
			}
			if (r == 0)
				r = tail_entry(core, dir, k, &e, err);
			if (r == 0)
				return 0;
			if (r < 0 && !listed && dir->listing &&
			    mpfs_listing_count(dir->listing, NULL) == 0 &&
			    use_stale_listing(core, dir, err)) {
				i--; /* the same entry, from the stale listing
				      */
				continue;
			}
			/* A later page's 404 is no end: EIO, not ENOENT
			 * (see first_page). */
			if (r < 0 && err->kind == MPFS_E_NOT_FOUND)
				err->kind = MPFS_E_MALFORMED;
			if (r < 0 && !filled)
				return -1;
			/* Entries given so far go out; the next call reports
			 * the failure without asking the API again. */
			if (r < 0) {
				dir->failed = 1;
				dir->failure = *err;
				return 0;
			}
			if (obj) {
				e.index = k;
				listed_entry(core, dir, obj, &e);
				listed = from_listing = 1;
			}
		}
		/* An inode the table could not count is never handed out:
		 * the reply ends before it (or fails, when it is the first). */
		if (plus && e.attrs && i >= 2 &&
		    give(core, dir, &e, from_listing)) {
			mpfs_obj_unref(e.obj);
			if (filled)
				return 0;
			nomem(err);
			return -1;
		}
		full = fill(ctx, e.name, &e.st, e.attrs, i + 1);
		if (full && plus && e.attrs && i >= 2)
			kernel_forget(core, dir->pending[--dir->npending], 1);
		mpfs_obj_unref(e.obj);
		if (full)
			return 0;
		filled = i >= 2; /* "." and ".." do not make a listing */
	}
}
