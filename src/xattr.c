/* xattr.c - extended attributes: user.mixpeek.* describe a sync file;
 * other namespaces (security.*, system.posix_acl_*, trusted.*) do not
 * exist on this filesystem at all (EOPNOTSUPP), so that tools such as
 * ls -l stop asking after the first file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"

#define XATTR_PREFIX "user.mixpeek."
#define XATTR_COUNT  7

/* The attributes an object has, in a fixed order; values borrowed. */
static size_t sync_xattrs(const struct mpfs_obj *obj, const char **names,
			  const char **values)
{
	const char *all[XATTR_COUNT][2] = {
	    {"sync_config_id", obj->id},
	    {"bucket_id", obj->bucket_id},
	    {"connection_id", obj->connection_id},
	    {"status", obj->status},
	    {"is_active", obj->is_active < 0 ? NULL
			  : obj->is_active   ? "true"
					     : "false"},
	    {"updated_at", obj->updated_at},
	    {"last_error", obj->last_error},
	};
	size_t n = 0;

	for (size_t i = 0; i < XATTR_COUNT; i++)
		if (all[i][1]) {
			names[n] = all[i][0];
			values[n++] = all[i][1];
		}
	return n;
}

/* The object behind an inode, for its attributes; *obj NULL when it is no
 * sync file (it has none). */
static int xattr_obj(struct mpfs_core *core, uint64_t ino,
		     struct mpfs_obj **obj, struct mpfs_err *err)
{
	char path[PATH_SIZE];
	struct mpfs_node node;

	*obj = NULL;
	if (ino == MPFS_ROOT_INO ||
	    mpfs_inodes_path(core->inodes, ino, path, sizeof(path)) ||
	    mpfs_path_parse(path, &node) || node.type != MPFS_NODE_SYNC)
		return 0;
	return sync_obj(core, &node, 0, obj, err);
}

int mpfs_core_listxattr(struct mpfs_core *core, uint64_t ino, char **out,
			size_t *len, struct mpfs_err *err)
{
	const char *names[XATTR_COUNT], *values[XATTR_COUNT];
	struct mpfs_obj *obj;
	size_t n = 0, total = 0;
	char *buf, *p;

	if (xattr_obj(core, ino, &obj, err))
		return -1;
	if (obj)
		n = sync_xattrs(obj, names, values);
	for (size_t i = 0; i < n; i++)
		total += sizeof(XATTR_PREFIX) + strlen(names[i]);
	buf = malloc(total + 1);
	if (!buf) {
		mpfs_obj_unref(obj);
		nomem(err);
		return -1;
	}
	p = buf;
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "%s%s", XATTR_PREFIX, names[i]) + 1;
	mpfs_obj_unref(obj);
	*out = buf;
	*len = total;
	return 0;
}

int mpfs_core_getxattr(struct mpfs_core *core, uint64_t ino, const char *name,
		       char **out, size_t *len, struct mpfs_err *err)
{
	const char *names[XATTR_COUNT], *values[XATTR_COUNT];
	struct mpfs_obj *obj;
	size_t n;

	mpfs_err_clear(err);
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX)) != 0) {
		mpfs_err_set(err, MPFS_E_UNSUPPORTED,
			     "no attributes outside " XATTR_PREFIX "*");
		return -1;
	}
	if (xattr_obj(core, ino, &obj, err))
		return -1;
	n = obj ? sync_xattrs(obj, names, values) : 0;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(name + strlen(XATTR_PREFIX), names[i]) != 0)
			continue;
		*len = strlen(values[i]);
		*out = strdup(values[i]);
		mpfs_obj_unref(obj);
		if (!*out) {
			nomem(err);
			return -1;
		}
		return 0;
	}
	mpfs_obj_unref(obj);
	mpfs_err_set(err, MPFS_E_NO_ATTR, "no attribute '%s'", name);
	return -1;
}
