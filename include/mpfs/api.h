/* api.h - the Mixpeek calls mixpeekfs makes: list and get of buckets, syncs
 * and connections. Knows HTTP status meanings and JSON shapes, not FUSE or
 * paths. Reads only: nothing here can change anything on the API. */
#ifndef MPFS_API_H
#define MPFS_API_H

#include <jansson.h>

#include "mpfs/err.h"
#include "mpfs/page.h"

struct mpfs_api_cfg {
	const char *base_url;
	const char *key;       /* copied; never logged */
	const char *namespace; /* X-Namespace */
	long timeout;	       /* seconds for one call, its retries included */
	long connect_timeout;  /* seconds to connect, for each try */
	const char *cacert;
	int retries;		/* extra tries for transient failures */
	double max_rps;		/* requests per second at most; 0: no cap */
	size_t max_body;	/* answers larger fail; 0: 64 MiB */
	int (*cancelled)(void); /* see mpfs_http_cfg; may be NULL */
	/* When the request the calling thread serves began
	 * (mpfs_clock_monotonic), or 0; may be NULL. A call ends by then +
	 * timeout, so that a caller who waited for another's fetch waits no
	 * longer in all than one call would. */
	double (*started)(void);
	/* Breaker: failed tries in a row that open it (0: default), and its
	 * first open time in seconds (0: default). */
	int breaker_after;
	double breaker_open;
	int max_requests; /* requests at once */
};

struct mpfs_sync_filter {
	const char *status;	   /* NULL = any */
	const char *connection_id; /* NULL = any */
	int is_active;		   /* -1 = any */
};

struct mpfs_api;

/* New client, or NULL with why in err. */
struct mpfs_api *mpfs_api_new(const struct mpfs_api_cfg *cfg,
			      struct mpfs_err *err);
void mpfs_api_free(struct mpfs_api *api);

/* The buffers of the requests kept for later go back (kill -HUP). */
void mpfs_api_trim(struct mpfs_api *api);

int mpfs_api_list_buckets(struct mpfs_api *api, const struct mpfs_page_req *req,
			  struct mpfs_page *page, struct mpfs_err *err);
int mpfs_api_list_syncs(struct mpfs_api *api, const char *bucket,
			const struct mpfs_sync_filter *filter,
			const struct mpfs_page_req *req, struct mpfs_page *page,
			struct mpfs_err *err);

/* When the request the calling thread serves began (cfg.started), else
 * now: the began of calls made on its behalf by other threads
 * (mpfs_page_req), so that all of them end within its timeout. */
double mpfs_api_began(struct mpfs_api *api);

/* A page of the organisation's storage connections (no namespace). */
int mpfs_api_list_connections(struct mpfs_api *api,
			      const struct mpfs_page_req *req,
			      struct mpfs_page *page, struct mpfs_err *err);

/* GETs: *out is a new reference to the JSON object. */
int mpfs_api_get_bucket(struct mpfs_api *api, const char *bucket, json_t **out,
			struct mpfs_err *err);
int mpfs_api_get_sync(struct mpfs_api *api, const char *bucket,
		      const char *sync_id, json_t **out, struct mpfs_err *err);
int mpfs_api_get_connection(struct mpfs_api *api, const char *conn,
			    json_t **out, struct mpfs_err *err);

#endif
