/* render.c - pure: API objects to the immutable bytes of a file, the
 * digest that tells versions apart, and the timestamps that give a file its
 * mtime. */
#include "mpfs/render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/path.h"
#include "mpfs/slab.h"

/* The digest's mixing: eight bytes at a time, multiplied and folded, so
 * that a byte anywhere moves the whole word. Not for adversaries: for
 * telling versions of the same object apart. */
#define SEED 0x9e3779b97f4a7c15ULL
#define MUL  0xbf58476d1ce4e5b9ULL

static uint64_t mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * MUL;
	return h ^ (h >> 31);
}

/* n bytes; the length is fed before them, so no tail needs marking. The
 * tail is shifted into its word, not copied: a word stored a byte at a time
 * and read back whole stalls the load. */
static uint64_t feed(uint64_t h, const char *b, size_t n)
{
	uint64_t w;

	for (; n >= 8; n -= 8, b += 8) {
		memcpy(&w, b, 8);
		h = mix(h, w);
	}
	if (n) {
		for (w = 0; n; n--)
			w = w << 8 | (unsigned char)b[n - 1];
		h = mix(h, w);
	}
	return h;
}

/* Each value is its type with its size (an object's or array's count, a
 * string's length) in one word, then what it holds; keys carry their
 * length too, so no two values feed the same words. */
static uint64_t digest(uint64_t h, json_t *json)
{
	uint64_t type = (uint64_t)json_typeof(json);
	size_t i, len;
	json_t *v;
	json_int_t n;
	double d;
	void *it;

	switch (json_typeof(json)) {
	case JSON_OBJECT:
		h = mix(h, type | (uint64_t)json_object_size(json) << 8);
		for (it = json_object_iter(json); it;
		     it = json_object_iter_next(json, it)) {
			len = json_object_iter_key_len(it);
			h = feed(mix(h, len), json_object_iter_key(it), len);
			h = digest(h, json_object_iter_value(it));
		}
		break;
	case JSON_ARRAY:
		h = mix(h, type | (uint64_t)json_array_size(json) << 8);
		json_array_foreach (json, i, v)
			h = digest(h, v);
		break;
	case JSON_STRING:
		len = json_string_length(json);
		h = feed(mix(h, type | (uint64_t)len << 8),
			 json_string_value(json), len);
		break;
	case JSON_INTEGER:
		n = json_integer_value(json);
		h = mix(mix(h, type), (uint64_t)n);
		break;
	case JSON_REAL:
		d = json_real_value(json);
		memcpy(&n, &d, sizeof(n));
		h = mix(mix(h, type), (uint64_t)n);
		break;
	default: /* true, false, null: the type says it all */
		h = mix(h, type);
		break;
	}
	return h;
}

uint64_t mpfs_json_digest(json_t *json)
{
	uint64_t h = digest(SEED, json);

	return h ? h : 1;
}

#define RENDER_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
#define RENDER_BUF   16384 /* a sync's is about 1.5 KiB */

/* json pretty-printed into buf (RENDER_BUF bytes), or when larger into
 * *big (malloc'd, else NULL): its length, the final newline not counted;
 * 0 when it cannot be. */
static size_t render(json_t *json, char *buf, char **big)
{
	size_t n = json_dumpb(json, buf, RENDER_BUF, RENDER_FLAGS);

	*big = NULL;
	if (n > RENDER_BUF && !(*big = json_dumps(json, RENDER_FLAGS)))
		return 0;
	return n;
}

/* What render gave, n bytes, with the final newline and a NUL: n + 2
 * bytes of dst. */
static void place(char *dst, const char *buf, const char *big, size_t n)
{
	memcpy(dst, big ? big : buf, n);
	dst[n] = '\n';
	dst[n + 1] = '\0';
}

char *mpfs_render_json(json_t *json, size_t *len)
{
	char buf[RENDER_BUF], *big, *out = NULL;
	size_t n = render(json, buf, &big);

	if (n && (out = malloc(n + 2))) {
		place(out, buf, big, n);
		*len = n + 1;
	}
	free(big);
	return out;
}

int mpfs_time_parse(const char *s, struct timespec *out)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	long off, nsec = 0, scale = 100000000;

	if (!p || (*p != 'T' && *p != ' ') ||
	    !(p = strptime(p + 1, "%H:%M:%S", &tm)))
		return -1;
	if (*p == '.' || *p == ',') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		for (; isdigit((unsigned char)*p); p++, scale /= 10)
			nsec += (*p - '0') * scale; /* past 9 digits: 0 */
	}
	/* %z: Z, +hh, +hhmm or +hh:mm into tm_gmtoff, which timegm ignores
	 * (and resets) */
	if (*p && (!(p = strptime(p, "%z", &tm)) || *p))
		return -1;
	off = tm.tm_gmtoff;
	out->tv_sec = timegm(&tm) - off;
	out->tv_nsec = nsec;
	return 0;
}

static struct timespec object_mtime(json_t *json, time_t fallback)
{
	static const char *const keys[] = {"updated_at", "created_at"};
	struct timespec t = {fallback, 0};

	for (size_t i = 0; i < 2; i++) {
		const char *s =
		    json_string_value(json_object_get(json, keys[i]));

		if (s && mpfs_time_parse(s, &t) == 0)
			return t;
	}
	return t;
}

/* created_at in seconds, or 0. */
static time_t object_created(json_t *json)
{
	const char *s = json_string_value(json_object_get(json, "created_at"));
	struct timespec t;

	return s && mpfs_time_parse(s, &t) == 0 ? t.tv_sec : 0;
}

/* Bytes of every object alive malloc'd (those in blocks: slab.c's): with
 * the blocks', what the caches' budget counts. */
static atomic_size_t live_bytes;

size_t mpfs_obj_bytes(void)
{
	return atomic_load(&live_bytes) + mpfs_slab_bytes();
}

/* An object complete, of obj->bytes: they count from now on, and as
 * many are taken off when it goes. */
static struct mpfs_obj *counted(struct mpfs_obj *obj)
{
	if (!obj->slab)
		atomic_fetch_add(&live_bytes, obj->bytes);
	return obj;
}

/* The string fields an object carries, in the order of struct mpfs_obj:
 * copied into one block after it. */
enum { F_ID, F_STATUS, F_CONN, F_BUCKET, F_UPDATED, F_ERROR, F_NAME, F_N };

struct text {
	const char *s; /* NULL: absent */
	size_t len;
	char *made; /* s, when made here (freed after the copy) */
};

/* A string as it is, null or absent as NULL; with any, another value as
 * compact JSON. -1 when out of memory. */
static int text_of(json_t *json, const char *key, int any, struct text *t)
{
	json_t *v = json_object_get(json, key);

	if (json_is_string(v)) {
		t->s = json_string_value(v);
	} else if (any && v && !json_is_null(v)) {
		t->made = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		if (!t->made)
			return -1;
		t->s = t->made;
	}
	t->len = t->s ? strlen(t->s) : 0;
	return 0;
}

/* A new object with the fields of json (id is json's id_key), the
 * encoded name id + suffix, and room for data_room bytes of data after
 * them; obj->bytes: all of it. NULL when out of memory. */
static struct mpfs_obj *obj_alloc(json_t *json, const char *id_key,
				  const char *suffix, size_t data_room)
{
	struct text t[F_N] = {{0}};
	const char **dst[F_N];
	char name[MPFS_NAME_MAX + 1];
	struct mpfs_obj *obj = NULL;
	struct mpfs_slab *slab = NULL;
	size_t total = 0, idlen;
	char *p;
	int failed;

	failed = text_of(json, id_key, 0, &t[F_ID]) ||
		 text_of(json, "status", 0, &t[F_STATUS]) ||
		 text_of(json, "connection_id", 0, &t[F_CONN]) ||
		 text_of(json, "updated_at", 1, &t[F_UPDATED]) ||
		 text_of(json, "last_error", 1, &t[F_ERROR]) ||
		 text_of(json, "bucket_id", 1, &t[F_BUCKET]) ||
		 text_of(json, "bucket_name", 1, &t[F_NAME]);
	if (failed)
		goto out;
	mpfs_file_name(t[F_ID].s, suffix, name, sizeof(name));
	idlen = strlen(name);
	for (int i = 0; i < F_N; i++)
		total += t[i].s ? t[i].len + 1 : 0;
	/* In a block, at once after the objects rendered before it; one
	 * too large for a block (or out of memory there): malloc. */
	total += sizeof(*obj) + idlen + 1 + data_room;
	obj = mpfs_slab_alloc(total, &slab);
	if (!obj && !(obj = calloc(1, total)))
		goto out;
	obj->slab = slab;
	obj->bytes = total;
	dst[F_ID] = &obj->id;
	dst[F_STATUS] = &obj->status;
	dst[F_CONN] = &obj->connection_id;
	dst[F_BUCKET] = &obj->bucket_id;
	dst[F_UPDATED] = &obj->updated_at;
	dst[F_ERROR] = &obj->last_error;
	dst[F_NAME] = &obj->bucket_name;
	p = obj->strings;
	for (int i = 0; i < F_N; i++) {
		if (!t[i].s)
			continue;
		memcpy(p, t[i].s, t[i].len + 1);
		*dst[i] = p;
		p += t[i].len + 1;
	}
	memcpy(p, name, idlen + 1);
	obj->name = p;
	obj->data = p + idlen + 1;
	atomic_init(&obj->refs, 1);
out:
	for (int i = 0; i < F_N; i++)
		free(t[i].made);
	return obj;
}

long long mpfs_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void mpfs_rfc3339_ms(long long ms, char *out, size_t size)
{
	time_t sec = (time_t)(ms / 1000);
	struct tm tm;
	size_t n;

	gmtime_r(&sec, &tm);
	n = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, size - n, ".%03dZ", (int)(ms % 1000));
}

struct mpfs_obj *mpfs_obj_new(json_t *json, const char *id_key,
			      const char *suffix, time_t fallback_mtime,
			      uint64_t digest, struct mpfs_err *err)
{
	const char *id = json_string_value(json_object_get(json, id_key));
	struct mpfs_obj *obj;
	json_t *active;
	char buf[RENDER_BUF], *big;
	size_t n;

	if (!json_is_object(json)) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "item is not an object");
		return NULL;
	}
	if (!id || !*id) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "item without '%s'",
			     id_key);
		return NULL;
	}
	if (strlen(id) > MPFS_ID_MAX) {
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "an item's '%s' is longer than %d bytes", id_key,
			     MPFS_ID_MAX);
		return NULL;
	}
	/* The bytes in the object's own block: one allocation, not two. */
	n = render(json, buf, &big);
	obj = n ? obj_alloc(json, id_key, suffix, n + 2) : NULL;
	if (obj) {
		place(obj->data, buf, big, n);
		obj->size = n + 1;
	}
	free(big);
	if (!obj)
		goto nomem;
	obj->digest = digest ? digest : mpfs_json_digest(json);
	obj->mtime = object_mtime(json, fallback_mtime);
	obj->created = object_created(json);
	active = json_object_get(json, "is_active");
	obj->is_active = json_is_boolean(active) ? json_is_true(active) : -1;
	atomic_init(&obj->fetched_ms, mpfs_wall_ms());
	return counted(obj);
nomem:
	mpfs_obj_unref(obj);
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory rendering '%s'", id);
	return NULL;
}

struct mpfs_obj *mpfs_obj_new_live(json_t *json, const char *name, time_t mtime,
				   struct mpfs_err *err)
{
	size_t len = strlen(name);
	struct mpfs_obj *obj = calloc(1, sizeof(*obj) + len + 1);

	if (!obj)
		goto nomem;
	atomic_init(&obj->refs, 1);
	obj->live = 1;
	memcpy(obj->strings, name, len + 1);
	obj->id = obj->name = obj->strings;
	obj->data = json ? mpfs_render_json(json, &obj->size) : NULL;
	if (!obj->data)
		goto nomem;
	obj->digest = 1;
	obj->mtime.tv_sec = mtime;
	obj->is_active = -1;
	obj->bytes = sizeof(*obj) + len + 1 + obj->size;
	return counted(obj);
nomem:
	mpfs_obj_unref(obj);
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory rendering '%s'", name);
	return NULL;
}

int mpfs_obj_sparse(const struct mpfs_obj *obj)
{
	return obj->slab && mpfs_slab_sparse(obj->slab);
}

struct mpfs_obj *mpfs_obj_ref(struct mpfs_obj *obj)
{
	atomic_fetch_add(&obj->refs, 1);
	return obj;
}

void mpfs_obj_unref(struct mpfs_obj *obj)
{
	if (!obj || atomic_fetch_sub(&obj->refs, 1) != 1)
		return;
	free(obj->stale);
	if (obj->live) /* else with the object */
		free(obj->data);
	if (obj->slab) {
		mpfs_slab_free(obj->slab, obj, obj->bytes);
		return;
	}
	atomic_fetch_sub(&live_bytes, obj->bytes);
	free(obj);
}
