/* api.c - the Mixpeek calls mixpeekfs makes, over http.c. Knows URLs,
 * headers, status meanings and JSON shapes; knows no FUSE and no paths.
 * Only list and get calls exist here: nothing can change the API. */
#include "mpfs/api.h"

#include <errno.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mpfs/http.h"
#include "mpfs/stats.h"

#define MAX_BODY (64L << 20)

struct mpfs_api {
	char *base;		    /* no trailing slash */
	struct curl_slist *hdr_ns;  /* key, namespace, JSON */
	struct curl_slist *hdr_org; /* key, JSON: organisation calls */
	int retries;
	long timeout;
	struct mpfs_http *http;
	/* Parsed pages alive at once: a page of 1,000 syncs parses into a
	 * tree several times its size, and pages arrive together. */
	sem_t parse_gate;
};

static struct curl_slist *headers(const char *key, const char *ns)
{
	struct curl_slist *list = NULL, *next;
	char *line;
	size_t n;

	n = strlen(key) + 32;
	line = malloc(n);
	if (!line)
		return NULL;
	snprintf(line, n, "Authorization: Bearer %s", key);
	list = curl_slist_append(NULL, line);
	explicit_bzero(line, n);
	free(line);
	if (!list)
		return NULL;
	next = curl_slist_append(list, "Accept: application/json");
	next = next ? curl_slist_append(next, "Content-Type: application/json")
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

struct mpfs_api *mpfs_api_new(const struct mpfs_api_cfg *cfg)
{
	struct mpfs_api *api = calloc(1, sizeof(*api));
	struct mpfs_http_cfg hcfg = {
	    .timeout = cfg->timeout,
	    .connect_timeout = cfg->timeout < 10 ? cfg->timeout : 10,
	    .cacert = cfg->cacert,
	    .max_body = MAX_BODY,
	    .max_inflight = cfg->max_requests,
	};
	size_t n;

	if (!api)
		return NULL;
	api->base = strdup(cfg->base_url);
	api->hdr_ns = headers(cfg->key, cfg->namespace);
	api->hdr_org = headers(cfg->key, NULL);
	api->http = mpfs_http_new(&hcfg);
	api->retries = cfg->retries;
	api->timeout = cfg->timeout;
	sem_init(&api->parse_gate, 0, 2);
	if (!api->base || !api->hdr_ns || !api->hdr_org || !api->http) {
		mpfs_api_free(api);
		return NULL;
	}
	n = strlen(api->base);
	while (n > 0 && api->base[n - 1] == '/')
		api->base[--n] = '\0';
	return api;
}

static void free_headers(struct curl_slist *list)
{
	/* The first line holds the key: wipe it before it goes back. */
	if (list && list->data)
		explicit_bzero(list->data, strlen(list->data));
	curl_slist_free_all(list);
}

void mpfs_api_free(struct mpfs_api *api)
{
	if (!api)
		return;
	free(api->base);
	free_headers(api->hdr_ns);
	free_headers(api->hdr_org);
	mpfs_http_free(api->http);
	sem_destroy(&api->parse_gate);
	free(api);
}

static void gate_enter(sem_t *gate)
{
	while (gate && sem_wait(gate) != 0 && errno == EINTR)
		;
}

static void gate_leave(void *gate)
{
	if (gate)
		sem_post(gate);
}

/* The message of an error answer, from ErrorResponse or HTTPValidationError,
 * or the start of the body when it is neither. */
static void error_message(const struct mpfs_http_resp *resp, char *out,
			  size_t size)
{
	json_t *root = json_loadb(resp->body, resp->len, 0, NULL);
	const char *msg = NULL;

	if (root) {
		msg = json_string_value(
		    json_object_get(json_object_get(root, "error"), "message"));
		if (!msg)
			msg = json_string_value(json_object_get(
			    json_array_get(json_object_get(root, "detail"), 0),
			    "msg"));
	}
	snprintf(out, size, "%s", msg ? msg : "no error message");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(root);
}

static int transient(const struct mpfs_err *err)
{
	return err->kind == MPFS_E_TRANSPORT || err->kind == MPFS_E_SERVER;
}

static void backoff(int attempt, long retry_after)
{
	long ms = retry_after >= 0 ? retry_after * 1000
				   : (100L << attempt) + rand() % 100;
	struct timespec ts = {.tv_sec = ms / 1000,
			      .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* One call with bounded retries. *out: new reference to the JSON object.
 * With a gate, the answer is parsed once the gate is entered, and on
 * success the caller leaves it. */
static int call(struct mpfs_api *api, const char *method, const char *path,
		const char *body, const struct curl_slist *hdr, sem_t *gate,
		json_t **out, struct mpfs_err *err)
{
	char url[4096];
	struct mpfs_http_resp resp;
	json_error_t jerr;
	int attempt;

	mpfs_err_clear(err);
	mpfs_err_op(err, "%s %s", method, path);
	if ((size_t)snprintf(url, sizeof(url), "%s%s", api->base, path) >=
	    sizeof(url)) {
		mpfs_err_set(err, MPFS_E_INVALID, "url too long");
		return -1;
	}
	for (attempt = 0;; attempt++) {
		long retry_after = -1;

		mpfs_stats_request(method, path);
		err->http_status = 0;
		if (mpfs_http_do(api->http, method, url, hdr, body, &resp,
				 err) == 0) {
			err->http_status = resp.status;
			retry_after = resp.retry_after;
			err->kind = mpfs_err_kind_of_status(resp.status);
			if (err->kind == MPFS_OK) {
				gate_enter(gate);
				*out =
				    json_loadb(resp.body, resp.len, 0, &jerr);
				mpfs_http_resp_release(&resp);
				if (json_is_object(*out))
					return 0;
				json_decref(*out);
				gate_leave(gate);
				*out = NULL;
				mpfs_err_set(err, MPFS_E_MALFORMED,
					     "answer is not a JSON object: %s",
					     jerr.text);
				mpfs_stats_error(err->kind);
				return -1;
			}
			error_message(&resp, err->msg, sizeof(err->msg));
			mpfs_http_resp_release(&resp);
		}
		if (!transient(err) || attempt >= api->retries ||
		    retry_after > api->timeout)
			break;
		backoff(attempt, retry_after);
		mpfs_stats_retry();
	}
	mpfs_stats_error(err->kind);
	if (attempt > 0) {
		size_t n = strlen(err->msg);

		snprintf(err->msg + n, sizeof(err->msg) - n, " after %d tries",
			 attempt + 1);
	}
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

/* Takes a list answer apart; root stays the caller's. */
static int page_of(json_t *root, struct mpfs_page *page, struct mpfs_err *err)
{
	json_t *results = json_object_get(root, "results");
	json_t *pagination = json_object_get(root, "pagination");
	json_t *total = json_object_get(root, "total");
	const char *cursor;

	page->items = NULL;
	page->next_cursor = NULL;
	page->total = -1;
	page->released = NULL;
	if (!json_is_array(results)) {
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "list answer without a 'results' array");
		return -1;
	}
	if (!json_is_integer(total))
		total = json_object_get(pagination, "total");
	if (json_is_integer(total))
		page->total = (long)json_integer_value(total);
	cursor = json_string_value(json_object_get(pagination, "next_cursor"));
	if (cursor && *cursor) {
		page->next_cursor = strdup(cursor);
		if (!page->next_cursor) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
	}
	page->items = json_incref(results);
	return 0;
}

int mpfs_api_parse_page(const char *body, size_t len, struct mpfs_page *page,
			struct mpfs_err *err)
{
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	int r;

	if (!json_is_object(root)) {
		json_decref(root);
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "answer is not a JSON object");
		return -1;
	}
	r = page_of(root, page, err);
	json_decref(root);
	return r;
}

static int list_call(struct mpfs_api *api, const char *path, json_t *body,
		     const struct curl_slist *hdr, struct mpfs_page *page,
		     struct mpfs_err *err)
{
	char *text = json_dumps(body, JSON_COMPACT);
	json_t *root = NULL;
	int r;

	if (!text) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	r = call(api, "POST", path, text, hdr, &api->parse_gate, &root, err);
	free(text);
	if (r == 0) {
		r = page_of(root, page, err);
		json_decref(root);
		if (r == 0) {
			page->released = gate_leave;
			page->released_ctx = &api->parse_gate;
		} else {
			gate_leave(&api->parse_gate);
		}
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
	r = list_call(api, "/v1/buckets/list", body, api->hdr_ns, page, err);
	json_decref(body);
	return r;
}

int mpfs_api_list_syncs(struct mpfs_api *api, const char *bucket,
			const struct mpfs_sync_filter *filter,
			const struct mpfs_page_req *req, struct mpfs_page *page,
			struct mpfs_err *err)
{
	char *b = escape(bucket);
	char *cur = req->cursor ? escape(req->cursor) : NULL;
	json_t *body = json_object();
	char path[2048];
	int r = -1, n;

	if (!b || (req->cursor && !cur) || !body)
		goto nomem;
	if (filter->status &&
	    json_object_set_new(body, "status", json_string(filter->status)))
		goto nomem;
	if (filter->connection_id &&
	    json_object_set_new(body, "connection_id",
				json_string(filter->connection_id)))
		goto nomem;
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
	r = list_call(api, path, body, api->hdr_ns, page, err);
	goto out;
nomem:
	mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
out:
	free(b);
	free(cur);
	json_decref(body);
	return r;
}

/* GET prefix + escaped id (+ suffix escaped id). */
static int get(struct mpfs_api *api, const struct curl_slist *hdr,
	       const char *prefix, const char *id, const char *middle,
	       const char *id2, json_t **out, struct mpfs_err *err)
{
	char *a = escape(id), *b = id2 ? escape(id2) : NULL;
	char path[2048];
	int r = -1;

	if (!a || (id2 && !b)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	} else if ((size_t)snprintf(path, sizeof(path), "%s%s%s%s", prefix, a,
				    id2 ? middle : "",
				    id2 ? b : "") >= sizeof(path)) {
		mpfs_err_set(err, MPFS_E_INVALID, "request path too long");
	} else {
		r = call(api, "GET", path, NULL, hdr, NULL, out, err);
	}
	free(a);
	free(b);
	return r;
}

int mpfs_api_get_bucket(struct mpfs_api *api, const char *bucket, json_t **out,
			struct mpfs_err *err)
{
	return get(api, api->hdr_ns, "/v1/buckets/", bucket, NULL, NULL, out,
		   err);
}

int mpfs_api_get_sync(struct mpfs_api *api, const char *bucket,
		      const char *sync_id, json_t **out, struct mpfs_err *err)
{
	return get(api, api->hdr_ns, "/v1/buckets/", bucket, "/syncs/", sync_id,
		   out, err);
}

int mpfs_api_get_connection(struct mpfs_api *api, const char *conn,
			    json_t **out, struct mpfs_err *err)
{
	return get(api, api->hdr_org, "/v1/organizations/connections/", conn,
		   NULL, NULL, out, err);
}
