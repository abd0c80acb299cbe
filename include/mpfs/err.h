/* err.h - the one error carrier of the core, and the one errno table.
 *
 * Core functions return 0 or -1 and fill a caller-owned struct mpfs_err, as
 * curl fills its error buffer. Only mpfs_err_errno() turns a kind into an
 * errno; meanings that depend on the call are decided at the call. */
#ifndef MPFS_ERR_H
#define MPFS_ERR_H

enum mpfs_err_kind {
	MPFS_OK = 0,
	MPFS_E_NOT_FOUND, /* unknown path, 404 */
	MPFS_E_AUTH,	  /* 401, 403 */
	MPFS_E_INVALID,	  /* 400, 422: the API refused what we asked */
	MPFS_E_TRANSPORT, /* no answer: connect, timeout, reset, truncated */
	MPFS_E_SERVER,	  /* 5xx, 429, other unexpected statuses */
	MPFS_E_MALFORMED, /* an answer we cannot use */
	MPFS_E_TOO_LARGE, /* body over the cap */
	MPFS_E_NOMEM,
	MPFS_E_NO_ATTR,	    /* no such extended attribute */
	MPFS_E_INTERRUPTED, /* the caller gave up (the FUSE request was
			       interrupted) */
	MPFS_E_UNSUPPORTED, /* not something this filesystem has at all */
	MPFS_E_NOT_DIR,	    /* a directory operation on a file */
	MPFS_E_IS_DIR,	    /* a file operation on a directory */
	MPFS_E_NO_NAME,	    /* a name the tree never holds, whatever the API
			       says (decided without a request): ENOENT */
	MPFS_E_STALE,	    /* a version of a file whose bytes are gone */
};

struct mpfs_err {
	enum mpfs_err_kind kind;
	long http_status; /* 0 when no HTTP answer */
	int curl_code;	  /* 0 when curl did not fail */
	char op[160];	  /* the request: "POST /v1/buckets/b1/syncs/list" */
	char msg[256];	  /* why, for one log line; never holds the key */
};

void mpfs_err_clear(struct mpfs_err *e);

/* Sets kind and a printf-style message; op is left as it is. */
void mpfs_err_set(struct mpfs_err *e, enum mpfs_err_kind kind, const char *fmt,
		  ...) __attribute__((format(printf, 3, 4)));

/* Sets op, printf-style. */
void mpfs_err_op(struct mpfs_err *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The kind an HTTP status means; MPFS_OK for 2xx. */
enum mpfs_err_kind mpfs_err_kind_of_status(long status);

/* Positive errno for a kind: ENOENT, EACCES, EIO, ENOMEM, ENODATA, EINTR,
 * EOPNOTSUPP, ENOTDIR, EISDIR. */
int mpfs_err_errno(const struct mpfs_err *e);

#endif
