/* path.c - pure: paths of the mount to nodes, ids to file names and back.
 * Knows the shape of the tree, nothing of the API or FUSE. */
#include "mpfs/path.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

const char *const mpfs_view_dirs[MPFS_VIEW_KINDS] = {
    [MPFS_FILTER_ALL] = "all",
    [MPFS_FILTER_ACTIVE] = "active",
    [MPFS_FILTER_INACTIVE] = "inactive",
    [MPFS_FILTER_STATUS] = "by-status",
    [MPFS_FILTER_CONNECTION] = "by-connection",
};

const char *const mpfs_statuses[] = {
    "pending",
    "in_progress",
    "processing",
    "completed",
    "completed_with_errors",
    "failed",
    "canceled",
    "unknown",
    "skipped",
    "draft",
    "active",
    "archived",
    "suspended",
};
const size_t mpfs_statuses_count =
    sizeof(mpfs_statuses) / sizeof(mpfs_statuses[0]);

void mpfs_status_api_value(const char *name, char *out, size_t size)
{
	size_t i;

	snprintf(out, size, "%s", name);
	for (i = 0; i < mpfs_statuses_count; i++)
		if (strcmp(name, mpfs_statuses[i]) == 0)
			break;
	if (i == mpfs_statuses_count)
		return;
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

static int must_escape(unsigned char c)
{
	return c == '/' || c == '%' || c < 0x20 || c == 0x7F;
}

size_t mpfs_name_encode(const char *id, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	int dots = strcmp(id, ".") == 0 || strcmp(id, "..") == 0;
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (dots || must_escape(*p)) {
			if (n + 3 < size) {
				out[n] = '%';
				out[n + 1] = hex[*p >> 4];
				out[n + 2] = hex[*p & 15];
			}
			n += 3;
		} else {
			if (n + 1 < size)
				out[n] = (char)*p;
			n++;
		}
	}
	if (size)
		out[n < size ? n : size - 1] = '\0';
	return n;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int mpfs_name_decode(const char *name, char *out, size_t size)
{
	char check[MPFS_NAME_MAX + 1];
	size_t n = 0;

	for (const char *p = name; *p; p++) {
		int c = (unsigned char)*p;

		if (c == '%') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (lo < 0)
				return -1;
			c = hi * 16 + lo;
			p += 2;
		}
		if (c == 0 || n + 1 >= size)
			return -1;
		out[n++] = (char)c;
	}
	if (n == 0)
		return -1;
	out[n] = '\0';
	/* One name per id: refuse "%41" for "A" and the like. */
	if (mpfs_name_encode(out, check, sizeof(check)) >= sizeof(check) ||
	    strcmp(check, name) != 0)
		return -1;
	return 0;
}

/* Splits the next component off *p into comp; 0 at the end of the path. */
static int next_component(const char **p, char *comp, size_t size)
{
	const char *s = *p, *e;

	while (*s == '/')
		s++;
	if (!*s)
		return 0;
	e = strchr(s, '/');
	if (!e)
		e = s + strlen(s);
	if ((size_t)(e - s) >= size)
		return -1;
	memcpy(comp, s, (size_t)(e - s));
	comp[e - s] = '\0';
	*p = e;
	return 1;
}

static int parse_sync_name(const char *name, char *id, size_t size)
{
	size_t len = strlen(name);
	char enc[MPFS_NAME_MAX + 1];

	if (len <= 5 || strcmp(name + len - 5, ".json") != 0)
		return -1;
	memcpy(enc, name, len - 5);
	enc[len - 5] = '\0';
	return mpfs_name_decode(enc, id, size);
}

static int parse_meta(char comp[][MPFS_NAME_MAX + 1], int n,
		      struct mpfs_node *node)
{
	node->type = MPFS_NODE_META;
	if (n == 1)
		return 0;
	node->type = MPFS_NODE_STATS;
	return n == 2 && strcmp(comp[1], "stats.json") == 0 ? 0 : -1;
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t fnv(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Strings go in with their NUL, so ("ab", "c") and ("a", "bc") differ. */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s, strlen(s) + 1);
}

static uint64_t usable(uint64_t h)
{
	return h < 2 || h == 0xffffffffULL ? h + 2 : h;
}

uint64_t mpfs_sync_ino(const char *bucket, const char *sync_id)
{
	return usable(
	    fnv_str(fnv_str(fnv_str(FNV_OFFSET, "sync"), bucket), sync_id));
}

uint64_t mpfs_node_ino(const struct mpfs_node *node)
{
	unsigned char tag[2] = {(unsigned char)node->type,
				(unsigned char)node->filter.kind};
	uint64_t h;

	switch (node->type) {
	case MPFS_NODE_ROOT:
		return 1;
	case MPFS_NODE_SYNC:
		return mpfs_sync_ino(node->bucket, node->sync_id);
	case MPFS_NODE_VIEW:
		h = fnv(FNV_OFFSET, tag, 2);
		h = fnv_str(fnv_str(h, node->bucket), node->filter.value);
		return usable(h);
	default:
		h = fnv(FNV_OFFSET, tag, 1);
		return usable(fnv_str(h, node->bucket));
	}
}

void mpfs_view_path(const struct mpfs_node *node, char *out, size_t size)
{
	const struct mpfs_filter *f = &node->filter;
	const char *dir = mpfs_view_dirs[f->kind], *value = f->value;
	char b[MPFS_NAME_MAX + 1], v[MPFS_NAME_MAX + 1];

	mpfs_name_encode(node->bucket, b, sizeof(b));
	if (f->kind == MPFS_FILTER_CONNECTION) {
		mpfs_name_encode(f->value, v, sizeof(v));
		value = v; /* status names are ours, never %-encoded */
	}
	if (f->kind == MPFS_FILTER_STATUS || f->kind == MPFS_FILTER_CONNECTION)
		snprintf(out, size, "/%s/%s/%s", b, dir, value);
	else
		snprintf(out, size, "/%s/%s", b, dir);
}

size_t mpfs_node_path(const struct mpfs_node *node, char *out, size_t size)
{
	char b[MPFS_NAME_MAX * 3 + 1], dir[4 * MPFS_NAME_MAX * 3 + 16];
	char id[MPFS_NAME_MAX * 3 + 1];
	int n;

	mpfs_name_encode(node->bucket, b, sizeof(b));
	switch (node->type) {
	case MPFS_NODE_ROOT:
		n = snprintf(out, size, "/");
		break;
	case MPFS_NODE_BUCKET:
		n = snprintf(out, size, "/%s", b);
		break;
	case MPFS_NODE_STATUSES:
	case MPFS_NODE_CONNS:
		n = snprintf(out, size, "/%s/%s", b,
			     mpfs_view_dirs[node->type == MPFS_NODE_STATUSES
						? MPFS_FILTER_STATUS
						: MPFS_FILTER_CONNECTION]);
		break;
	case MPFS_NODE_VIEW:
		mpfs_view_path(node, dir, sizeof(dir));
		n = snprintf(out, size, "%s", dir);
		break;
	case MPFS_NODE_SYNC:
		mpfs_view_path(node, dir, sizeof(dir));
		mpfs_name_encode(node->sync_id, id, sizeof(id));
		n = snprintf(out, size, "%s/%s.json", dir, id);
		break;
	case MPFS_NODE_BUCKET_JSON:
		n = snprintf(out, size, "/%s/bucket.json", b);
		break;
	case MPFS_NODE_META:
		n = snprintf(out, size, "/%s", MPFS_META_NAME);
		break;
	case MPFS_NODE_STATS:
	default:
		n = snprintf(out, size, "/%s/stats.json", MPFS_META_NAME);
		break;
	}
	return n < 0 ? 0 : (size_t)n;
}

int mpfs_path_parse(const char *path, struct mpfs_node *node)
{
	char comp[4][MPFS_NAME_MAX + 1];
	int n = 0, r;
	const char *p = path;

	memset(node, 0, sizeof(*node));
	if (*path != '/')
		return -1;
	while ((r = next_component(&p, comp[n < 4 ? n : 3], sizeof(comp[0])))) {
		if (r < 0 || ++n > 4)
			return -1;
	}
	node->type = MPFS_NODE_ROOT;
	if (n == 0)
		return 0;
	if (strcmp(comp[0], MPFS_META_NAME) == 0)
		return parse_meta(comp, n, node);
	if (mpfs_name_decode(comp[0], node->bucket, sizeof(node->bucket)) < 0)
		return -1;
	node->type = MPFS_NODE_BUCKET;
	if (n == 1)
		return 0;

	if (strcmp(comp[1], "bucket.json") == 0) {
		node->type = MPFS_NODE_BUCKET_JSON;
		return n == 2 ? 0 : -1;
	}

	/* comp[1] is a view; the index of its sync name, if any, is next. */
	struct mpfs_filter *f = &node->filter;
	int kind = 0, file_at = 2;

	while (kind < MPFS_VIEW_KINDS && strcmp(comp[1], mpfs_view_dirs[kind]))
		kind++;
	if (kind == MPFS_VIEW_KINDS)
		return -1;
	f->kind = (enum mpfs_filter_kind)kind;
	if (f->kind == MPFS_FILTER_STATUS ||
	    f->kind == MPFS_FILTER_CONNECTION) {
		int status = f->kind == MPFS_FILTER_STATUS;

		if (n == 2) {
			node->type =
			    status ? MPFS_NODE_STATUSES : MPFS_NODE_CONNS;
			return 0;
		}
		if (status) {
			/* Status names are ours, never %-encoded. */
			snprintf(f->value, sizeof(f->value), "%s", comp[2]);
		} else if (mpfs_name_decode(comp[2], f->value,
					    sizeof(f->value)) < 0) {
			return -1;
		}
		file_at = 3;
	}
	if (n == file_at) {
		node->type = MPFS_NODE_VIEW;
		return 0;
	}
	if (n != file_at + 1)
		return -1;
	node->type = MPFS_NODE_SYNC;
	return parse_sync_name(comp[file_at], node->sync_id,
			       sizeof(node->sync_id));
}
