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
    [MPFS_FILTER_WHERE] = "where",
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

static void recase(const char *name, char *out, size_t size, int (*to)(int))
{
	snprintf(out, size, "%s", name);
	for (char *p = out; *p; p++)
		*p = (char)to((unsigned char)*p);
}

void mpfs_status_api_value(const char *name, char *out, size_t size)
{
	recase(name, out, size, toupper);
}

void mpfs_status_name(const char *value, char *out, size_t size)
{
	recase(value, out, size, tolower);
}

/* extra: more bytes to escape (a where/ value's ',' and '='), or NULL. */
static int must_escape(unsigned char c, const char *extra)
{
	return c == '/' || c == '%' || c < 0x20 || c == 0x7F ||
	       (extra && c && strchr(extra, c));
}

static size_t encode(const char *id, const char *extra, char *out, size_t size)
{
	static const char hex[] = "0123456789ABCDEF";
	int dots = strcmp(id, ".") == 0 || strcmp(id, "..") == 0;
	size_t n = 0;

	for (const unsigned char *p = (const unsigned char *)id; *p; p++) {
		if (dots || must_escape(*p, extra)) {
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

size_t mpfs_name_encode(const char *id, char *out, size_t size)
{
	return encode(id, NULL, out, size);
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int decode(const char *name, const char *extra, char *out, size_t size)
{
	char check[MPFS_ENCODED_MAX + 1];
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
	if (encode(out, extra, check, sizeof(check)) >= sizeof(check) ||
	    strcmp(check, name) != 0)
		return -1;
	return 0;
}

int mpfs_name_decode(const char *name, char *out, size_t size)
{
	return decode(name, NULL, out, size);
}

/* ---- where/ ---- */

#define WHERE_EXTRA ",="

void mpfs_filter_terms(const struct mpfs_filter *f, struct mpfs_terms *t)
{
	t->status = f->kind == MPFS_FILTER_STATUS ? f->value : NULL;
	t->conn = f->kind == MPFS_FILTER_CONNECTION ? f->value : NULL;
	t->is_active = f->kind == MPFS_FILTER_ACTIVE	 ? 1
		       : f->kind == MPFS_FILTER_INACTIVE ? 0
							 : -1;
	if (f->kind == MPFS_FILTER_WHERE) {
		t->status = f->status[0] ? f->status : NULL;
		t->conn = f->conn[0] ? f->conn : NULL;
		t->is_active = f->is_active;
	}
}

/* One key=value of a where/ name, from s to end (not NUL-terminated). */
static int where_pair(const char *s, const char *end, struct mpfs_filter *f,
		      const char **why)
{
	const char *eq = memchr(s, '=', (size_t)(end - s));
	char value[MPFS_NAME_MAX + 1], *into;
	size_t klen;

	if (s == end) {
		*why = "an empty pair";
		return -1;
	}
	if (!eq || eq == s || eq + 1 == end) {
		*why = "a pair that is not key=value";
		return -1;
	}
	klen = (size_t)(eq - s);
	memcpy(value, eq + 1, (size_t)(end - eq - 1));
	value[end - eq - 1] = '\0';
	if (klen == 9 && strncmp(s, "is_active", 9) == 0) {
		if (f->is_active >= 0)
			goto repeated;
		if (strcmp(value, "true") && strcmp(value, "false")) {
			*why = "is_active is neither true nor false";
			return -1;
		}
		f->is_active = value[0] == 't';
		return 0;
	}
	if (klen == 6 && strncmp(s, "status", 6) == 0)
		into = f->status;
	else if (klen == 13 && strncmp(s, "connection_id", 13) == 0)
		into = f->conn;
	else {
		*why = "an unknown key (status, connection_id, is_active)";
		return -1;
	}
	if (*into)
		goto repeated;
	if (decode(value, WHERE_EXTRA, into, MPFS_NAME_MAX + 1)) {
		*why = "a value that is not %-encoded as names are";
		return -1;
	}
	return 0;
repeated:
	*why = "a key given twice";
	return -1;
}

int mpfs_where_parse(const char *name, struct mpfs_filter *f, const char **why)
{
	const char *s = name, *end;

	memset(f, 0, sizeof(*f));
	f->kind = MPFS_FILTER_WHERE;
	f->is_active = -1;
	if (strlen(name) > MPFS_NAME_MAX) {
		*why = "a name too long";
		return -1;
	}
	snprintf(f->value, sizeof(f->value), "%s", name);
	for (;;) {
		end = strchr(s, ',');
		if (!end)
			end = s + strlen(s);
		if (where_pair(s, end, f, why))
			return -1;
		if (!*end)
			return 0;
		s = end + 1;
	}
}

size_t mpfs_where_name(const struct mpfs_terms *t, char *out, size_t size)
{
	char conn[MPFS_ENCODED_MAX + 1], status[3 * MPFS_NAME_MAX + 1];
	int n;

	if (t->conn)
		encode(t->conn, WHERE_EXTRA, conn, sizeof(conn));
	if (t->status)
		encode(t->status, WHERE_EXTRA, status, sizeof(status));
	n = snprintf(out, size, "%s%s%s%s%s%s%s",
		     t->conn ? "connection_id=" : "", t->conn ? conn : "",
		     t->conn && (t->is_active >= 0 || t->status) ? "," : "",
		     t->is_active < 0 ? ""
		     : t->is_active   ? "is_active=true"
				      : "is_active=false",
		     t->is_active >= 0 && t->status ? "," : "",
		     t->status ? "status=" : "", t->status ? status : "");
	return n < 0 ? 0 : (size_t)n;
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
	char enc[MPFS_ENCODED_MAX + 8];

	if (len <= 5 || strcmp(name + len - 5, ".json") != 0)
		return -1;
	memcpy(enc, name, len - 5);
	enc[len - 5] = '\0';
	return mpfs_name_decode(enc, id, size);
}

static int parse_meta(char comp[][MPFS_ENCODED_MAX + 8], int n,
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

size_t mpfs_file_name(const char *id, const char *suffix, char *out,
		      size_t size)
{
	char enc[MPFS_NAME_MAX + 1];
	size_t n = mpfs_name_encode(id, enc, sizeof(enc));
	size_t room = MPFS_NAME_MAX - strlen(suffix);
	int len;

	if (n <= room) {
		len = snprintf(out, size, "%s%s", enc, suffix);
		return len < 0 ? 0 : (size_t)len;
	}
	/* The prefix: room for the mark and the hash, cut back to the start
	 * of a %XX and of a UTF-8 character. */
	n = room - strlen(MPFS_SHORT_MARK) - 16;
	while (n > 0 && ((unsigned char)enc[n] & 0xC0) == 0x80)
		n--;
	if (n >= 1 && enc[n - 1] == '%')
		n -= 1;
	else if (n >= 2 && enc[n - 2] == '%')
		n -= 2;
	len =
	    snprintf(out, size, "%.*s%s%016llx%s", (int)n, enc, MPFS_SHORT_MARK,
		     (unsigned long long)fnv_str(FNV_OFFSET, id), suffix);
	return len < 0 ? 0 : (size_t)len;
}

int mpfs_name_is_short(const char *name)
{
	return strstr(name, MPFS_SHORT_MARK) != NULL;
}

uint64_t mpfs_sync_ino(const char *bucket, const char *sync_id)
{
	return usable(
	    fnv_str(fnv_str(fnv_str(FNV_OFFSET, "sync"), bucket), sync_id));
}

uint64_t mpfs_version_ino(uint64_t sync_ino, uint64_t digest)
{
	return usable(fnv(fnv(sync_ino, "v", 1), &digest, sizeof(digest)));
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
	char b[MPFS_ENCODED_MAX + 1], v[MPFS_ENCODED_MAX + 1];

	mpfs_name_encode(node->bucket, b, sizeof(b));
	if (f->kind == MPFS_FILTER_CONNECTION) {
		mpfs_name_encode(f->value, v, sizeof(v));
		value = v; /* status names are ours, never %-encoded */
	}
	if (f->kind == MPFS_FILTER_STATUS ||
	    f->kind == MPFS_FILTER_CONNECTION || f->kind == MPFS_FILTER_WHERE)
		snprintf(out, size, "/%s/%s/%s", b, dir, value);
	else
		snprintf(out, size, "/%s/%s", b, dir);
}

size_t mpfs_node_path(const struct mpfs_node *node, char *out, size_t size)
{
	char b[MPFS_ENCODED_MAX + 1], dir[4 * MPFS_ENCODED_MAX + 16];
	char id[MPFS_ENCODED_MAX + 1];
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
		n = snprintf(out, size, "/%s/%s", b,
			     mpfs_view_dirs[MPFS_FILTER_STATUS]);
		break;
	case MPFS_NODE_CONNS:
		n = snprintf(out, size, "/%s/%s", b,
			     mpfs_view_dirs[MPFS_FILTER_CONNECTION]);
		break;
	case MPFS_NODE_WHERE:
		n = snprintf(out, size, "/%s/%s", b,
			     mpfs_view_dirs[MPFS_FILTER_WHERE]);
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
	case MPFS_NODE_COUNTS:
		n = snprintf(out, size, "/%s/counts.json", b);
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

int mpfs_node_is_file(enum mpfs_node_type type)
{
	return type == MPFS_NODE_SYNC || type == MPFS_NODE_BUCKET_JSON ||
	       type == MPFS_NODE_COUNTS || type == MPFS_NODE_STATS;
}

int mpfs_path_parse(const char *path, struct mpfs_node *node)
{
	char comp[4][MPFS_ENCODED_MAX + 8];
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
	if (strcmp(comp[1], "counts.json") == 0) {
		node->type = MPFS_NODE_COUNTS;
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
	f->is_active = -1;
	if (f->kind == MPFS_FILTER_WHERE) {
		const char *why;

		if (n == 2) {
			node->type = MPFS_NODE_WHERE;
			return 0;
		}
		if (mpfs_where_parse(comp[2], f, &why))
			return -1;
		file_at = 3;
	} else if (f->kind == MPFS_FILTER_STATUS ||
		   f->kind == MPFS_FILTER_CONNECTION) {
		int status = f->kind == MPFS_FILTER_STATUS;

		if (n == 2) {
			node->type =
			    status ? MPFS_NODE_STATUSES : MPFS_NODE_CONNS;
			return 0;
		}
		if (status) {
			/* Status names are ours, never %-encoded. */
			if (strlen(comp[2]) > MPFS_NAME_MAX)
				return -1;
			memcpy(f->value, comp[2], strlen(comp[2]) + 1);
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
