/* http.c - libcurl requests: a status, then a body the caller reads as
 * libcurl receives it, each request driven by a multi handle of its own in
 * the caller's thread. Knows no Mixpeek. Status codes are read here and
 * judged by the caller (no CURLOPT_FAILONERROR); verbose output is never
 * enabled, since it would print the headers.
 *
 * Lock order: h->pool_lock, or one of h->share_locks; never both. */
#include "mpfs/http.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpfs/log.h"
#include "mpfs/stats.h"

#define POOL_MAX 16

struct mpfs_http {
	struct mpfs_http_cfg cfg; /* cacert not kept: see ca */
	struct curl_blob ca;	  /* system bundle + cacert, when cacert */
	CURLSH *share;
	pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
	pthread_mutex_t pool_lock; /* guards pool, pooled */
	struct mpfs_http_req *pool[POOL_MAX];
	int pooled;
	sem_t inflight; /* bounds requests at once */
	int max_conns;	/* connections kept open, at most */
};

/* A request, and what it keeps between requests: its easy handle, the
 * multi handle that drives it (so that the caller reads the body as it
 * comes), and its buffer. */
struct mpfs_http_req {
	struct mpfs_http *h;
	CURL *c;
	CURLM *m;
	char errbuf[CURL_ERROR_SIZE];
	/* What libcurl gave, not read yet: buf[head..tail), cap bytes
	 * (RX_BUF), kept for the next request. */
	char *buf;
	size_t cap, head, tail;
	size_t total; /* bytes of the body so far */
	int paused;   /* libcurl holds a chunk until buf is read */
	int too_large, done;
	CURLcode rc; /* once done */
};

static void req_free(struct mpfs_http_req *r)
{
	if (!r)
		return;
	if (r->m)
		curl_multi_cleanup(r->m);
	if (r->c)
		curl_easy_cleanup(r->c);
	free(r->buf);
	free(r);
}

static void share_lock(CURL *handle, curl_lock_data data,
		       curl_lock_access access, void *userptr)
{
	struct mpfs_http *h = userptr;

	(void)handle;
	(void)access;
	pthread_mutex_lock(&h->share_locks[data]);
}

static void share_unlock(CURL *handle, curl_lock_data data, void *userptr)
{
	struct mpfs_http *h = userptr;

	(void)handle;
	pthread_mutex_unlock(&h->share_locks[data]);
}

/* libcurl's memory is wiped before it goes back: request buffers hold the
 * Authorization header, and freed heap ends up in core dumps. */
static void wipe_free(void *p)
{
	if (!p)
		return;
	explicit_bzero(p, malloc_usable_size(p));
	free(p);
}

static void *wipe_realloc(void *p, size_t n)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(n);
	q = malloc(n ? n : 1);
	if (!q)
		return NULL;
	old = malloc_usable_size(p);
	memcpy(q, p, old < n ? old : n);
	wipe_free(p);
	return q;
}

int mpfs_http_global_init(void)
{
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, malloc, wipe_free,
				    wipe_realloc, strdup, calloc) == CURLE_OK
		   ? 0
		   : -1;
}

void mpfs_http_global_cleanup(void)
{
	curl_global_cleanup();
}

/* Appends a whole file to the blob; -1 with errno when it cannot. */
static int append_file(struct curl_blob *blob, const char *path)
{
	struct stat st;
	ssize_t n;
	size_t len = 0;
	char *grown;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_size > (64 << 20)) {
		close(fd);
		return -1;
	}
	grown = realloc(blob->data, blob->len + (size_t)st.st_size + 2);
	if (!grown) {
		close(fd);
		return -1;
	}
	blob->data = grown;
	while (len < (size_t)st.st_size &&
	       (n = read(fd, grown + blob->len + len,
			 (size_t)st.st_size - len)) > 0)
		len += (size_t)n;
	close(fd);
	blob->len += len;
	grown[blob->len++] = '\n'; /* a bundle may lack its last newline */
	return 0;
}

/* The system's CA bundle with cacert after it: the extra CA is added to
 * the store, not put in its place. The system's CA directory, if libcurl
 * has one, stays in use as well. */
static int load_ca(struct mpfs_http *h, const char *cacert,
		   struct mpfs_err *err)
{
	CURL *c = curl_easy_init();
	char *sys = NULL;

	if (c && curl_easy_getinfo(c, CURLINFO_CAINFO, &sys) == CURLE_OK && sys)
		append_file(&h->ca, sys); /* none is fine: cacert is enough */
	if (c)
		curl_easy_cleanup(c);
	if (append_file(&h->ca, cacert)) {
		mpfs_err_set(err, MPFS_E_INVALID, "cannot read cacert '%s': %s",
			     cacert, strerror(errno));
		return -1;
	}
	h->ca.flags = CURL_BLOB_NOCOPY;
	return 0;
}

struct mpfs_http *mpfs_http_new(const struct mpfs_http_cfg *cfg,
				struct mpfs_err *err)
{
	struct mpfs_http *h = calloc(1, sizeof(*h));

	if (!h) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return NULL;
	}
	h->cfg = *cfg;
	h->cfg.cacert = NULL;
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&h->share_locks[i], NULL);
	pthread_mutex_init(&h->pool_lock, NULL);
	h->max_conns = cfg->max_inflight > 0 ? cfg->max_inflight : 8;
	if (sem_init(&h->inflight, 0, (unsigned)h->max_conns)) {
		mpfs_err_set(err, MPFS_E_NOMEM, "cannot make a semaphore");
		free(h);
		return NULL;
	}
	if (cfg->cacert && load_ca(h, cfg->cacert, err)) {
		mpfs_http_free(h);
		return NULL;
	}
	h->share = curl_share_init();
	if (!h->share) {
		mpfs_err_set(err, MPFS_E_NOMEM, "cannot make a curl share");
		mpfs_http_free(h);
		return NULL;
	}
	curl_share_setopt(h->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(h->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(h->share, CURLSHOPT_USERDATA, h);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(h->share, CURLSHOPT_SHARE,
			  CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return h;
}

void mpfs_http_free(struct mpfs_http *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->pooled; i++)
		req_free(h->pool[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	pthread_mutex_destroy(&h->pool_lock);
	sem_destroy(&h->inflight);
	free(h->ca.data);
	free(h);
}

void mpfs_http_trim(struct mpfs_http *h)
{
	pthread_mutex_lock(&h->pool_lock);
	for (int i = 0; i < h->pooled; i++) {
		free(h->pool[i]->buf);
		h->pool[i]->buf = NULL;
		h->pool[i]->cap = 0;
	}
	pthread_mutex_unlock(&h->pool_lock);
}

static struct mpfs_http_req *take_req(struct mpfs_http *h)
{
	struct mpfs_http_req *r = NULL;

	pthread_mutex_lock(&h->pool_lock);
	if (h->pooled > 0)
		r = h->pool[--h->pooled];
	pthread_mutex_unlock(&h->pool_lock);
	if (r)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->h = h;
	r->c = curl_easy_init();
	r->m = curl_multi_init();
	if (!r->c || !r->m) {
		req_free(r);
		return NULL;
	}
	/* the shared connections kept: as many as requests at once */
	curl_multi_setopt(r->m, CURLMOPT_MAXCONNECTS, (long)h->max_conns);
	return r;
}

static void give_req(struct mpfs_http *h, struct mpfs_http_req *r)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->pooled < POOL_MAX) {
		h->pool[h->pooled++] = r;
		r = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	req_free(r);
}

/* What libcurl gives is kept in the request's buffer of RX_BUF bytes
 * until read. A chunk that does not fit while some is unread is left with
 * libcurl (the transfer pauses), so the body is never held whole: it is
 * read as it comes. */
#define RX_BUF (64UL << 10)

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct mpfs_http_req *r = userdata;
	size_t n = size * nmemb;

	if (r->head == r->tail)
		r->head = r->tail = 0;
	if (r->tail + n > r->cap && r->head < r->tail) {
		r->paused = 1;
		return CURL_WRITEFUNC_PAUSE;
	}
	if (r->total + n > r->h->cfg.max_body) {
		r->too_large = 1;
		return 0; /* aborts the transfer */
	}
	if (n > r->cap) { /* the first chunk, or one larger than RX_BUF */
		size_t cap = n > RX_BUF ? n : RX_BUF;
		char *grown = realloc(r->buf, cap);

		if (!grown)
			return 0;
		r->buf = grown;
		r->cap = cap;
	}
	memcpy(r->buf + r->tail, ptr, n);
	r->tail += n;
	r->total += n;
	return n;
}

static int on_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	struct mpfs_http *h = userdata;

	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	return h->cfg.cancelled() ? 1 : 0;
}

int mpfs_http_tls_failure(int curl_code)
{
	switch (curl_code) {
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return 1;
	default:
		return 0;
	}
}

/* The message of a TLS handshake with a server that speaks no TLS: an
 * https:// URL to a plain-HTTP port, whose answer ("HTTP/1.1 400 ...")
 * OpenSSL reads as a record of a wrong version. */
static const char no_tls_msg[] =
    "TLS handshake failed: the server does not speak TLS (is it http://?)";

static int says_no_tls(CURLcode rc, const char *errbuf)
{
	return rc == CURLE_SSL_CONNECT_ERROR &&
	       strstr(errbuf, "wrong version number") != NULL;
}

int mpfs_http_no_tls(const struct mpfs_err *err)
{
	return err->curl_code == CURLE_SSL_CONNECT_ERROR &&
	       strcmp(err->msg, no_tls_msg) == 0;
}

int mpfs_http_transient(const struct mpfs_err *err)
{
	if (mpfs_http_no_tls(err))
		return 0; /* it will not speak TLS next time either */
	switch (err->curl_code) {
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
	case CURLE_ABORTED_BY_CALLBACK:
	case CURLE_FILESIZE_EXCEEDED:
		return 0;
	default:
		return !mpfs_http_tls_failure(err->curl_code);
	}
}

/* At debug, one line per request: method, path and query (the key travels
 * in a header, never in the URL), status, bytes received, milliseconds. */
static void log_request(CURL *c, CURLcode rc, size_t bytes)
{
	const char *method = NULL, *url = NULL, *path;
	curl_off_t us = 0;
	double ms;
	long status = 0;

	if (!mpfs_log_enabled(MPFS_LOG_DEBUG))
		return;
	curl_easy_getinfo(c, CURLINFO_EFFECTIVE_METHOD, &method);
	curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &url);
	path = url ? strstr(url, "://") : NULL;
	path = path ? strchr(path + 3, '/') : NULL;
	method = method ? method : "?";
	curl_easy_getinfo(c, CURLINFO_TOTAL_TIME_T, &us);
	ms = (double)us / 1e3;
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	if (rc == CURLE_OK)
		mpfs_log(MPFS_LOG_DEBUG, "%s %s: %ld, %zu bytes, %.0f ms",
			 method, path ? path : "/", status, bytes, ms);
	else
		mpfs_log(MPFS_LOG_DEBUG, "%s %s: %s, %zu bytes, %.0f ms",
			 method, path ? path : "/", curl_easy_strerror(rc),
			 bytes, ms);
}

/* The failure of a request that ended without its whole answer. */
static void set_failure(struct mpfs_http_req *r, struct mpfs_err *err)
{
	CURLcode rc = r->rc;

	err->curl_code = rc;
	if (r->too_large || rc == CURLE_FILESIZE_EXCEEDED)
		mpfs_err_set(err, MPFS_E_TOO_LARGE,
			     "answer larger than %zu bytes",
			     r->h->cfg.max_body);
	else if (rc == CURLE_ABORTED_BY_CALLBACK)
		mpfs_err_set(err, MPFS_E_INTERRUPTED, "interrupted");
	else if (says_no_tls(rc, r->errbuf))
		mpfs_err_set(err, MPFS_E_TRANSPORT, "%s", no_tls_msg);
	else
		mpfs_err_set(
		    err,
		    rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR
			? MPFS_E_NOMEM
			: MPFS_E_TRANSPORT,
		    "%s", *r->errbuf ? r->errbuf : curl_easy_strerror(rc));
}

/* Drives the transfer until libcurl gives a chunk or the transfer ends. */
static void pump(struct mpfs_http_req *r)
{
	int running = 1;
	CURLMcode mc = CURLM_OK;

	if (r->paused) {
		r->paused = 0; /* libcurl gives the chunk it kept, at once */
		if (curl_easy_pause(r->c, CURLPAUSE_CONT) != CURLE_OK) {
			r->rc = CURLE_RECV_ERROR;
			r->done = 1;
			return;
		}
	}
	while (r->head == r->tail && !r->paused && running && mc == CURLM_OK) {
		mc = curl_multi_perform(r->m, &running);
		if (mc == CURLM_OK && running && r->head == r->tail &&
		    !r->paused)
			mc = curl_multi_poll(r->m, NULL, 0, 1000, NULL);
	}
	if (mc != CURLM_OK) {
		r->rc = mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY
						  : CURLE_RECV_ERROR;
		r->done = 1;
	} else if (!running) {
		int left;
		CURLMsg *msg = curl_multi_info_read(r->m, &left);

		r->rc = msg && msg->msg == CURLMSG_DONE ? msg->data.result
							: CURLE_RECV_ERROR;
		r->done = 1;
	}
}

ssize_t mpfs_http_read(struct mpfs_http_req *r, void *buf, size_t size)
{
	size_t n;

	while (r->head == r->tail) {
		if (r->done)
			return r->rc == CURLE_OK ? 0 : -1;
		pump(r);
	}
	n = r->tail - r->head < size ? r->tail - r->head : size;
	memcpy(buf, r->buf + r->head, n);
	r->head += n;
	return (ssize_t)n;
}

struct mpfs_http_req *
mpfs_http_open(struct mpfs_http *h, const char *method, const char *url,
	       const struct curl_slist *headers, const char *body,
	       long timeout_ms, long connect_ms, struct mpfs_http_answer *ans,
	       struct mpfs_err *err)
{
	struct mpfs_http_req *r;
	curl_off_t retry_after = 0;
	CURL *c;

	while (sem_wait(&h->inflight) != 0 && errno == EINTR)
		;
	r = take_req(h);
	ans->status = 0;
	ans->retry_after = -1;
	if (!r) {
		sem_post(&h->inflight);
		mpfs_err_set(err, MPFS_E_NOMEM, "cannot make a curl handle");
		return NULL;
	}
	c = r->c;
	r->errbuf[0] = '\0';
	r->head = r->tail = r->total = 0;
	r->paused = r->too_large = r->done = 0;
	r->rc = CURLE_OK;
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, (long)h->max_conns);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS,
			 timeout_ms > 0 ? timeout_ms : 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
			 connect_ms > 0 ? connect_ms : 1L);
	/* libcurl's defaults, said out loud: verification is never off. */
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	/* A declared length over the cap fails before the body comes. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE,
			 (curl_off_t)h->cfg.max_body);
	if (h->cfg.cancelled) {
		curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
		curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	if (h->ca.data)
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &h->ca);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	if (curl_multi_add_handle(r->m, c) != CURLM_OK) {
		r->rc = CURLE_OUT_OF_MEMORY;
		r->done = 1;
	}
	/* the status and headers come before the body's first chunk */
	while (r->head == r->tail && !r->done)
		pump(r);
	if (r->done && r->rc != CURLE_OK) {
		set_failure(r, err);
		mpfs_http_close(r, NULL);
		return NULL;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
	if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) ==
		CURLE_OK &&
	    retry_after > 0)
		ans->retry_after = (long)retry_after;
	return r;
}

int mpfs_http_close(struct mpfs_http_req *r, struct mpfs_err *err)
{
	struct mpfs_http *h = r->h;
	int whole = r->done && r->rc == CURLE_OK && r->head == r->tail;

	if (err && r->done && r->rc != CURLE_OK)
		set_failure(r, err);
	else if (err && !whole)
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "answer not read to its end");
	log_request(r->c, r->done ? r->rc : CURLE_OK, r->total);
	mpfs_stats_bytes(r->total);
	curl_multi_remove_handle(r->m, r->c);
	curl_easy_setopt(r->c, CURLOPT_ERRORBUFFER, NULL);
	give_req(h, r);
	sem_post(&h->inflight);
	return whole ? 0 : -1;
}

char *mpfs_http_read_all(struct mpfs_http_req *r, size_t *len)
{
	size_t cap = 0, n = 0;
	char *text = NULL, *grown;
	ssize_t got;

	do {
		if (cap - n < CURL_MAX_WRITE_SIZE + 1) {
			cap = cap ? 2 * cap : CURL_MAX_WRITE_SIZE + 1;
			grown = realloc(text, cap);
			if (!grown) {
				free(text);
				return NULL;
			}
			text = grown;
		}
		got = mpfs_http_read(r, text + n, cap - n - 1);
		if (got > 0)
			n += (size_t)got;
	} while (got > 0);
	if (got < 0) {
		free(text);
		return NULL;
	}
	text[n] = '\0';
	*len = n;
	return text;
}
