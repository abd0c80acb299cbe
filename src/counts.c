/* counts.c - <bucket>/counts.json: how many syncs each view holds, keyed
 * as the tree names the views. Each number is the total of one list call
 * with limit=1, the calls sent at once on the mount's workers when the
 * file is opened (never for ls: its size is known without a request),
 * cached for ttl and kept stale for a failed refresh, as a view is. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_priv.h"
#include "mpfs/log.h"

/* Pages of the connection list asked for at most: a server that ignores
 * offset ends it sooner (a page that adds no connection ends it). */
#define CONN_PAGES 100
#define CONN_LIMIT 1000

struct count_batch {
	pthread_mutex_t lock;
	pthread_cond_t done;
	int left;
};

/* One list call of the batch; total -1 when the answer did not say. */
struct count_job {
	struct mpfs_core *core;
	const char *bucket;
	struct mpfs_sync_filter filter;
	char status[32];
	struct count_batch *batch;
	double began; /* the reader's request: all end within its timeout */
	long total;
	int failed;
	struct mpfs_err err;
};

static void job_done(struct count_job *j)
{
	pthread_mutex_lock(&j->batch->lock);
	if (--j->batch->left == 0)
		pthread_cond_signal(&j->batch->done);
	pthread_mutex_unlock(&j->batch->lock);
}

static void job_run(void *arg)
{
	struct count_job *j = arg;
	struct mpfs_page_req req = {.limit = 1, .urgent = 1, .began = j->began};
	struct mpfs_page page = {0};

	mpfs_err_clear(&j->err);
	j->failed = mpfs_api_list_syncs(j->core->api, j->bucket, &j->filter,
					&req, &page, &j->err) != 0;
	if (!j->failed)
		j->total = page.total;
	mpfs_page_release(&page);
	job_done(j);
}

static void job_drop(void *arg)
{
	struct count_job *j = arg;

	j->failed = 1;
	mpfs_err_set(&j->err, MPFS_E_TRANSPORT, "not sent: stopping");
	job_done(j);
}

/* Runs every job at once on the workers (a job they cannot take runs
 * here), and waits for all. 0, or -1 with err: the first failure. */
static int run_all(struct mpfs_core *core, struct count_job *jobs, size_t n,
		   struct mpfs_err *err)
{
	struct count_batch batch = {.left = (int)n};

	pthread_mutex_init(&batch.lock, NULL);
	pthread_cond_init(&batch.done, NULL);
	for (size_t i = 0; i < n; i++) {
		jobs[i].batch = &batch;
		if (mpfs_pool_run(core->pool, job_run, job_drop, &jobs[i]))
			job_run(&jobs[i]);
	}
	pthread_mutex_lock(&batch.lock);
	while (batch.left > 0)
		pthread_cond_wait(&batch.done, &batch.lock);
	pthread_mutex_unlock(&batch.lock);
	pthread_cond_destroy(&batch.done);
	pthread_mutex_destroy(&batch.lock);
	for (size_t i = 0; i < n; i++)
		if (jobs[i].failed) {
			*err = jobs[i].err;
			return -1;
		}
	return 0;
}

/* The organisation's connection ids, into the keys of conns. */
static int connection_ids(struct mpfs_core *core, json_t *conns,
			  struct mpfs_err *err)
{
	struct mpfs_page_req req = {.limit = CONN_LIMIT, .urgent = 1};

	for (int i = 0; i < CONN_PAGES; i++) {
		struct mpfs_page page = {0};
		size_t had = json_object_size(conns), n, k;
		json_t *item;

		if (mpfs_api_list_connections(core->api, &req, &page, err))
			return -1;
		n = json_array_size(page.items);
		json_array_foreach (page.items, k, item) {
			const char *id = json_string_value(
			    json_object_get(item, "connection_id"));

			if (id && *id &&
			    json_object_set_new(conns, id, json_null())) {
				mpfs_page_release(&page);
				nomem(err);
				return -1;
			}
		}
		mpfs_page_release(&page);
		if (n < (size_t)req.limit || json_object_size(conns) == had)
			return 0;
		req.offset += (long)n;
	}
	mpfs_log(MPFS_LOG_WARN,
		 "list connections: more than %d pages; counting those had",
		 CONN_PAGES);
	return 0;
}

static int conn_order(const void *a, const void *b)
{
	return strcmp(((const struct count_job *)a)->filter.connection_id,
		      ((const struct count_job *)b)->filter.connection_id);
}

static json_t *total_of(const struct count_job *j)
{
	return j->total >= 0 ? json_integer(j->total) : json_null();
}

/* The counts as JSON, fetched now. */
static json_t *fetch_counts(struct mpfs_core *core, const char *bucket,
			    struct mpfs_err *err)
{
	size_t fixed = 3 + mpfs_statuses_count, n = fixed, i = 0;
	double began = mpfs_api_began(core->api);
	json_t *conns = json_object(), *out = NULL, *by_status, *by_conn;
	struct count_job *jobs = NULL;
	const char *conn;
	json_t *unused;

	if (!conns || connection_ids(core, conns, err))
		goto out;
	n += json_object_size(conns);
	jobs = calloc(n, sizeof(*jobs));
	if (!jobs) {
		nomem(err);
		goto out;
	}
	for (i = 0; i < n; i++) {
		jobs[i].core = core;
		jobs[i].bucket = bucket;
		jobs[i].began = began;
		jobs[i].filter.is_active = i == 1 ? 1 : i == 2 ? 0 : -1;
	}
	for (i = 0; i < mpfs_statuses_count; i++) {
		mpfs_status_api_value(mpfs_statuses[i], jobs[3 + i].status,
				      sizeof(jobs[3 + i].status));
		jobs[3 + i].filter.status = jobs[3 + i].status;
	}
	i = fixed;
	json_object_foreach (conns, conn, unused)
		jobs[i++].filter.connection_id = conn;
	if (run_all(core, jobs, n, err))
		goto out;
	by_status = json_object();
	by_conn = json_object();
	out = json_pack("{s:o, s:o, s:o, s:o*, s:o*}", "all",
			total_of(&jobs[0]), "active", total_of(&jobs[1]),
			"inactive", total_of(&jobs[2]), "by-status", by_status,
			"by-connection", by_conn);
	if (!out || !by_status || !by_conn) {
		json_decref(out);
		out = NULL;
		nomem(err);
		goto out;
	}
	for (i = 0; i < mpfs_statuses_count; i++)
		json_object_set_new(by_status, mpfs_statuses[i],
				    total_of(&jobs[3 + i]));
	/* The connections present (those the bucket's syncs use), by id. */
	qsort(jobs + fixed, n - fixed, sizeof(*jobs), conn_order);
	for (i = fixed; i < n; i++)
		if (jobs[i].total != 0)
			json_object_set_new(by_conn,
					    jobs[i].filter.connection_id,
					    total_of(&jobs[i]));
out:
	free(jobs);
	json_decref(conns);
	return out;
}

size_t counts_size(struct mpfs_core *core)
{
	size_t size;

	pthread_mutex_lock(&core->stats_lock);
	size = core->counts_size;
	pthread_mutex_unlock(&core->stats_lock);
	return size;
}

/* A bucket's counts being fetched: readers of the same bucket that come
 * meanwhile take its outcome; other buckets' do not wait for it. Freed by
 * the last of the fetcher and its waiters, under counts_lock. */
struct counts_flight {
	struct counts_flight *next;
	const char *bucket; /* the fetcher's; read while linked only */
	int refs, done;
	struct mpfs_obj *obj; /* done: the copy fetched, or NULL and err */
	struct mpfs_err err;
};

static void flight_put(struct counts_flight *f)
{
	if (--f->refs == 0) {
		mpfs_obj_unref(f->obj);
		free(f);
	}
}

/* The counts fetched now and cached; NULL and err when they could not be
 * (the cache then still holds any stale copy). */
static struct mpfs_obj *fetch_obj(struct mpfs_core *core, const char *bucket,
				  struct mpfs_err *err)
{
	json_t *json = fetch_counts(core, bucket, err);
	struct mpfs_obj *obj;

	obj = json ? mpfs_obj_new_live(json, "counts.json",
				       (time_t)(mpfs_wall_ms() / 1000), err)
		   : NULL;
	json_decref(json);
	if (obj && pad_live(core, obj, &core->counts_size, err)) {
		mpfs_obj_unref(obj);
		obj = NULL;
	}
	if (obj)
		mpfs_obj_unref(mpfs_cache_put(core->counts, bucket, obj));
	return obj;
}

/* Fresh, or fetched now by this reader or one that came first. */
static struct mpfs_obj *fresh_obj(struct mpfs_core *core, const char *bucket,
				  struct mpfs_err *err)
{
	struct mpfs_obj *obj = NULL;
	struct counts_flight *f;

	pthread_mutex_lock(&core->counts_lock);
	while (!(obj = mpfs_cache_get(core->counts, bucket))) {
		for (f = core->counts_flights; f; f = f->next)
			if (strcmp(f->bucket, bucket) == 0)
				break;
		if (!f)
			break;
		/* Another reader fetches them: bounded by its timeout. */
		f->refs++;
		while (!f->done)
			pthread_cond_wait(&core->counts_done,
					  &core->counts_lock);
		obj = f->obj ? mpfs_obj_ref(f->obj) : NULL;
		if (!obj)
			*err = f->err;
		flight_put(f);
		/* A fetch whose caller went away says nothing of the API:
		 * tried again. */
		if (obj || err->kind != MPFS_E_INTERRUPTED)
			goto out;
	}
	if (obj)
		goto out;
	f = calloc(1, sizeof(*f));
	if (!f) {
		nomem(err);
		goto out;
	}
	f->bucket = bucket;
	f->refs = 1;
	f->next = core->counts_flights;
	core->counts_flights = f;
	pthread_mutex_unlock(&core->counts_lock);

	obj = fetch_obj(core, bucket, err);

	pthread_mutex_lock(&core->counts_lock);
	for (struct counts_flight **pp = &core->counts_flights; *pp;
	     pp = &(*pp)->next)
		if (*pp == f) {
			*pp = f->next;
			break;
		}
	f->obj = obj ? mpfs_obj_ref(obj) : NULL;
	if (!obj)
		f->err = *err;
	f->done = 1;
	pthread_cond_broadcast(&core->counts_done);
	flight_put(f);
out:
	pthread_mutex_unlock(&core->counts_lock);
	return obj;
}

int counts_obj(struct mpfs_core *core, const char *bucket,
	       struct mpfs_obj **out, struct mpfs_err *err)
{
	struct mpfs_obj *obj;
	double age;

	*out = mpfs_cache_get(core->counts, bucket);
	if (*out)
		return 0;
	obj = fresh_obj(core, bucket, err);
	if (!obj && stale_ok(err) &&
	    (obj = mpfs_cache_get_stale(core->counts, bucket, &age))) {
		if (servable(core, age))
			log_stale("counts", err, age, &obj->stale);
		else {
			mpfs_obj_unref(obj);
			obj = NULL;
		}
	}
	*out = obj;
	return obj ? 0 : -1;
}
