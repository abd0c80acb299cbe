/* Rendering objects to file bytes, and timestamps to mtimes. */
#include <stdlib.h>

#include "check.h"
#include "mpfs/render.h"

static void test_pretty(void)
{
	const char *in = "{\"sync_config_id\":\"s1\",\"b\":[1,2],\"a\":{},"
			 "\"status\":\"FAILED\",\"z\":[],\"u\":\"ü\\t\","
			 "\"is_active\":false,\"n\":null}";
	const char *want = "{\n"
			   "  \"sync_config_id\": \"s1\",\n"
			   "  \"b\": [\n"
			   "    1,\n"
			   "    2\n"
			   "  ],\n"
			   "  \"a\": {},\n"
			   "  \"status\": \"FAILED\",\n"
			   "  \"z\": [],\n"
			   "  \"u\": \"ü\\t\",\n"
			   "  \"is_active\": false,\n"
			   "  \"n\": null\n"
			   "}\n";
	json_t *json = json_loads(in, 0, NULL);
	struct mpfs_err err;
	struct mpfs_obj *obj =
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, 0, &err);

	CHECK(obj != NULL);
	CHECK_STR(obj->data, want);
	CHECK(obj->size == strlen(want));
	CHECK_STR(obj->name, "s1.json");
	CHECK_STR(obj->status, "FAILED");
	CHECK(obj->connection_id == NULL);
	CHECK(obj->is_active == 0);
	CHECK(obj->mtime.tv_sec == 7 && obj->mtime.tv_nsec == 0);
	mpfs_obj_unref(obj);
	json_decref(json);
}

/* mtime: updated_at, else created_at, else the fallback given (the
 * bucket's created_at, or 0: never the time of the mount). created: the
 * object's created_at in seconds, 0 without one. */
static void test_mtime_and_created(void)
{
	static const struct {
		const char *json;
		long mtime, created;
	} cases[] = {
	    {"{\"sync_config_id\":\"s\",\"updated_at\":\"2025-01-02T00:00:"
	     "00Z\","
	     "\"created_at\":\"2024-01-01T00:00:00Z\"}",
	     1735776000, 1704067200},
	    {"{\"sync_config_id\":\"s\",\"created_at\":\"2024-01-01T00:00:"
	     "00Z\"}",
	     1704067200, 1704067200},
	    {"{\"sync_config_id\":\"s\"}", 1711929600, 0},
	    {"{\"sync_config_id\":\"s\",\"created_at\":\"yesterday\"}",
	     1711929600, 0},
	};
	struct mpfs_err err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *json = json_loads(cases[i].json, 0, NULL);
		struct mpfs_obj *o = mpfs_obj_new(json, "sync_config_id",
						  ".json", 1711929600, 0, &err);

		CHECK(o && o->mtime.tv_sec == cases[i].mtime &&
		      o->created == cases[i].created);
		mpfs_obj_unref(o);
		json_decref(json);
	}
}

static void test_obj_fields(void)
{
	struct mpfs_err err;
	json_t *json =
	    json_pack("{s:s,s:s,s:b,s:s,s:s}", "sync_config_id", "a/b",
		      "connection_id", "conn_x", "is_active", 1, "created_at",
		      "2024-05-01T10:00:00Z", "updated_at", "bogus");
	struct mpfs_obj *obj =
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, 0, &err);

	CHECK_STR(obj->name, "a%2Fb.json");
	CHECK_STR(obj->id, "a/b");
	CHECK_STR(obj->connection_id, "conn_x");
	CHECK(obj->is_active == 1);
	CHECK(obj->mtime.tv_sec ==
	      1714557600); /* created_at: updated_at is bad */
	mpfs_obj_unref(obj);
	json_decref(json);

	json = json_pack("{s:s}", "sync_config_id", "");
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err) ==
		  NULL &&
	      err.kind == MPFS_E_MALFORMED);
	json_decref(json);
	json = json_pack("{s:i}", "sync_config_id", 5);
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err) ==
	      NULL);
	json_decref(json);
	json = json_pack("[]");
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err) ==
	      NULL);
	json_decref(json);
	mpfs_obj_unref(NULL);
}

/* Whole seconds from a timestamp, its nanoseconds in ns. */
static int parsed(const char *s, time_t sec, long ns)
{
	struct timespec t;

	return mpfs_time_parse(s, &t) == 0 && t.tv_sec == sec &&
	       t.tv_nsec == ns;
}

static void test_time(void)
{
	struct timespec t;

	CHECK(parsed("2024-05-01T10:00:00Z", 1714557600, 0));
	CHECK(parsed("2024-05-01T10:00:00", 1714557600, 0));
	CHECK(parsed("2024-05-01T10:00:00.123456Z", 1714557600, 123456000));
	CHECK(parsed("2024-05-01T12:00:00+02:00", 1714557600, 0));
	CHECK(parsed("2024-05-01T05:30:00.5-04:30", 1714557600, 500000000));
	CHECK(parsed("2024-05-01 10:00:00+0000", 1714557600, 0));
	/* past the nanosecond: cut, not rounded */
	CHECK(parsed("2024-05-01T10:00:00.1234567899Z", 1714557600, 123456789));
	CHECK(mpfs_time_parse("2024-05-01", &t) < 0);
	CHECK(mpfs_time_parse("2024-13-01T10:00:00Z", &t) < 0);
	CHECK(mpfs_time_parse("2024-05-01T10:00:00Zjunk", &t) < 0);
	CHECK(mpfs_time_parse("2024-05-01T10:00:00.Z", &t) < 0);
	CHECK(mpfs_time_parse("", &t) < 0);
}

/* Versions: equal JSON, equal digest; any change in a value, a key, the
 * order of keys, a type or where an object or array ends, another
 * digest. */
static void test_digest(void)
{
	static const char *const texts[] = {
	    "{\"a\": 1, \"b\": \"x\"}",
	    "{\"b\": \"x\", \"a\": 1}",
	    "{\"a\": 2, \"b\": \"x\"}",
	    "{\"a\": 1, \"b\": \"y\"}",
	    "{\"a\": 1.0, \"b\": \"x\"}",
	    "{\"a\": \"1\", \"b\": \"x\"}",
	    "{\"a\": [1], \"b\": \"x\"}",
	    "{\"ab\": 1, \"b\": \"x\"}",
	    "{\"a\": 1, \"b\": \"x\", \"c\": null}",
	    "{\"a\": {\"b\": 1}, \"c\": 2}",
	    "{\"a\": {\"b\": 1, \"c\": 2}}",
	    "[[1], 2]",
	    "[[1, 2]]",
	};
	enum { N = sizeof(texts) / sizeof(texts[0]) };
	uint64_t d[N];
	json_t *j;
	int distinct = 1;

	for (int i = 0; i < N; i++) {
		j = json_loads(texts[i], JSON_DECODE_ANY, NULL);
		d[i] = mpfs_json_digest(j);
		json_decref(j);
	}
	for (int i = 0; i < N; i++)
		for (int k = i + 1; k < N; k++)
			distinct &= d[i] != d[k];
	CHECK(distinct);
	j = json_loads(texts[0], 0, NULL);
	CHECK(mpfs_json_digest(j) == d[0] && d[0] != 0);
	json_decref(j);
}

static void test_xattr_fields(void)
{
	struct mpfs_err err;
	json_t *json = json_loads(
	    "{\"sync_config_id\": \"s1\", \"bucket_id\": \"b1\", "
	    "\"updated_at\": \"2025-01-02T03:04:05Z\", \"last_error\": null, "
	    "\"bucket_name\": \"n\\u0001x\"}",
	    0, NULL);
	struct mpfs_obj *o =
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, 0, &err);

	CHECK(o != NULL);
	CHECK_STR(o->bucket_id, "b1");
	CHECK_STR(o->updated_at, "2025-01-02T03:04:05Z");
	CHECK(o->last_error == NULL); /* null: absent */
	CHECK_STR(o->bucket_name, "n\001x");
	CHECK(o->is_active == -1 && !o->live);
	mpfs_obj_unref(o);
	json_decref(json);

	json = json_loads("{\"sync_config_id\": \"s1\", \"last_error\": "
			  "{\"code\": 5}}",
			  0, NULL);
	o = mpfs_obj_new(json, "sync_config_id", ".json", 7, 0, &err);
	CHECK(o && o->bucket_id == NULL && o->updated_at == NULL);
	CHECK_STR(o ? o->last_error : NULL, "{\"code\":5}");
	mpfs_obj_unref(o);
	o = mpfs_obj_new_live(json, "stats.json", 9, &err);
	CHECK(o && o->live && o->mtime.tv_sec == 9 && o->size > 0);
	CHECK_STR(o ? o->name : NULL, "stats.json");
	mpfs_obj_unref(o);
	json_decref(json);
}

/* An object larger than the renderer's buffer renders the same way. */
static void test_large(void)
{
	char *big = malloc(40001);
	struct mpfs_err err;
	json_t *json;
	struct mpfs_obj *obj;
	char *want;

	memset(big, 'x', 40000);
	big[40000] = '\0';
	json = json_pack("{s:s, s:s}", "sync_config_id", "s1", "note", big);
	obj = mpfs_obj_new(json, "sync_config_id", ".json", 0, 0, &err);
	want = json_dumps(json, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	CHECK(obj && obj->size == strlen(want) + 1);
	CHECK(obj && memcmp(obj->data, want, obj->size - 1) == 0 &&
	      obj->data[obj->size - 1] == '\n');
	free(want);
	free(big);
	mpfs_obj_unref(obj);
	json_decref(json);
}

int main(void)
{
	test_pretty();
	test_mtime_and_created();
	test_xattr_fields();
	test_obj_fields();
	test_time();
	test_digest();
	test_large();
	return check_done();
}
