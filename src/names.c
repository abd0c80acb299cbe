/* names.c - what a name in the tree stands for: a bucket that exists, a
 * connection's id or its name (a link to the id), a status the API takes,
 * and the id a short form of a long name stands for. Asks the views'
 * listings (view.c) first, the API only when they cannot tell. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core_priv.h"

int bucket_exists(struct mpfs_core *core, const char *bucket,
		  struct mpfs_err *err)
{
	struct mpfs_listing *l;
	struct mpfs_obj *obj = NULL;
	char key[2];
	int r;

	if (core->cfg.buckets) {
		for (char **b = core->cfg.buckets; *b; b++)
			if (strcmp(*b, bucket) == 0)
				return 0;
		not_found(err, "bucket");
		return -1;
	}
	l = listing_of(core, NULL);
	if (!l) {
		nomem(err);
		return -1;
	}
	r = mpfs_listing_find(l, bucket, &obj, err);
	mpfs_listing_unref(l);
	if (r < 0 &&
	    (l = stale_listing(core, view_key(NULL, key, sizeof(key)), err))) {
		r = mpfs_listing_find(l, bucket, &obj, err);
		mpfs_listing_unref(l);
	}
	mpfs_obj_unref(obj);
	if (r == 0)
		not_found(err, "bucket");
	return r == 1 ? 0 : -1;
}

static int uses_conn(void *ctx, struct mpfs_obj *obj)
{
	return obj->connection_id && strcmp(obj->connection_id, ctx) == 0;
}

/* What connection conn is, for a directory of node's bucket: 0 an id
 * (*obj NULL when the bucket's syncs use it, else the connection's object,
 * a new reference), -1 with err. */
static int conn_lookup(struct mpfs_core *core, const struct mpfs_node *node,
		       const char *conn, struct mpfs_obj **obj,
		       struct mpfs_err *err)
{
	struct mpfs_node all = {.type = MPFS_NODE_VIEW};
	char key[PATH_SIZE];
	struct mpfs_listing *l;
	json_t *json;
	int complete = 0;

	*obj = NULL;
	/* A connection the bucket's syncs use exists: ask no one. */
	snprintf(all.bucket, sizeof(all.bucket), "%s", node->bucket);
	l = mpfs_cache_get(core->listings, view_key(&all, key, sizeof(key)));
	if (l) {
		mpfs_listing_count(l, &complete);
		if (complete &&
		    each_entry(l, uses_conn, (void *)conn, err) == 1) {
			mpfs_listing_unref(l);
			return 0;
		}
		mpfs_listing_unref(l);
	}
	*obj = mpfs_cache_get(core->conns, conn);
	if (*obj)
		return 0;
	/* The API takes an id or a name: one that starts with "conn_" is an
	 * id (as the API decides); of another, its answer says which. */
	if (mpfs_api_get_connection(core->api, conn, &json, err))
		return -1;
	/* (the schema does not require the id: then it is the one asked) */
	if (!json_is_string(json_object_get(json, "connection_id")) ||
	    strncmp(conn, "conn_", 5) == 0)
		json_object_set_new(json, "connection_id", json_string(conn));
	*obj = mpfs_obj_new(json, "connection_id", "", 0, 0, err);
	json_decref(json);
	if (!*obj)
		return -1;
	mpfs_obj_unref(mpfs_cache_put(core->conns, conn, *obj));
	return 0;
}

int conn_link(struct mpfs_core *core, const struct mpfs_node *node,
	      char *target, size_t size, struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	int r;

	if (conn_lookup(core, node, node->filter.value, &obj, err))
		return -1;
	r = obj && strcmp(obj->id, node->filter.value) != 0;
	if (r && mpfs_file_name(obj->id, "", target, size) >= size) {
		not_found(err, "connection");
		r = -1;
	}
	mpfs_obj_unref(obj);
	return r;
}

static int is_listed_status(const char *name)
{
	for (size_t i = 0; i < mpfs_statuses_count; i++)
		if (strcasecmp(name, mpfs_statuses[i]) == 0)
			return 1;
	return 0;
}

/* A view exists when its connection does, and its status is one of
 * by-status/'s or one the API takes (asked with one page). */
int view_exists(struct mpfs_core *core, const struct mpfs_node *node,
		struct mpfs_err *err)
{
	struct mpfs_listing *l;
	struct mpfs_obj *obj = NULL;
	struct mpfs_terms t;
	int r;

	mpfs_filter_terms(&node->filter, &t);
	if (t.conn) {
		struct mpfs_obj *known;
		int name;

		if (conn_lookup(core, node, t.conn, &known, err))
			return -1;
		/* A name lists nothing: by-connection/ links it to its id. */
		name = known && strcmp(known->id, t.conn) != 0;
		mpfs_obj_unref(known);
		if (name) {
			not_found(err, "connection id");
			return -1;
		}
	}
	if (!t.status || is_listed_status(t.status))
		return 0;
	l = listing_of(core, node);
	if (!l) {
		nomem(err);
		return -1;
	}
	r = mpfs_listing_get(l, 0, &obj, err);
	mpfs_obj_unref(obj);
	mpfs_listing_unref(l);
	if (r < 0 && err->kind == MPFS_E_INVALID)
		err->kind = MPFS_E_NOT_FOUND;
	return r < 0 ? -1 : 0;
}

/* ---- short names ---- */

struct short_find {
	const char *name;
	int conn; /* a connection's name, else the object's */
	char *id;
	size_t size;
	int found;
};

static int short_match(void *ctx, struct mpfs_obj *obj)
{
	struct short_find *f = ctx;
	char name[MPFS_NAME_MAX + 1];
	const char *id = f->conn ? obj->connection_id : obj->id;

	if (!id || !*id)
		return 0;
	if (f->conn)
		mpfs_file_name(id, "", name, sizeof(name));
	if (strcmp(f->conn ? name : obj->name, f->name) != 0 ||
	    strlen(id) >= f->size)
		return 0;
	memcpy(f->id, id, strlen(id) + 1);
	f->found = 1;
	return 1;
}

int short_name_id(struct mpfs_core *core, const struct mpfs_node *dir,
		  const char *name, char *id, size_t size, struct mpfs_err *err)
{
	struct short_find f = {name, dir->type == MPFS_NODE_CONNS, id, size, 0};
	struct mpfs_node all = {.type = MPFS_NODE_VIEW};
	struct mpfs_listing *l = NULL;
	int r = 0;

	switch (dir->type) {
	case MPFS_NODE_ROOT:
		for (char **b = core->cfg.buckets; b && *b && !f.found; b++) {
			char mine[MPFS_NAME_MAX + 1];

			mpfs_file_name(*b, "", mine, sizeof(mine));
			if (strcmp(mine, name) == 0)
				snprintf(id, size, "%s", *b);
			f.found = strcmp(mine, name) == 0;
		}
		if (!core->cfg.buckets)
			l = listing_of(core, NULL);
		break;
	case MPFS_NODE_CONNS:
		snprintf(all.bucket, sizeof(all.bucket), "%s", dir->bucket);
		l = listing_of(core, &all);
		break;
	case MPFS_NODE_VIEW:
		l = listing_of(core, dir);
		break;
	default:
		break;
	}
	if (l)
		r = each_entry(l, short_match, &f, err);
	mpfs_listing_unref(l);
	if (r < 0)
		return -1;
	if (!f.found) {
		not_found(err, "name");
		return -1;
	}
	return 0;
}
