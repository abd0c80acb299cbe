/* opts.c - the command line: mixpeekfs's -o options, environment
 * fallbacks, value checks and the key. The key is taken from the
 * environment or a file, never from argv, and never printed. */
#include "mpfs/opts.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mpfs/log.h"
#include "mpfs/url.h"

#define OPT(t, p)                                                              \
	{                                                                      \
		t, offsetof(struct mpfs_opts, p), 1                            \
	}

enum { KEY_HELP, KEY_VERSION };

static const struct fuse_opt spec[] = {
    OPT("namespace=%s", namespace),
    OPT("api_url=%s", api_url),
    OPT("api_key_file=%s", api_key_file),
    OPT("ttl=%s", ttl),
    OPT("page_size=%s", page_size),
    OPT("max_requests=%s", max_requests),
    OPT("stale=%s", stale),
    OPT("buckets=%s", buckets),
    OPT("timeout=%s", timeout),
    OPT("cacert=%s", cacert),
    OPT("log_level=%s", log_level),
    OPT("retries=%s", retries),
    OPT("max_rps=%s", max_rps),
    OPT("max_response=%s", max_response),
    OPT("connect_timeout=%s", connect_timeout),
    OPT("prefetch=%s", prefetch),
    OPT("cache_size=%s", cache_size),
    OPT("uid=%s", uid),
    OPT("gid=%s", gid),
    OPT("umask=%s", umask),
    OPT("allow_http", allow_http),
    FUSE_OPT_KEY("-h", KEY_HELP),
    FUSE_OPT_KEY("--help", KEY_HELP),
    FUSE_OPT_KEY("-V", KEY_VERSION),
    FUSE_OPT_KEY("--version", KEY_VERSION),
    FUSE_OPT_END,
};

/* Options fstab and mount(8) carry for themselves or for systemd, which
 * mount.fuse3 passes on (or leaves to us): accepted and dropped. */
static int mount_only_opt(const char *arg)
{
	static const char *const names[] = {"_netdev", "noauto",   "auto",
					    "nofail",  "defaults", "user",
					    "nouser",  "users",	   "owner"};

	if (strncmp(arg, "x-", 2) == 0 || strncmp(arg, "comment=", 8) == 0)
		return 1;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(arg, names[i]) == 0)
			return 1;
	return 0;
}

static int on_arg(void *data, const char *arg, int key,
		  struct fuse_args *outargs)
{
	struct mpfs_opts *o = data;

	(void)outargs;
	switch (key) {
	case KEY_HELP:
		o->show_help = 1;
		return 0;
	case KEY_VERSION:
		o->show_version = 1;
		return 0;
	case FUSE_OPT_KEY_OPT:
		return mount_only_opt(arg) ? 0 : 1;
	case FUSE_OPT_KEY_NONOPT:
		if (o->nargs == 3)
			return -1;
		o->args[o->nargs] = strdup(arg);
		if (!o->args[o->nargs])
			return -1;
		o->nargs++;
		return 0;
	}
	return 1;
}

void mpfs_opts_usage(const char *prog)
{
	printf(
	    "usage: %s [options] NAMESPACE MOUNTPOINT\n"
	    "       %s [options] -o namespace=NS MOUNTPOINT\n"
	    "       mount -t fuse.mixpeekfs NAMESPACE MOUNTPOINT -o ...\n\n"
	    "the tree:\n"
	    "    <bucket>/all/ active/ inactive/ bucket.json\n"
	    "    <bucket>/by-status/<status>/ by-connection/<connection_id>/\n"
	    "    <bucket>/where/<key=value[,key=value...]>/  the API's "
	    "filters\n"
	    "        combined (AND): status, connection_id, is_active (true,\n"
	    "        false); e.g. where/status=failed,connection_id=conn_x/\n\n"
	    "mixpeekfs options:\n"
	    "    -o namespace=NS        namespace (default: env\n"
	    "                           MIXPEEK_NAMESPACE)\n"
	    "    -o api_url=URL         API base URL (default: env\n"
	    "                           MIXPEEK_API_URL, else\n"
	    "                           https://api.mixpeek.com)\n"
	    "    -o api_key_file=PATH   file holding the API key (default:\n"
	    "                           env MIXPEEK_API_KEY)\n"
	    "    -o ttl=SECONDS         cache lifetime (default 30)\n"
	    "    -o stale=SECONDS       after ttl, serve the last good copy\n"
	    "                           when a refresh fails (default 300)\n"
	    "    -o page_size=N         items per list request, 1..1000\n"
	    "                           (default: 100 growing to 1000)\n"
	    "    -o max_requests=N      list pages fetched at once, 1..64\n"
	    "                           (default 8)\n"
	    "    -o buckets=ID[:ID...]  show only these buckets\n"
	    "                           (default: all buckets)\n"
	    "    -o timeout=SECONDS     limit for one request, its retries\n"
	    "                           included (default 30)\n"
	    "    -o connect_timeout=SECONDS  limit for connecting (default "
	    "10)\n"
	    "    -o retries=N           tries after a failed one: resets,\n"
	    "                           timeouts, 5xx, 429 (default 4)\n"
	    "    -o max_rps=N           requests per second at most\n"
	    "                           (default 0: no cap)\n"
	    "    -o max_response=BYTES  larger answers are an error; K, M, G\n"
	    "                           suffixes (default 64M)\n"
	    "    -o cache_size=BYTES    memory for everything cached, least\n"
	    "                           recently used going first; K, M, G\n"
	    "                           (default: an eighth of the RAM,\n"
	    "                           64M to 1G)\n"
	    "    -o prefetch=BYTES      file bytes of one listing pushed into\n"
	    "                           the page cache after it; 0: none\n"
	    "                           (default 64M)\n"
	    "    -o cacert=PATH         extra CA bundle for TLS, added to the\n"
	    "                           system's (default: the system store)\n"
	    "    -o allow_http          send the key over plain http:// to a\n"
	    "                           host other than loopback (default: "
	    "off)\n"
	    "    -o log_level=LEVEL     error, warn, info or debug\n"
	    "                           (default info; SIGUSR2 steps it)\n"
	    "    -o uid=N, -o gid=N     owner of every file (default: the\n"
	    "                           mounting user and group)\n"
	    "    -o umask=M             mode bits taken away, octal (default\n"
	    "                           0: files 0444, directories 0555)\n"
	    "    -o _netdev,noauto,nofail,defaults,x-*\n"
	    "                           fstab options: accepted, ignored\n"
	    "    -o max_threads=N       libfuse's, below; mixpeekfs's default\n"
	    "                           is %d\n\n",
	    prog, prog, MPFS_MAX_THREADS);
}

int mpfs_opts_parse(struct fuse_args *args, struct mpfs_opts *o)
{
	if (fuse_opt_parse(args, o, spec, on_arg) == -1) {
		fprintf(stderr, "mixpeekfs: bad arguments (at most NAMESPACE "
				"and MOUNTPOINT; see --help)\n");
		return -1;
	}
	return 0;
}

/* A whole decimal number in [min, max]; -1 if s is not one. */
static int parse_long(const char *name, const char *s, long min, long max,
		      long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno || v < min || v > max) {
		fprintf(stderr,
			"mixpeekfs: option %s=%s: expected a whole number "
			"from %ld to %ld\n",
			name, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* A size in bytes with an optional K, M or G suffix, in [min, max]. */
static int parse_size(const char *name, const char *s, long min, long max,
		      long *out)
{
	char *end;
	long v, unit = 1;

	errno = 0;
	v = strtol(s, &end, 10);
	if (*end && !end[1]) {
		switch (toupper((unsigned char)*end)) {
		case 'K':
			unit = 1L << 10;
			end++;
			break;
		case 'M':
			unit = 1L << 20;
			end++;
			break;
		case 'G':
			unit = 1L << 30;
			end++;
			break;
		}
	}
	if (!*s || *end || errno || v < 0 || v > max / unit || v * unit < min) {
		fprintf(stderr,
			"mixpeekfs: option %s=%s: expected a size from %ld "
			"to %ld bytes (K, M, G suffixes allowed)\n",
			name, s, min, max);
		return -1;
	}
	*out = v * unit;
	return 0;
}

/* An eighth of the machine's memory, at least 64 MiB and at most 1 GiB:
 * little on a laptop, enough on a server for hundreds of thousands of
 * syncs. */
static long default_cache_size(void)
{
	long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
	long size = pages > 0 && page > 0 ? pages / 8 * page : 0;

	if (size < 64L << 20)
		size = 64L << 20;
	if (size > 1L << 30)
		size = 1L << 30;
	return size;
}

/* An octal mode mask, 0 to 0777. */
static int parse_umask(const char *s, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 8);
	if (!*s || *end || errno || v < 0 || v > 0777) {
		fprintf(stderr,
			"mixpeekfs: option umask=%s: expected an octal mask "
			"from 0 to 0777\n",
			s);
		return -1;
	}
	*out = v;
	return 0;
}

static int out_of_memory(void)
{
	fprintf(stderr, "mixpeekfs: out of memory\n");
	return -1;
}

/* Reads the key from a file: the file holds the key alone. */
static char *read_key_file(const char *path)
{
	char buf[4097];
	ssize_t n;
	size_t len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	char *start, *end, *key;

	struct stat st;

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "mixpeekfs: cannot read key file '%s': %s\n",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	/* Before the mode: a directory's (such as /tmp's 1777) says
	 * nothing of a key. */
	if (S_ISDIR(st.st_mode)) {
		fprintf(stderr, "mixpeekfs: key file '%s' is a directory\n",
			path);
		close(fd);
		return NULL;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		fprintf(stderr,
			"mixpeekfs: key file '%s' is open to group or others "
			"(mode %04o): chmod 600 it\n",
			path, (unsigned)(st.st_mode & 07777));
		close(fd);
		return NULL;
	}
	while (len < sizeof(buf) - 1 &&
	       (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	for (start = buf; isspace((unsigned char)*start); start++)
		;
	for (end = buf + len; end > start && isspace((unsigned char)end[-1]);
	     end--)
		;
	*end = '\0';
	if (!*start) {
		fprintf(stderr, "mixpeekfs: key file '%s' holds no key\n",
			path);
		return NULL;
	}
	key = strdup(start);
	explicit_bzero(buf, sizeof(buf));
	if (!key)
		out_of_memory();
	return key;
}

/* Takes the key from the environment into *key and wipes it there, so
 * that it does not linger in /proc/PID/environ. -1 when out of memory;
 * *key NULL when there is none. */
static int env_key(char **key)
{
	char *value = getenv("MIXPEEK_API_KEY");

	*key = NULL;
	if (!value || !*value)
		return 0;
	*key = strdup(value);
	explicit_bzero(value, strlen(value));
	unsetenv("MIXPEEK_API_KEY");
	return *key ? 0 : out_of_memory();
}

/* The ids of a ':'-separated list into a NULL-terminated array: every one,
 * never fewer. -1 when out of memory; *out NULL when the list has none. */
static int split_buckets(const char *list, char ***out)
{
	size_t n = 1, i = 0;
	char **v, *copy, *save = NULL, *tok;

	*out = NULL;
	for (const char *p = list; *p; p++)
		n += *p == ':';
	v = calloc(n + 1, sizeof(*v));
	copy = strdup(list);
	if (!v || !copy)
		goto nomem;
	for (tok = strtok_r(copy, ":", &save); tok;
	     tok = strtok_r(NULL, ":", &save)) {
		v[i] = strdup(tok);
		if (!v[i])
			goto nomem;
		i++;
	}
	free(copy);
	if (i == 0)
		free(v);
	else
		*out = v;
	return 0;
nomem:
	while (v && i > 0)
		free(v[--i]);
	free(v);
	free(copy);
	return out_of_memory();
}

/* *field, unless given, from the environment or else fallback. -1 when
 * out of memory. */
static int default_str(char **field, const char *env, const char *fallback)
{
	const char *v = env ? getenv(env) : NULL;

	if (*field)
		return 0;
	if (v && *v)
		fallback = v;
	if (!fallback)
		return 0;
	*field = strdup(fallback);
	return *field ? 0 : out_of_memory();
}

int mpfs_opts_check(struct mpfs_opts *o)
{
	if (o->nargs == 2) {
		if (o->namespace) {
			fprintf(stderr, "mixpeekfs: namespace given twice "
					"(argument and -o namespace)\n");
			return -1;
		}
		o->namespace = o->args[0];
		o->args[0] = NULL;
		o->mountpoint = o->args[1];
	} else if (o->nargs == 1) {
		o->mountpoint = o->args[0];
	} else {
		fprintf(stderr,
			"mixpeekfs: %s (usage: mixpeekfs [options] "
			"NAMESPACE MOUNTPOINT)\n",
			o->nargs ? "too many arguments"
				 : "no mountpoint given");
		return -1;
	}
	if (default_str(&o->namespace, "MIXPEEK_NAMESPACE", NULL) ||
	    default_str(&o->api_url, "MIXPEEK_API_URL",
			"https://api.mixpeek.com"))
		return -1;
	if (!o->namespace || !*o->namespace) {
		fprintf(stderr, "mixpeekfs: no namespace: give NAMESPACE, "
				"-o namespace= or MIXPEEK_NAMESPACE\n");
		return -1;
	}
	if (mpfs_url_check(o->api_url, o->allow_http))
		return -1;
	o->ttl_s = 30;
	o->max_requests_n = 8;
	o->stale_s = 300;
	o->timeout_s = 30;
	o->connect_timeout_s = 10;
	o->retries_n = 4;
	o->max_response_n = 64L << 20;
	o->prefetch_n = 64L << 20;
	o->cache_size_n = default_cache_size();
	o->uid_n = o->gid_n = -1;
	if ((o->ttl && parse_long("ttl", o->ttl, 0, 86400 * 365, &o->ttl_s)) ||
	    (o->page_size &&
	     parse_long("page_size", o->page_size, 1, 1000, &o->page_size_n)) ||
	    (o->stale &&
	     parse_long("stale", o->stale, 0, 86400 * 365, &o->stale_s)) ||
	    (o->max_requests && parse_long("max_requests", o->max_requests, 1,
					   64, &o->max_requests_n)) ||
	    (o->timeout &&
	     parse_long("timeout", o->timeout, 1, 3600, &o->timeout_s)) ||
	    (o->connect_timeout &&
	     parse_long("connect_timeout", o->connect_timeout, 1, 3600,
			&o->connect_timeout_s)) ||
	    (o->retries &&
	     parse_long("retries", o->retries, 0, 20, &o->retries_n)) ||
	    (o->max_rps &&
	     parse_long("max_rps", o->max_rps, 0, 100000, &o->max_rps_n)) ||
	    (o->max_response &&
	     parse_size("max_response", o->max_response, 1024, 1L << 30,
			&o->max_response_n)) ||
	    (o->prefetch && parse_size("prefetch", o->prefetch, 0, 1L << 40,
				       &o->prefetch_n)) ||
	    (o->cache_size && parse_size("cache_size", o->cache_size, 1L << 20,
					 1L << 40, &o->cache_size_n)) ||
	    (o->uid && parse_long("uid", o->uid, 0, 0xfffffffe, &o->uid_n)) ||
	    (o->gid && parse_long("gid", o->gid, 0, 0xfffffffe, &o->gid_n)) ||
	    (o->umask && parse_umask(o->umask, &o->umask_n)))
		return -1;
	if (o->buckets) {
		if (split_buckets(o->buckets, &o->bucket_list))
			return -1;
		if (!o->bucket_list) {
			fprintf(stderr, "mixpeekfs: option buckets=: no "
					"bucket id given\n");
			return -1;
		}
	}
	o->log_level_v = MPFS_LOG_INFO;
	if (o->log_level &&
	    mpfs_log_level_parse(o->log_level,
				 (enum mpfs_log_level *)&o->log_level_v)) {
		fprintf(stderr,
			"mixpeekfs: option log_level=%s: expected error, "
			"warn, info or debug\n",
			o->log_level);
		return -1;
	}
	if (o->cacert && access(o->cacert, R_OK) != 0) {
		fprintf(stderr, "mixpeekfs: cannot read cacert '%s': %s\n",
			o->cacert, strerror(errno));
		return -1;
	}
	if (o->api_key_file) {
		char *other;

		o->key = read_key_file(o->api_key_file);
		if (!o->key)
			return -1;
		env_key(&other); /* the file wins; drop the other */
		free(other);
	} else {
		if (env_key(&o->key))
			return -1;
		if (!o->key) {
			fprintf(stderr,
				"mixpeekfs: no API key: set "
				"MIXPEEK_API_KEY or -o api_key_file=\n");
			return -1;
		}
	}
	return 0;
}

void mpfs_opts_release(struct mpfs_opts *o)
{
	char **fields[] = {&o->namespace, &o->api_url,	    &o->api_key_file,
			   &o->ttl,	  &o->page_size,    &o->buckets,
			   &o->timeout,	  &o->cacert,	    &o->retries,
			   &o->max_rps,	  &o->max_response, &o->connect_timeout,
			   &o->log_level, &o->max_requests, &o->stale,
			   &o->prefetch,  &o->uid,	    &o->gid,
			   &o->umask,	  &o->cache_size};

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
		free(*fields[i]);
	for (int i = 0; i < o->nargs; i++)
		free(o->args[i]);
	if (o->bucket_list)
		for (char **b = o->bucket_list; *b; b++)
			free(*b);
	free(o->bucket_list);
	if (o->key) {
		explicit_bzero(o->key, strlen(o->key));
		free(o->key);
	}
}
