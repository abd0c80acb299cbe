/* http.c - libcurl requests to {status, body}. Knows no Mixpeek. Status
 * codes are read here and judged by the caller (no CURLOPT_FAILONERROR);
 * verbose output is never enabled, since it would print the headers.
 *
 * Lock order: h->pool_lock, or one of h->share_locks; never both. */
#include "mpfs/http.h"

#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
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
	CURL *pool[POOL_MAX];
	int pooled;
	sem_t inflight; /* bounds requests at once */
	int max_conns;	/* connections kept open, at most */
};

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
		curl_easy_cleanup(h->pool[i]);
	if (h->share)
		curl_share_cleanup(h->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&h->share_locks[i]);
	pthread_mutex_destroy(&h->pool_lock);
	sem_destroy(&h->inflight);
	free(h->ca.data);
	free(h);
}

static CURL *take_handle(struct mpfs_http *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->pool_lock);
	if (h->pooled > 0)
		c = h->pool[--h->pooled];
	pthread_mutex_unlock(&h->pool_lock);
	return c ? c : curl_easy_init();
}

static void give_handle(struct mpfs_http *h, CURL *c)
{
	pthread_mutex_lock(&h->pool_lock);
	if (h->pooled < POOL_MAX) {
		h->pool[h->pooled++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->pool_lock);
	if (c)
		curl_easy_cleanup(c);
}

/* Answer bodies of RX_MIN or more: a mapping of their size (sized by
 * Content-Length when there is one, so not grown and copied as they
 * come), at a huge page's boundary, so that its whole huge pages are
 * faulted 2 MiB at a time, the rest 4 KiB at a time: no more memory than
 * today, a page fault for each 2 MiB instead of 512. Unmapped when
 * released. Smaller ones: malloc. */
#define RX_HUGE (2UL << 20)
#define RX_MIN	(256UL << 10)

static char *rx_get(size_t *cap)
{
	size_t size = (*cap + 4095) & ~(size_t)4095, head, tail;
	char *p, *q;

	if (*cap < RX_MIN)
		return malloc(*cap);
	p = mmap(NULL, size + RX_HUGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	q = (char *)(((uintptr_t)p + RX_HUGE - 1) & ~(uintptr_t)(RX_HUGE - 1));
	head = (size_t)(q - p);
	tail = RX_HUGE - head;
	if (head)
		munmap(p, head);
	if (tail)
		munmap(q + size, tail);
	if (size >= RX_HUGE)
		madvise(q, size & ~(RX_HUGE - 1), MADV_HUGEPAGE);
	*cap = size;
	return q;
}

static void rx_put(char *p, size_t cap)
{
	if (cap < RX_MIN)
		free(p);
	else if (p)
		munmap(p, cap);
}

struct body {
	char *data;
	size_t len, cap, max;
	int too_large;
	CURL *c;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct body *b = userdata;
	size_t n = size * nmemb;

	if (b->len + n > b->max) {
		b->too_large = 1;
		return 0; /* aborts the transfer */
	}
	if (b->len + n + 1 > b->cap) {
		curl_off_t declared = -1;
		size_t cap = b->cap ? 2 * b->cap : 16384;
		char *grown;

		/* The first time, the declared length (a hint: it may be
		 * the compressed one) when it is larger. */
		if (!b->cap &&
		    curl_easy_getinfo(b->c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				      &declared) == CURLE_OK &&
		    declared > 0 && (size_t)declared < b->max)
			cap = (size_t)declared + 1;
		while (cap < b->len + n + 1)
			cap *= 2;
		grown = rx_get(&cap);
		if (!grown)
			return 0;
		if (b->len)
			memcpy(grown, b->data, b->len);
		rx_put(b->data, b->cap);
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, ptr, n);
	b->len += n;
	b->data[b->len] = '\0';
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
static void log_request(const char *method, const char *url, CURLcode rc,
			CURL *c, size_t bytes)
{
	const char *path = strstr(url, "://");
	curl_off_t us = 0;
	double ms;
	long status = 0;

	if (!mpfs_log_enabled(MPFS_LOG_DEBUG))
		return;
	path = path ? strchr(path + 3, '/') : NULL;
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

int mpfs_http_do(struct mpfs_http *h, const char *method, const char *url,
		 const struct curl_slist *headers, const char *body,
		 long timeout_ms, long connect_ms, struct mpfs_http_resp *resp,
		 struct mpfs_err *err)
{
	struct body b = {.max = h->cfg.max_body};
	char errbuf[CURL_ERROR_SIZE] = "";
	curl_off_t retry_after = 0;
	CURL *c;
	CURLcode rc;

	while (sem_wait(&h->inflight) != 0 && errno == EINTR)
		;
	c = take_handle(h);
	memset(resp, 0, sizeof(*resp));
	resp->retry_after = -1;
	if (!c) {
		sem_post(&h->inflight);
		mpfs_err_set(err, MPFS_E_NOMEM, "cannot make a curl handle");
		return -1;
	}
	curl_easy_reset(c);
	b.c = c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_SHARE, h->share);
	/* the shared connections kept: as many as requests at once */
	curl_easy_setopt(c, CURLOPT_MAXCONNECTS, (long)h->max_conns);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
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
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	if (h->ca.data)
		curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &h->ca);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body ? body : "");
	rc = curl_easy_perform(c);
	log_request(method, url, rc, c, b.len);
	mpfs_stats_bytes(b.len);
	if (rc == CURLE_OK) {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &retry_after) ==
			CURLE_OK &&
		    retry_after > 0)
			resp->retry_after = (long)retry_after;
	}
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	give_handle(h, c);
	sem_post(&h->inflight);
	if (b.too_large || rc == CURLE_FILESIZE_EXCEEDED) {
		rx_put(b.data, b.cap);
		err->curl_code = rc;
		mpfs_err_set(err, MPFS_E_TOO_LARGE,
			     "answer larger than %zu bytes", h->cfg.max_body);
		return -1;
	}
	if (rc != CURLE_OK) {
		rx_put(b.data, b.cap);
		err->curl_code = rc;
		if (rc == CURLE_ABORTED_BY_CALLBACK)
			mpfs_err_set(err, MPFS_E_INTERRUPTED, "interrupted");
		else if (says_no_tls(rc, errbuf))
			mpfs_err_set(err, MPFS_E_TRANSPORT, "%s", no_tls_msg);
		else
			mpfs_err_set(
			    err,
			    rc == CURLE_OUT_OF_MEMORY || rc == CURLE_WRITE_ERROR
				? MPFS_E_NOMEM
				: MPFS_E_TRANSPORT,
			    "%s", *errbuf ? errbuf : curl_easy_strerror(rc));
		return -1;
	}
	if (!b.data) { /* no body at all */
		b.cap = 1;
		b.data = rx_get(&b.cap);
		if (b.data)
			b.data[0] = '\0';
	}
	resp->body = b.data;
	resp->len = b.len;
	resp->cap = b.cap;
	if (!resp->body) {
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
		return -1;
	}
	return 0;
}

void mpfs_http_resp_release(struct mpfs_http_resp *resp)
{
	rx_put(resp->body, resp->cap);
	resp->body = NULL;
	resp->len = 0;
}
