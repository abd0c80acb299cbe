/* path.h - pure: a path of the mount to the node it names, and the
 * %-encoding of API ids into file names. Knows no API, no FUSE. */
#ifndef MPFS_PATH_H
#define MPFS_PATH_H

#include <stddef.h>
#include <stdint.h>

/* A file name, at most (NAME_MAX: what cp, tar and rsync can write). */
#define MPFS_NAME_MAX 255
/* An API id, at most (bytes); an item with a longer one is skipped. */
#define MPFS_ID_MAX 1024
/* An id %-encoded, at most: the form the core's own paths hold ids in,
 * whatever the length of the name the kernel is given. */
#define MPFS_ENCODED_MAX (3 * MPFS_ID_MAX)

enum mpfs_node_type {
	MPFS_NODE_ROOT,	       /* / */
	MPFS_NODE_BUCKET,      /* /<bucket> */
	MPFS_NODE_STATUSES,    /* /<bucket>/by-status */
	MPFS_NODE_CONNS,       /* /<bucket>/by-connection */
	MPFS_NODE_VIEW,	       /* a listed directory: all, active, ... */
	MPFS_NODE_SYNC,	       /* <view>/<sync>.json */
	MPFS_NODE_BUCKET_JSON, /* /<bucket>/bucket.json */
	MPFS_NODE_META,	       /* /.mixpeekfs */
	MPFS_NODE_STATS,       /* /.mixpeekfs/stats.json */
	MPFS_NODE_WHERE,       /* /<bucket>/where */
	MPFS_NODE_COUNTS,      /* /<bucket>/counts.json */
};

/* The hidden directory at the root; no bucket can be named so. */
#define MPFS_META_NAME ".mixpeekfs"

/* (Values are part of the stable inode numbers: new ones go last.) */
enum mpfs_filter_kind {
	MPFS_FILTER_ALL,
	MPFS_FILTER_ACTIVE,
	MPFS_FILTER_INACTIVE,
	MPFS_FILTER_STATUS,
	MPFS_FILTER_CONNECTION,
	MPFS_FILTER_WHERE, /* where/<key=value,...>: the keys combined */
};

struct mpfs_filter {
	enum mpfs_filter_kind kind;
	/* STATUS, CONNECTION: the status or the decoded connection id;
	 * WHERE: the directory's name as given (its spelling) */
	char value[MPFS_ID_MAX + 1];
	/* WHERE: each key given, decoded; "" (is_active -1) when not */
	char status[MPFS_NAME_MAX + 1];
	char conn[MPFS_ID_MAX + 1];
	int is_active;
};

/* What a filter asks of a sync, whatever directory shows it: each NULL
 * (is_active -1) when any will do. Borrowed from the filter. */
struct mpfs_terms {
	const char *status; /* a by-status name, or any other as given */
	const char *conn;
	int is_active;
};

void mpfs_filter_terms(const struct mpfs_filter *f, struct mpfs_terms *t);

/* Parses the name of a where/ directory, "key=value[,key=value...]" with
 * keys status, connection_id and is_active (true or false), values
 * %-encoded as names are, with ',' and '=' as %2C and %3D, into f (kind
 * WHERE; value is name). Returns 0, or -1 and *why. */
int mpfs_where_parse(const char *name, struct mpfs_filter *f, const char **why);

/* The canonical name of the terms: the keys in one order, so that every
 * spelling of one filter has one name ("connection_id=c,status=failed").
 * Writes at most size bytes, NUL-terminated; returns the whole length. */
size_t mpfs_where_name(const struct mpfs_terms *t, char *out, size_t size);

struct mpfs_node {
	enum mpfs_node_type type;
	char bucket[MPFS_ID_MAX + 1];  /* decoded bucket id */
	struct mpfs_filter filter;     /* VIEW and SYNC */
	char sync_id[MPFS_ID_MAX + 1]; /* decoded, SYNC only */
};

/* The directories of a bucket's views, by filter kind: "all", "active",
 * "inactive", "by-status", "by-connection", "where". */
#define MPFS_VIEW_KINDS 6
extern const char *const mpfs_view_dirs[MPFS_VIEW_KINDS];

/* The TaskStatusEnum values as by-status/ lists them (lower case). */
extern const char *const mpfs_statuses[];
extern const size_t mpfs_statuses_count;

/* Status values are matched whatever their case: the value to send for
 * a status name is the enum's, upper case ("failed", "Failed" -> "FAILED");
 * the name one listing of every spelling goes by is lower case, as
 * by-status/ lists it. Write at most size bytes. */
void mpfs_status_api_value(const char *name, char *out, size_t size);
void mpfs_status_name(const char *value, char *out, size_t size);

/* Whether nodes of a type are files (a sync, bucket.json, counts.json,
 * stats.json); the others are directories and links. */
int mpfs_node_is_file(enum mpfs_node_type type);

/* Parses an absolute path. Returns 0, or -1 when no node can have that path
 * (unknown view name, bad %-encoding, a sync name without ".json"). Whether
 * the bucket, status or sync exists is not decided here. */
int mpfs_path_parse(const char *path, struct mpfs_node *node);

/* The directory of the view a VIEW or SYNC node is in, as mpfs_path_parse
 * reads it: "/b1/all", "/b1/by-status/failed", "/b1/where/<its
 * spelling>". Writes at most size bytes, NUL-terminated. */
void mpfs_view_path(const struct mpfs_node *node, char *out, size_t size);

/* The path of any node, as mpfs_path_parse reads it: "/", "/b1",
 * "/b1/by-status/failed/s1.json", "/.mixpeekfs/stats.json". Writes at most
 * size bytes, NUL-terminated; returns the length of the whole path, as
 * snprintf does. */
size_t mpfs_node_path(const struct mpfs_node *node, char *out, size_t size);

/* Stable inode numbers: a 64-bit FNV-1a hash of what a node is, so that
 * the same sync in the same bucket has the same number in every view and
 * across mounts. 1 is the root's; 0 and 0xffffffff (FUSE's "unknown") are
 * never given. Two nodes may collide in principle (1 in 2^64 per pair). */
uint64_t mpfs_node_ino(const struct mpfs_node *node);
uint64_t mpfs_sync_ino(const char *bucket, const char *sync_id);
/* A sync's file has one inode number for each version of its bytes (the
 * digest of its content): sync_ino is mpfs_sync_ino's, the sync's own. */
uint64_t mpfs_version_ino(uint64_t sync_ino, uint64_t digest);

/* Encodes an id as a file name: '/', '%', bytes below 0x20 and 0x7F become
 * %XX (upper-case hex), and so does every byte of "." and "..". Returns the
 * length of the full encoding; writes at most size bytes, NUL-terminated,
 * as snprintf does. */
size_t mpfs_name_encode(const char *id, char *out, size_t size);

/* The inverse: 0 and the id, or -1 when name is not an encoding that
 * mpfs_name_encode produces (so each id has exactly one name). */
int mpfs_name_decode(const char *name, char *out, size_t size);

/* The file name of an id: its encoding and suffix (".json" or ""), or,
 * when that is longer than MPFS_NAME_MAX bytes, a short form of at most
 * MPFS_NAME_MAX: a prefix of the encoding (never cutting a %XX or a UTF-8
 * character), "%~", the 16 hex digits of a 64-bit hash of the whole id,
 * and the suffix. The same id gives the same name on every mount and
 * host. Writes at most size bytes, NUL-terminated; returns the name's
 * length (at most MPFS_NAME_MAX), as snprintf does. */
size_t mpfs_file_name(const char *id, const char *suffix, char *out,
		      size_t size);
#define MPFS_SHORT_MARK "%~"

/* Whether a name is a short form: no id's encoding has "%~", so the
 * core finds the id it stands for among the names it lists. */
int mpfs_name_is_short(const char *name);

#endif
