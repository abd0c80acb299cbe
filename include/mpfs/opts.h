/* opts.h - the command line and its environment fallbacks, checked. */
#ifndef MPFS_OPTS_H
#define MPFS_OPTS_H

#include <fuse_opt.h>

/* libfuse's max_threads when not given: threads serving requests, started
 * only when all are busy. A request waiting for a page holds one. */
#define MPFS_MAX_THREADS 64

struct mpfs_opts {
	/* as given: -o values and positional arguments */
	char *namespace;
	char *api_url;
	char *api_key_file;
	char *ttl;
	char *page_size;
	char *max_requests;
	char *stale;
	char *buckets;
	char *timeout;
	char *cacert;
	char *log_level;
	char *retries;
	char *max_rps;
	char *max_response;
	char *connect_timeout;
	char *prefetch;
	char *cache_size;
	char *uid;
	char *gid;
	char *umask;
	int allow_http;
	char *args[3];
	int nargs;
	int show_help;
	int show_version;

	/* checked values, filled by mpfs_opts_check */
	const char *mountpoint;
	long ttl_s;
	long page_size_n; /* 0: mixpeekfs chooses */
	long max_requests_n;
	long stale_s;
	long timeout_s;
	long connect_timeout_s;
	long retries_n;
	long max_rps_n;	     /* 0: no cap */
	long max_response_n; /* bytes */
	long prefetch_n;     /* bytes */
	long cache_size_n;   /* bytes */
	long uid_n, gid_n;   /* -1: the mounting user's */
	long umask_n;
	char **bucket_list; /* NULL-terminated, or NULL for all */
	char *key;	    /* wipe with mpfs_opts_release */
	int log_level_v;    /* enum mpfs_log_level */
};

/* Parses mixpeekfs's own options out of args, leaving libfuse's. Returns 0,
 * or -1 after printing one line to stderr. */
int mpfs_opts_parse(struct fuse_args *args, struct mpfs_opts *o);

/* Applies environment fallbacks and checks every value; reads the key.
 * Returns 0, or -1 after printing one line to stderr. */
int mpfs_opts_check(struct mpfs_opts *o);

void mpfs_opts_usage(const char *prog);

void mpfs_opts_release(struct mpfs_opts *o);

#endif
