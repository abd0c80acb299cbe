/* render.c - pure: API objects to the immutable bytes of a file, and the
 * timestamps that give it an mtime. */
#include "mpfs/render.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/path.h"

char *mpfs_render_json(json_t *json, size_t *len)
{
	char *text = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	size_t n;
	char *out;

	if (!text)
		return NULL;
	n = strlen(text);
	out = realloc(text, n + 2);
	if (!out) {
		free(text);
		return NULL;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	*len = n + 1;
	return out;
}

int mpfs_time_parse(const char *s, time_t *out)
{
	struct tm tm = {0};
	const char *p = strptime(s, "%Y-%m-%d", &tm);
	long off;

	if (!p || (*p != 'T' && *p != ' ') ||
	    !(p = strptime(p + 1, "%H:%M:%S", &tm)))
		return -1;
	if (*p == '.' || *p == ',') {
		if (!isdigit((unsigned char)*++p))
			return -1;
		while (isdigit((unsigned char)*p))
			p++;
	}
	/* %z: Z, +hh, +hhmm or +hh:mm into tm_gmtoff, which timegm ignores
	 * (and resets) */
	if (*p && (!(p = strptime(p, "%z", &tm)) || *p))
		return -1;
	off = tm.tm_gmtoff;
	*out = timegm(&tm) - off;
	return 0;
}

static char *dup_string(json_t *json, const char *key)
{
	const char *s = json_string_value(json_object_get(json, key));

	return s ? strdup(s) : NULL;
}

/* A string as it is, null or absent as NULL, anything else as compact JSON;
 * *failed set when memory ran out. */
static char *dup_value(json_t *json, const char *key, int *failed)
{
	json_t *v = json_object_get(json, key);
	char *s;

	if (!v || json_is_null(v))
		return NULL;
	s = json_is_string(v) ? strdup(json_string_value(v))
			      : json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	if (!s)
		*failed = 1;
	return s;
}

static time_t object_mtime(json_t *json, time_t fallback)
{
	static const char *const keys[] = {"updated_at", "created_at"};
	time_t t;

	for (size_t i = 0; i < 2; i++) {
		const char *s =
		    json_string_value(json_object_get(json, keys[i]));

		if (s && mpfs_time_parse(s, &t) == 0)
			return t;
	}
	return fallback;
}

static int extra_fields(struct mpfs_obj *obj, json_t *json)
{
	int failed = 0;

	obj->bucket_id = dup_value(json, "bucket_id", &failed);
	obj->updated_at = dup_value(json, "updated_at", &failed);
	obj->last_error = dup_value(json, "last_error", &failed);
	obj->bucket_name = dup_value(json, "bucket_name", &failed);
	return failed ? -1 : 0;
}

struct mpfs_obj *mpfs_obj_new(json_t *json, const char *id_key,
			      const char *suffix, time_t fallback_mtime,
			      struct mpfs_err *err)
{
	const char *id = json_string_value(json_object_get(json, id_key));
	struct mpfs_obj *obj;
	size_t idlen, namelen;
	json_t *active;

	if (!json_is_object(json)) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "item is not an object");
		return NULL;
	}
	if (!id || !*id) {
		mpfs_err_set(err, MPFS_E_MALFORMED, "item without '%s'",
			     id_key);
		return NULL;
	}
	obj = calloc(1, sizeof(*obj));
	if (!obj)
		goto nomem;
	atomic_init(&obj->refs, 1);
	idlen = mpfs_name_encode(id, NULL, 0);
	namelen = idlen + strlen(suffix);
	obj->id = strdup(id);
	obj->name = malloc(namelen + 1);
	obj->data = mpfs_render_json(json, &obj->size);
	if (!obj->id || !obj->name || !obj->data)
		goto nomem;
	mpfs_name_encode(id, obj->name, idlen + 1);
	strcpy(obj->name + idlen, suffix);
	obj->mtime = object_mtime(json, fallback_mtime);
	obj->status = dup_string(json, "status");
	obj->connection_id = dup_string(json, "connection_id");
	active = json_object_get(json, "is_active");
	obj->is_active = json_is_boolean(active) ? json_is_true(active) : -1;
	if (extra_fields(obj, json))
		goto nomem;
	return obj;
nomem:
	mpfs_obj_unref(obj);
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory rendering '%s'", id);
	return NULL;
}

struct mpfs_obj *mpfs_obj_new_live(json_t *json, const char *name, time_t mtime,
				   struct mpfs_err *err)
{
	struct mpfs_obj *obj = calloc(1, sizeof(*obj));

	if (!obj)
		goto nomem;
	atomic_init(&obj->refs, 1);
	obj->id = strdup(name);
	obj->name = strdup(name);
	obj->data = json ? mpfs_render_json(json, &obj->size) : NULL;
	if (!obj->id || !obj->name || !obj->data)
		goto nomem;
	obj->mtime = mtime;
	obj->is_active = -1;
	obj->live = 1;
	return obj;
nomem:
	mpfs_obj_unref(obj);
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory rendering '%s'", name);
	return NULL;
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
	free(obj->id);
	free(obj->name);
	free(obj->data);
	free(obj->status);
	free(obj->connection_id);
	free(obj->bucket_id);
	free(obj->updated_at);
	free(obj->last_error);
	free(obj->bucket_name);
	free(obj);
}

int mpfs_obj_same(const struct mpfs_obj *a, const struct mpfs_obj *b)
{
	return a->size == b->size && strcmp(a->name, b->name) == 0 &&
	       memcmp(a->data, b->data, a->size) == 0;
}
