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
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, &err);

	CHECK(obj != NULL);
	CHECK_STR(obj->data, want);
	CHECK(obj->size == strlen(want));
	CHECK_STR(obj->name, "s1.json");
	CHECK_STR(obj->status, "FAILED");
	CHECK(obj->connection_id == NULL);
	CHECK(obj->is_active == 0);
	CHECK(obj->mtime == 7);
	mpfs_obj_unref(obj);
	json_decref(json);
}

static void test_obj_fields(void)
{
	struct mpfs_err err;
	json_t *json =
	    json_pack("{s:s,s:s,s:b,s:s,s:s}", "sync_config_id", "a/b",
		      "connection_id", "conn_x", "is_active", 1, "created_at",
		      "2024-05-01T10:00:00Z", "updated_at", "bogus");
	struct mpfs_obj *obj =
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, &err);

	CHECK_STR(obj->name, "a%2Fb.json");
	CHECK_STR(obj->id, "a/b");
	CHECK_STR(obj->connection_id, "conn_x");
	CHECK(obj->is_active == 1);
	CHECK(obj->mtime == 1714557600); /* created_at: updated_at is bad */
	mpfs_obj_unref(obj);
	json_decref(json);

	json = json_pack("{s:s}", "sync_config_id", "");
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, &err) == NULL &&
	      err.kind == MPFS_E_MALFORMED);
	json_decref(json);
	json = json_pack("{s:i}", "sync_config_id", 5);
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, &err) == NULL);
	json_decref(json);
	json = json_pack("[]");
	CHECK(mpfs_obj_new(json, "sync_config_id", ".json", 0, &err) == NULL);
	json_decref(json);
	mpfs_obj_unref(NULL);
}

static void test_time(void)
{
	time_t t;

	CHECK(mpfs_time_parse("2024-05-01T10:00:00Z", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01T10:00:00", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01T10:00:00.123456Z", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01T12:00:00+02:00", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01T05:30:00.5-04:30", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01 10:00:00+0000", &t) == 0 &&
	      t == 1714557600);
	CHECK(mpfs_time_parse("2024-05-01", &t) < 0);
	CHECK(mpfs_time_parse("2024-13-01T10:00:00Z", &t) < 0);
	CHECK(mpfs_time_parse("2024-05-01T10:00:00Zjunk", &t) < 0);
	CHECK(mpfs_time_parse("", &t) < 0);
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
	    mpfs_obj_new(json, "sync_config_id", ".json", 7, &err);

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
	o = mpfs_obj_new(json, "sync_config_id", ".json", 7, &err);
	CHECK(o && o->bucket_id == NULL && o->updated_at == NULL);
	CHECK_STR(o ? o->last_error : NULL, "{\"code\":5}");
	mpfs_obj_unref(o);
	o = mpfs_obj_new_live(json, "stats.json", 9, &err);
	CHECK(o && o->live && o->mtime == 9 && o->size > 0);
	CHECK_STR(o ? o->name : NULL, "stats.json");
	mpfs_obj_unref(o);
	json_decref(json);
}

int main(void)
{
	test_pretty();
	test_xattr_fields();
	test_obj_fields();
	test_time();
	return check_done();
}
