/* api.c - the Mixpeek calls mixpeekfs makes, over http.c: URLs, headers,
 * status meanings, tries and their deadlines; page.c reads what the answers
 * say, breakers.c keeps the breakers. Knows no FUSE and no paths. Only list
 * and get calls exist here: nothing can change the API. */
#include "mpfs/api.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "mpfs/arena.h"
#include "mpfs/breakers.h"
#include "mpfs/http.h"
#include "mpfs/retry.h"
#include "mpfs/stats.h"

#define MAX_BODY      (64L << 20)
#define BREAKER_AFTER 5	    /* failed tries in a row */
#define BREAKER_OPEN  1.0   /* seconds, doubling while the API stays down */
#define BREAKER_MAX   16.0  /* seconds */
#define BACKOFF_BASE  0.1   /* seconds */
#define BACKOFF_MAX   5.0   /* seconds */
#define CANCEL_SLICE  0.025 /* seconds between looks at cancelled() */

struct mpfs_api {
	char *base; /* no trailing slash */
	/* The Authorization line lives in its own page, locked in memory and
	 * left out of core dumps; the two header lists start with it. */
	char *secret;
	size_t secret_size;
	struct curl_slist auth_ns;  /* -> key, namespace, JSON */
	struct curl_slist auth_org; /* -> key, JSON: organisation calls */
	long timeout_ms;
	long connect_ms;
	int retries;
	int (*cancelled)(void);
	double (*started)(void);
	struct mpfs_clock clock;
	struct mpfs_breakers *breakers;
	struct mpfs_http *http;
};

/* The lines after the Authorization one; ns NULL: none. */
static struct curl_slist *more_headers(const char *ns)
{
	struct curl_slist *list, *next;
	char *line;
	size_t n;

	list = curl_slist_append(NULL, "Accept: application/json");
	next = list ? curl_slist_append(list, "Content-Type: application/json")
		    : NULL;
	if (next && ns) {
		n = strlen(ns) + 16;
		line = malloc(n);
		if (line) {
			snprintf(line, n, "X-Namespace: %s", ns);
			next = curl_slist_append(next, line);
			free(line);
		} else {
			next = NULL;
		}
	}
	if (!next) {
		curl_slist_free_all(list);
		return NULL;
	}
	return list;
}

static int make_secret(struct mpfs_api *api, const char *key)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t need = strlen(key) + 32;
	void *p;

	api->secret_size =
	    (need + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, api->secret_size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		api->secret_size = 0;
		return -1;
	}
	api->secret = p;
	madvise(p, api->secret_size, MADV_DONTDUMP);
	(void)mlock(p, api->secret_size); /* best effort: limits may refuse */
	snprintf(api->secret, api->secret_size, "Authorization: Bearer %s",
		 key);
	return 0;
}

/* The client's own breaker: its clock, backoff and sleep. */
static struct mpfs_retry *client(const struct mpfs_api *api)
{
	return mpfs_breakers_client(api->breakers);
}

static double api_now(void *ctx)
{
	(void)ctx;
	return mpfs_clock_monotonic();
}

/* Sleeps in slices, giving up when the FUSE request is interrupted. */
static int api_sleep(void *ctx, double s)
{
	struct mpfs_api *api = ctx;
	double end = mpfs_clock_monotonic() + s, left;

	while ((left = end - mpfs_clock_monotonic()) > 0) {
		double step = left < CANCEL_SLICE ? left : CANCEL_SLICE;
		struct timespec ts = {.tv_sec = 0,
				      .tv_nsec = (long)(step * 1e9)};

		if (api->cancelled && api->cancelled())
			return -1;
		nanosleep(&ts, NULL);
	}
	return 0;
}

struct mpfs_api *mpfs_api_new(const struct mpfs_api_cfg *cfg,
			      struct mpfs_err *err)
{
	struct mpfs_api *api = calloc(1, sizeof(*api));
	struct mpfs_http_cfg hcfg = {
	    .cacert = cfg->cacert,
	    .max_body = cfg->max_body ? cfg->max_body : (size_t)MAX_BODY,
	    .cancelled = cfg->cancelled,
	    .max_inflight = cfg->max_requests,
	};
	struct mpfs_retry_cfg rcfg = {
	    .retries = cfg->retries,
	    .base_delay = BACKOFF_BASE,
	    .max_delay = BACKOFF_MAX,
	    .breaker_after =
		cfg->breaker_after ? cfg->breaker_after : BREAKER_AFTER,
	    .breaker_open =
		cfg->breaker_open > 0 ? cfg->breaker_open : BREAKER_OPEN,
	    .breaker_max = BREAKER_MAX,
	    .max_rps = cfg->max_rps,
	    .seed = (unsigned int)time(NULL) ^ (unsigned int)getpid(),
	};
	long connect = cfg->connect_timeout > 0 ? cfg->connect_timeout : 10;
	size_t n;

	if (!api) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return NULL;
	}
	api->timeout_ms = cfg->timeout * 1000;
	api->connect_ms =
	    (connect < cfg->timeout ? connect : cfg->timeout) * 1000;
	api->cancelled = cfg->cancelled;
	api->started = cfg->started;
	api->retries = cfg->retries;
	api->clock = (struct mpfs_clock){api_now, api_sleep, api};
	rcfg.clock = &api->clock;
	api->base = strdup(cfg->base_url);
	api->auth_ns.next = more_headers(cfg->namespace);
	api->auth_org.next = more_headers(NULL);
	api->breakers = mpfs_breakers_new(&rcfg);
	if (!api->base || !api->auth_ns.next || !api->auth_org.next ||
	    !api->breakers || make_secret(api, cfg->key)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		mpfs_api_free(api);
		return NULL;
	}
	api->auth_ns.data = api->secret;
	api->auth_org.data = api->secret;
	api->http = mpfs_http_new(&hcfg, err);
	if (!api->http) {
		mpfs_api_free(api);
		return NULL;
	}
	n = strlen(api->base);
	while (n > 0 && api->base[n - 1] == '/')
		api->base[--n] = '\0';
	return api;
}

void mpfs_api_trim(struct mpfs_api *api)
{
	mpfs_http_trim(api->http);
}

void mpfs_api_free(struct mpfs_api *api)
{
	if (!api)
		return;
	free(api->base);
	/* The heads of the lists are ours; the rest is libcurl's. */
	curl_slist_free_all(api->auth_ns.next);
	curl_slist_free_all(api->auth_org.next);
	if (api->secret) {
		explicit_bzero(api->secret, api->secret_size);
		munlock(api->secret, api->secret_size);
		munmap(api->secret, api->secret_size);
	}
	mpfs_http_free(api->http);
	mpfs_breakers_free(api->breakers);
	free(api);
}

/* What a failed try says about the API: 5xx and no answer mean trouble
 * (and are retried); 4xx, 429 and nonsense come from an API that is up. */
static enum mpfs_try outcome_of(const struct mpfs_err *err)
{
	switch (err->kind) {
	case MPFS_E_TRANSPORT:
		return mpfs_http_transient(err) ? MPFS_TRY_FAILED : MPFS_TRY_OK;
	case MPFS_E_SERVER:
		return err->http_status >= 500 || err->http_status == 0
			   ? MPFS_TRY_FAILED
			   : MPFS_TRY_OK;
	case MPFS_E_INTERRUPTED:
		return MPFS_TRY_UNKNOWN;
	default:
		return MPFS_TRY_OK;
	}
}

/* Retried: no answer (a reset, a timeout, a truncated body), 5xx, 429 and
 * other unexpected statuses. Every call here is a read, safe to repeat. */
static int transient(const struct mpfs_err *err)
{
	if (err->kind == MPFS_E_TRANSPORT)
		return mpfs_http_transient(err);
	return err->kind == MPFS_E_SERVER;
}

static size_t read_body(void *buf, size_t size, void *req)
{
	ssize_t n = mpfs_http_read(req, buf, size);

	return n < 0 ? (size_t)-1 : (size_t)n; /* jansson: an end either way */
}

/* The answer's body as a JSON object, parsed as it comes, with no copy of
 * it whole; closes req. NULL with err set as parse_object does, or with
 * the transfer's failure when the body did not come whole. */
static json_t *parse_answer(struct mpfs_http_req *req, struct mpfs_err *err)
{
	json_error_t jerr;
	json_t *root = json_load_callback(read_body, req, 0, &jerr);

	if (mpfs_http_close(req, err) && err->kind != MPFS_E_MALFORMED) {
		json_decref(root);
		return NULL;
	}
	return mpfs_answer_object(root, &jerr, err);
}

/* One try. With arena (a list page), the answer is parsed into a slot of
 * its own (see arena.h; urgent: before pages fetched ahead), taken once
 * the status says there is a page to parse; the caller gives it back once
 * done with the tree. */
static int try_once(struct mpfs_api *api, const char *method, const char *url,
		    const char *body, const struct curl_slist *hdr,
		    struct mpfs_arena **arena, int urgent, double deadline,
		    int last, json_t **out, long *retry_after,
		    struct mpfs_err *err)
{
	long left = (long)((deadline - mpfs_retry_now(client(api))) * 1000);
	struct mpfs_http_answer ans;
	struct mpfs_http_req *req;

	*retry_after = -1;
	err->http_status = 0;
	err->curl_code = 0;
	if (left <= 0) {
		mpfs_err_set(err, MPFS_E_TRANSPORT, "timed out");
		return -1;
	}
	/* A try that hangs may use half the time when another can follow,
	 * so that a timeout is retried too. */
	if (!last && api->timeout_ms >= 2000 && left > api->timeout_ms / 2)
		left = api->timeout_ms / 2;
	req = mpfs_http_open(api->http, method, url, hdr, body, left,
			     left < api->connect_ms ? left : api->connect_ms,
			     &ans, err);
	if (!req)
		return -1;
	err->http_status = ans.status;
	*retry_after = ans.retry_after;
	err->kind = mpfs_err_kind_of_status(ans.status);
	if (err->kind != MPFS_OK) {
		size_t len = 0;
		char *text = mpfs_http_read_all(req, &len);

		mpfs_http_close(req, NULL);
		mpfs_answer_error(text, len, err->msg, sizeof(err->msg));
		free(text);
		return -1;
	}
	if (arena)
		*arena = mpfs_arena_take(urgent);
	*out = parse_answer(req, err);
	mpfs_arena_stop();
	if (*out)
		return 0;
	if (arena)
		mpfs_arena_give(*arena);
	return -1;
}

/* One call: tries until an answer, the retries are used up or the timeout
 * (for the whole call) is near; fails at once while a breaker is open.
 * *out: new reference to the JSON object; with arena, see try_once. */
static int call(struct mpfs_api *api, const char *method, const char *path,
		const char *body, const struct curl_slist *hdr,
		struct mpfs_arena **arena, int urgent, double began,
		json_t **out, struct mpfs_err *err)
{
	double now = mpfs_retry_now(client(api));
	double deadline = now + (double)api->timeout_ms / 1000.0;
	struct mpfs_retry *bucket = mpfs_breakers_of(api->breakers, path);
	struct mpfs_err gate;
	char url[4096];
	int attempt, tries = 0;

	mpfs_err_clear(err);
	mpfs_err_op(err, "%s %s", method, path);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", api->base, path) >=
	    sizeof(url)) {
		mpfs_err_set(err, MPFS_E_INVALID, "url too long");
		return -1;
	}
	/* A caller who waited for another's fetch (which failed, or whose
	 * caller went away) has had part of its timeout already; so has one
	 * whose calls run on other threads, in turn. */
	if (began <= 0 && api->started)
		began = api->started();
	if (began > 0 && began + (double)api->timeout_ms / 1000.0 < deadline)
		deadline = began + (double)api->timeout_ms / 1000.0;
	if (deadline <= now) {
		mpfs_err_set(err, MPFS_E_TRANSPORT,
			     "timed out: waited the whole timeout for another "
			     "fetch of it");
		mpfs_stats_error(err->kind);
		return -1;
	}
	mpfs_err_clear(&gate);
	for (attempt = 0;; attempt++) {
		long retry_after;
		double wait;
		int r;

		if (mpfs_breakers_admit(api->breakers, bucket, deadline,
					&gate)) {
			/* After a try, its failure says more than the gate's,
			 * unless the wait was given up. */
			if (tries == 0 || gate.kind == MPFS_E_INTERRUPTED) {
				err->kind = gate.kind;
				err->http_status = 0;
				err->curl_code = 0;
				memcpy(err->msg, gate.msg, sizeof(err->msg));
			}
			break;
		}
		tries++;
		if (tries > 1)
			mpfs_stats_retry();
		mpfs_stats_request(method, path);
		r = try_once(api, method, url, body, hdr, arena, urgent,
			     deadline, attempt >= api->retries, out,
			     &retry_after, err);
		mpfs_breakers_tried(api->breakers, bucket,
				    r == 0 ? MPFS_TRY_OK : outcome_of(err),
				    err);
		if (r == 0)
			return 0;
		if (!transient(err))
			break;
		wait = mpfs_retry_backoff(client(api), attempt,
					  (double)retry_after, deadline);
		if (wait < 0)
			break;
		if (mpfs_retry_sleep(client(api), wait)) {
			err->http_status = 0;
			mpfs_err_set(err, MPFS_E_INTERRUPTED, "interrupted");
			break;
		}
	}
	if (tries > 1) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n, " after %d tries",
			 tries);
	}
	mpfs_stats_error(err->kind);
	return -1;
}

/* A path or query value, %-encoded; malloc'd. "." and ".." are encoded
 * too, or they would be taken as dot segments and name another resource. */
static char *escape(const char *s)
{
	char *curl, *out;

	if (strcmp(s, ".") == 0)
		return strdup("%2E");
	if (strcmp(s, "..") == 0)
		return strdup("%2E%2E");
	curl = curl_easy_escape(NULL, s, 0);
	out = curl ? strdup(curl) : NULL;
	curl_free(curl);
	return out;
}

static int list_call(struct mpfs_api *api, const char *path, json_t *body,
		     const struct curl_slist *hdr,
		     const struct mpfs_page_req *req, struct mpfs_page *page,
		     struct mpfs_err *err)
{
	char *text = json_dumps(body, JSON_COMPACT);
	struct mpfs_arena *arena = NULL;
	json_t *root = NULL;
	int r;

	if (!text) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	r = call(api, "POST", path, text, hdr, &arena, req->urgent, req->began,
		 &root, err);
	free(text);
	if (r == 0) {
		r = mpfs_page_of(root, page, err);
		json_decref(root);
		if (r == 0)
			page->arena = arena;
		else
			mpfs_arena_give(arena);
	}
	return r;
}

int mpfs_api_list_buckets(struct mpfs_api *api, const struct mpfs_page_req *req,
			  struct mpfs_page *page, struct mpfs_err *err)
{
	json_t *body = json_pack("{s:I,s:I}", "limit", (json_int_t)req->limit,
				 "offset", (json_int_t)req->offset);
	int r;

	if (!body) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	r = list_call(api, "/v1/buckets/list", body, &api->auth_ns, req, page,
		      err);
	json_decref(body);
	return r;
}

/* A filter's value into a list call's body. One that jansson refuses as
 * not UTF-8 names no status or connection: refused here as the API would
 * refuse it (MPFS_E_INVALID), not taken for a lack of memory. */
static int set_filter(json_t *body, const char *key, const char *value,
		      struct mpfs_err *err)
{
	json_t *v = json_string(value);

	if (!v) {
		v = json_stringn_nocheck(value, strlen(value));
		if (v)
			mpfs_err_set(err, MPFS_E_INVALID,
				     "the %s asked for is not UTF-8", key);
		else
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		json_decref(v);
		return -1;
	}
	if (json_object_set_new(body, key, v)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

int mpfs_api_list_syncs(struct mpfs_api *api, const char *bucket,
			const struct mpfs_sync_filter *filter,
			const struct mpfs_page_req *req, struct mpfs_page *page,
			struct mpfs_err *err)
{
	char *b = escape(bucket);
	char *cur = req->cursor ? escape(req->cursor) : NULL;
	json_t *body = json_object();
	char path[8192]; /* ids of up to 1 KiB, escaped */
	int r = -1, n;

	if (!b || (req->cursor && !cur) || !body)
		goto nomem;
	if ((filter->status &&
	     set_filter(body, "status", filter->status, err)) ||
	    (filter->connection_id &&
	     set_filter(body, "connection_id", filter->connection_id, err)))
		goto out;
	if (filter->is_active >= 0 &&
	    json_object_set_new(body, "is_active",
				json_boolean(filter->is_active)))
		goto nomem;
	if (cur)
		n = snprintf(path, sizeof(path),
			     "/v1/buckets/%s/syncs/list?limit=%ld&cursor=%s", b,
			     req->limit, cur);
	else
		n = snprintf(path, sizeof(path),
			     "/v1/buckets/%s/syncs/list?limit=%ld&offset=%ld",
			     b, req->limit, req->offset);
	if ((size_t)n >= sizeof(path)) {
		mpfs_err_set(err, MPFS_E_INVALID, "request path too long");
		goto out;
	}
	r = list_call(api, path, body, &api->auth_ns, req, page, err);
	goto out;
nomem:
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
out:
	free(b);
	free(cur);
	json_decref(body);
	return r;
}

double mpfs_api_began(struct mpfs_api *api)
{
	double began = api->started ? api->started() : 0;

	return began > 0 ? began : mpfs_retry_now(client(api));
}

int mpfs_api_list_connections(struct mpfs_api *api,
			      const struct mpfs_page_req *req,
			      struct mpfs_page *page, struct mpfs_err *err)
{
	json_t *body = json_object();
	char path[128];
	int r;

	if (!body) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	snprintf(path, sizeof(path),
		 "/v1/organizations/connections/list?limit=%ld&offset=%ld",
		 req->limit, req->offset);
	r = list_call(api, path, body, &api->auth_org, req, page, err);
	json_decref(body);
	return r;
}

/* GET prefix + escaped id (+ suffix escaped id). */
static int get(struct mpfs_api *api, const struct curl_slist *hdr,
	       const char *prefix, const char *id, const char *middle,
	       const char *id2, json_t **out, struct mpfs_err *err)
{
	char *a = escape(id), *b = id2 ? escape(id2) : NULL;
	char path[8192]; /* ids of up to 1 KiB, escaped */
	int r = -1;

	if (!a || (id2 && !b)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	} else if ((size_t)snprintf(path, sizeof(path), "%s%s%s%s", prefix, a,
				    id2 ? middle : "",
				    id2 ? b : "") >= sizeof(path)) {
		mpfs_err_set(err, MPFS_E_INVALID, "request path too long");
	} else {
		r = call(api, "GET", path, NULL, hdr, NULL, 0, 0, out, err);
	}
	free(a);
	free(b);
	return r;
}

int mpfs_api_get_bucket(struct mpfs_api *api, const char *bucket, json_t **out,
			struct mpfs_err *err)
{
	return get(api, &api->auth_ns, "/v1/buckets/", bucket, NULL, NULL, out,
		   err);
}

int mpfs_api_get_sync(struct mpfs_api *api, const char *bucket,
		      const char *sync_id, json_t **out, struct mpfs_err *err)
{
	return get(api, &api->auth_ns, "/v1/buckets/", bucket, "/syncs/",
		   sync_id, out, err);
}

int mpfs_api_get_connection(struct mpfs_api *api, const char *conn,
			    json_t **out, struct mpfs_err *err)
{
	return get(api, &api->auth_org, "/v1/organizations/connections/", conn,
		   NULL, NULL, out, err);
}
