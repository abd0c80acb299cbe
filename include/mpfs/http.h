/* http.h - libcurl requests to {status, body}. Knows no Mixpeek. Easy
 * handles come from a pool so none is used by two threads at once, and share
 * DNS, TLS sessions and connections through one share handle. */
#ifndef MPFS_HTTP_H
#define MPFS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

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

struct mpfs_http_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	size_t cap;	  /* the buffer's size (mpfs_http_resp_release) */
	long retry_after; /* seconds, -1 when absent */
};

struct mpfs_http;

/* libcurl's global setup, before any thread: its memory is wiped when
 * freed, so no copy of a request's headers (the key) outlives it. */
int mpfs_http_global_init(void);
void mpfs_http_global_cleanup(void);

/* New client, or NULL with why in err (an unreadable CA bundle). */
struct mpfs_http *mpfs_http_new(const struct mpfs_http_cfg *cfg,
				struct mpfs_err *err);
void mpfs_http_free(struct mpfs_http *h);

/* Performs one request, within timeout_ms (connecting within connect_ms).
 * Returns 0 with any HTTP status in resp (the caller reads it), or -1 with
 * err set when no complete answer came. */
int mpfs_http_do(struct mpfs_http *h, const char *method, const char *url,
		 const struct curl_slist *headers, const char *body,
		 long timeout_ms, long connect_ms, struct mpfs_http_resp *resp,
		 struct mpfs_err *err);

/* Whether a failed request (err as mpfs_http_do set it) could succeed if
 * tried again (a reset, a timeout), as opposed to one that will not (a
 * certificate that does not verify, a server that speaks no TLS, a bad
 * URL). */
int mpfs_http_transient(const struct mpfs_err *err);

/* Whether a request failed in the TLS handshake because the server speaks
 * no TLS (an https:// URL to a plain-HTTP port); err->msg then says so. */
int mpfs_http_no_tls(const struct mpfs_err *err);

/* Whether a failure of libcurl's is about TLS: the peer's certificate or
 * the CA bundle. */
int mpfs_http_tls_failure(int curl_code);

void mpfs_http_resp_release(struct mpfs_http_resp *resp);

#endif
