/* xattr.c - extended attributes: user.mixpeek.* describe a sync file;
 * other namespaces (security.*, system.posix_acl_*, trusted.*) do not
 * exist on this filesystem at all (EOPNOTSUPP), so that tools such as
 * ls -l stop asking after the first file. fetched_at and stale, on sync
 * files and view directories, say how old the copy shown is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"

#define XATTR_PREFIX "user.mixpeek."
#define XATTR_MAX    9

/* The attributes of a node, in a fixed order: the object's own (values
 * borrowed from obj), then how old the copy is (values owned). */
struct attrs {
	struct mpfs_obj *obj;
	size_t n;
	const char *names[XATTR_MAX];
	const char *values[XATTR_MAX];
	char fetched[32];
	char *stale;
};

static void add(struct attrs *a, const char *name, const char *value)
{
	if (value) {
		a->names[a->n] = name;
		a->values[a->n++] = value;
	}
}

static void add_age(struct attrs *a, long long fetched_ms)
{
	if (fetched_ms > 0) {
		mpfs_rfc3339_ms(fetched_ms, a->fetched, sizeof(a->fetched));
		add(a, "fetched_at", a->fetched);
	}
	add(a, "stale", a->stale);
}

static void sync_attrs(struct attrs *a)
{
	const struct mpfs_obj *obj = a->obj;

	add(a, "sync_config_id", obj->id);
	add(a, "bucket_id", obj->bucket_id);
	add(a, "connection_id", obj->connection_id);
	add(a, "status", obj->status);
	add(a, "is_active",
	    obj->is_active < 0 ? NULL
	    : obj->is_active   ? "true"
			       : "false");
	add(a, "updated_at", obj->updated_at);
	add(a, "last_error", obj->last_error);
	a->stale = stale_copy(&obj->stale);
	add_age(a, atomic_load(&obj->fetched_ms));
}

/* The attributes of an inode: a sync file's, a view directory's (the root
 * is the bucket list's); none for others. */
static int get_attrs(struct mpfs_core *core, uint64_t ino, struct attrs *a,
		     struct mpfs_err *err)
{
	char path[PATH_SIZE], key[PATH_SIZE];
	struct mpfs_node node;
	long long fetched;

	memset(a, 0, sizeof(*a));
	if (ino == MPFS_ROOT_INO) {
		view_age(core, view_key(NULL, key, sizeof(key)), &fetched,
			 &a->stale);
		add_age(a, fetched);
		return 0;
	}
	if (mpfs_inodes_path(core->inodes, ino, path, sizeof(path)) ||
	    mpfs_path_parse(path, &node))
		return 0;
	if (node.type == MPFS_NODE_VIEW) {
		view_age(core, view_key(&node, key, sizeof(key)), &fetched,
			 &a->stale);
		add_age(a, fetched);
	} else if (node.type == MPFS_NODE_SYNC) {
		if (sync_version(core, ino, &node, &a->obj, err))
			return -1;
		sync_attrs(a);
	}
	return 0;
}

static void put_attrs(struct attrs *a)
{
	mpfs_obj_unref(a->obj);
	free(a->stale);
}

int mpfs_core_listxattr(struct mpfs_core *core, uint64_t ino, char **out,
			size_t *len, struct mpfs_err *err)
{
	struct attrs a;
	size_t total = 0;
	char *buf, *p;

	if (get_attrs(core, ino, &a, err))
		return -1;
	for (size_t i = 0; i < a.n; i++)
		total += sizeof(XATTR_PREFIX) + strlen(a.names[i]);
	buf = malloc(total + 1);
	if (!buf) {
		put_attrs(&a);
		nomem(err);
		return -1;
	}
	p = buf;
	for (size_t i = 0; i < a.n; i++)
		p += sprintf(p, "%s%s", XATTR_PREFIX, a.names[i]) + 1;
	put_attrs(&a);
	*out = buf;
	*len = total;
	return 0;
}

int mpfs_core_getxattr(struct mpfs_core *core, uint64_t ino, const char *name,
		       char **out, size_t *len, struct mpfs_err *err)
{
	struct attrs a;

	mpfs_err_clear(err);
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		mpfs_err_set(err, MPFS_E_UNSUPPORTED,
			     "no attributes outside " XATTR_PREFIX "*");
		return -1;
	}
	if (get_attrs(core, ino, &a, err))
		return -1;
	for (size_t i = 0; i < a.n; i++) {
		if (strcmp(name + strlen(XATTR_PREFIX), a.names[i]) != 0)
			continue;
		*len = strlen(a.values[i]);
		*out = strdup(a.values[i]);
		put_attrs(&a);
		if (!*out) {
			nomem(err);
			return -1;
		}
		return 0;
	}
	put_attrs(&a);
	mpfs_err_set(err, MPFS_E_NO_ATTR, "no attribute '%s'", name);
	return -1;
}
