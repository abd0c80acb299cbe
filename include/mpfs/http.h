/* http.h - libcurl requests: a status, then a body read as it comes, so
 * that a large answer is parsed as it arrives and never held whole. Knows
 * no Mixpeek. Requests and their easy handles come from a pool, so none is
 * used by two threads at once, and share DNS, TLS sessions and connections
 * through one share handle. */
#ifndef MPFS_HTTP_H
#define MPFS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>
#include <sys/types.h>

#include "mpfs/err.h"

struct mpfs_http_cfg {
	const char
	    *cacert;	 /* extra CA bundle, added to the system's; or NULL */
	size_t max_body; /* bytes; larger answers fail MPFS_E_TOO_LARGE */
	/* Polled during a request (in the requesting thread); non-zero ends
	 * it with MPFS_E_INTERRUPTED. May be NULL. */
	int (*cancelled)(void);
	int max_inflight; /* requests at once, across all threads */
};

/* What comes before an answer's body. */
struct mpfs_http_answer {
	long status;
	long retry_after; /* seconds, -1 when absent */
};

/* A request whose answer's body is read as it comes. */
struct mpfs_http_req;

struct mpfs_http;

/* libcurl's global setup, before any thread: its memory is wiped when
 * freed, so no copy of a request's headers (the key) outlives it. */
int mpfs_http_global_init(void);
void mpfs_http_global_cleanup(void);

/* New client, or NULL with why in err (an unreadable CA bundle). */
struct mpfs_http *mpfs_http_new(const struct mpfs_http_cfg *cfg,
				struct mpfs_err *err);
void mpfs_http_free(struct mpfs_http *h);

/* The buffers of the requests kept for later go back to malloc. */
void mpfs_http_trim(struct mpfs_http *h);

/* Sends one request, to be done within timeout_ms (connecting within
 * connect_ms), and waits for its status and headers. Returns the request,
 * whose body the caller reads, then closes; or NULL with err set when no
 * answer came. Holds one of max_inflight places until closed. */
struct mpfs_http_req *
mpfs_http_open(struct mpfs_http *h, const char *method, const char *url,
	       const struct curl_slist *headers, const char *body,
	       long timeout_ms, long connect_ms, struct mpfs_http_answer *ans,
	       struct mpfs_err *err);

/* Up to size bytes of the body, as they come: how many, 0 at its end, -1
 * when the transfer failed (mpfs_http_close says how). */
ssize_t mpfs_http_read(struct mpfs_http_req *r, void *buf, size_t size);

/* The rest of the body, NUL-terminated, in memory to free(); NULL when the
 * transfer failed or memory ran out. */
char *mpfs_http_read_all(struct mpfs_http_req *r, size_t *len);

/* Ends the request. 0 when its whole answer came and was read; else -1,
 * with err (may be NULL) set: the transfer failed (a reset, a timeout, too
 * large, interrupted), or its body was not read to the end. */
int mpfs_http_close(struct mpfs_http_req *r, struct mpfs_err *err);

/* Whether a failed request (err as mpfs_http_open or mpfs_http_close set it)
 * could succeed if tried again (a reset, a timeout), as opposed to one that
 * will not (a certificate that does not verify, a server that speaks no TLS, a
 * bad URL). */
int mpfs_http_transient(const struct mpfs_err *err);

/* Whether a request failed in the TLS handshake because the server speaks
 * no TLS (an https:// URL to a plain-HTTP port); err->msg then says so. */
int mpfs_http_no_tls(const struct mpfs_err *err);

/* Whether a failure of libcurl's is about TLS: the peer's certificate or
 * the CA bundle. */
int mpfs_http_tls_failure(int curl_code);

#endif
