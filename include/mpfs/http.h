/* http.h - libcurl requests to {status, body}. Knows no Mixpeek. Easy
 * handles come from a pool so none is used by two threads at once, and share
 * DNS, TLS sessions and connections through one share handle. */
#ifndef MPFS_HTTP_H
#define MPFS_HTTP_H

#include <curl/curl.h>
#include <stddef.h>

#include "mpfs/err.h"

struct mpfs_http_cfg {
	long timeout; /* seconds, whole request */
	long connect_timeout;
	const char *cacert; /* extra CA bundle, or NULL */
	size_t max_body;    /* bytes; larger answers fail MPFS_E_TOO_LARGE */
	int max_inflight;   /* requests at once, across all threads */
};

struct mpfs_http_resp {
	long status;
	char *body; /* NUL-terminated */
	size_t len;
	long retry_after; /* seconds, -1 when absent */
};

struct mpfs_http;

struct mpfs_http *mpfs_http_new(const struct mpfs_http_cfg *cfg);
void mpfs_http_free(struct mpfs_http *h);

/* Performs one request. Returns 0 with any HTTP status in resp (the caller
 * reads it), or -1 with err set when no complete answer came. */
int mpfs_http_do(struct mpfs_http *h, const char *method, const char *url,
		 const struct curl_slist *headers, const char *body,
		 struct mpfs_http_resp *resp, struct mpfs_err *err);

void mpfs_http_resp_release(struct mpfs_http_resp *resp);

#endif
