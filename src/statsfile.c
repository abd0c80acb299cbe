/* statsfile.c - /.mixpeekfs/stats.json: the process's counters (stats.c)
 * with the core's own figures, as a snapshot whose size and bytes agree
 * between a stat and the reads after it, made anew once the figures
 * change. The kernel's copy is taken back then, through the notifier: a
 * change can happen on any thread, in the middle of anything. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core_priv.h"

int pad_live(struct mpfs_core *core, struct mpfs_obj *obj, size_t *padded,
	     struct mpfs_err *err)
{
	size_t size;
	char *data;

	pthread_mutex_lock(&core->stats_lock);
	if (obj->size > *padded)
		*padded = (obj->size + 4095) / 4096 * 4096;
	size = *padded;
	pthread_mutex_unlock(&core->stats_lock);
	data = realloc(obj->data, size);
	if (!data) {
		nomem(err);
		return -1;
	}
	memset(data + obj->size - 1, ' ', size - obj->size);
	data[size - 1] = '\n';
	obj->data = data;
	obj->size = size;
	return 0;
}

/* The figures of the core: the caches' bytes, entries and evictions, the
 * inodes the kernel holds, and the notifications still to be made. */
static void core_figures(struct mpfs_core *core, json_t *root)
{
	struct mpfs_cache *caches[] = {core->listings, core->objects,
				       core->bucket_objs, core->conns,
				       core->counts};
	json_t *cache = json_object_get(root, "cache");
	unsigned long evictions = 0, e;
	size_t entries = 0;
	uint64_t lookups;
	size_t held = mpfs_inodes_count(core->inodes, &lookups);

	for (size_t i = 0; i < sizeof(caches) / sizeof(caches[0]); i++) {
		entries += mpfs_cache_count(caches[i], &e);
		evictions += e;
	}
	json_object_set_new(cache, "bytes",
			    json_integer((json_int_t)held_bytes()));
	json_object_set_new(cache, "budget",
			    json_integer((json_int_t)core->cfg.cache_size));
	json_object_set_new(cache, "entries",
			    json_integer((json_int_t)entries));
	json_object_set_new(cache, "evictions",
			    json_integer((json_int_t)evictions));

	json_object_set_new(root, "inodes",
			    json_pack("{s:I, s:I}", "held", (json_int_t)held,
				      "lookups", (json_int_t)lookups));
	json_object_set_new(
	    json_object_get(root, "push"), "pending",
	    json_integer((json_int_t)mpfs_notifier_pending(core->notifier)));
}

/* "views": each listing held, by the directory it shows ("/" the bucket
 * list), with when its copy was fetched, its age then, and why it is
 * stale (false when it is not). */
static void view_figures(struct mpfs_core *core, json_t *root)
{
	json_t *views = json_object();
	long long now = mpfs_wall_ms(), fetched;
	char **keys, *stale, at[32];
	size_t n;

	if (!views || mpfs_cache_keys(core->listings, &keys, &n)) {
		json_decref(views);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		view_age(core, keys[i], &fetched, &stale);
		if (!fetched)
			continue;
		mpfs_rfc3339_ms(fetched, at, sizeof(at));
		json_object_set_new(
		    views, keys[i],
		    json_pack("{s:s, s:f, s:o}", "fetched_at", at, "age",
			      (double)(now - fetched) / 1000.0, "stale",
			      stale ? json_string(stale) : json_false()));
		free(stale);
	}
	mpfs_cache_keys_free(keys);
	json_object_set_new(root, "views", views);
}

struct mpfs_obj *stats_obj(struct mpfs_core *core, struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	unsigned long gen;
	json_t *json;

	pthread_mutex_lock(&core->stats_lock);
	obj = core->stats_snap ? mpfs_obj_ref(core->stats_snap) : NULL;
	pthread_mutex_unlock(&core->stats_lock);
	if (obj)
		return obj;
	/* Armed before the figures are read: a change while they are read
	 * (or after another reader's began) moves the generation on, and then
	 * this copy is not kept. */
	gen = mpfs_stats_arm();
	json = mpfs_stats_json();
	if (!json) {
		nomem(err);
		return NULL;
	}
	core_figures(core, json);
	view_figures(core, json);
	obj = mpfs_obj_new_live(json, "stats.json", time(NULL), err);
	json_decref(json);
	if (!obj || pad_live(core, obj, &core->stats_size, err)) {
		mpfs_obj_unref(obj);
		return NULL;
	}
	pthread_mutex_lock(&core->stats_lock);
	if (mpfs_stats_unchanged(gen)) {
		mpfs_obj_unref(core->stats_snap);
		core->stats_snap = mpfs_obj_ref(obj);
	}
	pthread_mutex_unlock(&core->stats_lock);
	return obj;
}

/* The figures moved: drop our snapshot, and the kernel's pages and
 * attributes of it. */
static void stats_changed(void *ctx)
{
	struct mpfs_core *core = ctx;
	struct mpfs_obj *old;

	pthread_mutex_lock(&core->stats_lock);
	old = core->stats_snap;
	core->stats_snap = NULL;
	pthread_mutex_unlock(&core->stats_lock);
	mpfs_obj_unref(old);
	kernel_inval(core, core->stats_ino);
}

void stats_watch(struct mpfs_core *core)
{
	mpfs_stats_watch(stats_changed, core);
}
