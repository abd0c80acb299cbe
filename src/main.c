/* main.c - the mount sequence: options, the key, one request to check key
 * and namespace, then mount, daemonize and serve. The check comes before
 * fuse_session_mount, so a bad key or namespace leaves nothing mounted. */
#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <jansson.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "mpfs/api.h"
#include "mpfs/arena.h"
#include "mpfs/core.h"
#include "mpfs/fs.h"
#include "mpfs/http.h"
#include "mpfs/log.h"
#include "mpfs/opts.h"
#include "mpfs/sig.h"
#include "mpfs/slab.h"

/* Address space for one page's parse tree: a page of 1,000 syncs takes
 * 6 to 13 MiB; a larger one goes on with malloc. */
#define ARENA_SIZE (64UL << 20)

#define STR_(x) #x
#define STR(x)	STR_(x)

#ifndef MPFS_VERSION
#define MPFS_VERSION "unknown"
#endif

/* One line on stderr for a failed mount-time check. */
static void probe_failed(const struct mpfs_opts *o, const char *bucket,
			 const struct mpfs_err *err)
{
	switch (err->kind) {
	case MPFS_E_AUTH:
		fprintf(stderr,
			"mixpeekfs: the API at %s rejected the key (http %ld): "
			"%s\n",
			o->api_url, err->http_status, err->msg);
		break;
	case MPFS_E_NOT_FOUND:
		if (bucket)
			fprintf(stderr,
				"mixpeekfs: no bucket '%s' in namespace '%s': "
				"%s\n",
				bucket, o->namespace, err->msg);
		else
			fprintf(stderr,
				"mixpeekfs: namespace '%s' not found: %s\n",
				o->namespace, err->msg);
		break;
	case MPFS_E_TRANSPORT:
		if (mpfs_http_no_tls(err))
			fprintf(
			    stderr,
			    "mixpeekfs: TLS handshake failed: the server at "
			    "%s does not speak TLS (is it http://?)\n",
			    o->api_url);
		else if (mpfs_http_tls_failure(err->curl_code))
			fprintf(stderr,
				"mixpeekfs: TLS: the certificate of %s does "
				"not verify: %s (give its CA with -o "
				"cacert=PATH)\n",
				o->api_url, err->msg);
		else
			fprintf(stderr,
				"mixpeekfs: cannot reach the API at %s: %s\n",
				o->api_url, err->msg);
		break;
	default:
		fprintf(stderr, "mixpeekfs: %s %s failed%s%.0ld: %s\n",
			o->api_url, err->op,
			err->http_status ? " with http " : "", err->http_status,
			err->msg);
		break;
	}
}

/* The one request at mount: a bucket list of one, or each named bucket
 * (each told to the core: nothing else shows it a bucket's created_at). */
static int probe(struct mpfs_api *api, struct mpfs_core *core,
		 const struct mpfs_opts *o)
{
	struct mpfs_page_req req = {.limit = 1, .offset = 0};
	struct mpfs_page page = {0};
	struct mpfs_err err;
	json_t *json;

	mpfs_err_clear(&err);
	if (!o->bucket_list) {
		if (mpfs_api_list_buckets(api, &req, &page, &err)) {
			probe_failed(o, NULL, &err);
			return -1;
		}
		mpfs_page_release(&page);
		return 0;
	}
	for (char **b = o->bucket_list; *b; b++) {
		if (mpfs_api_get_bucket(api, *b, &json, &err)) {
			probe_failed(o, *b, &err);
			return -1;
		}
		mpfs_core_bucket_seen(core, json);
		json_decref(json);
	}
	return 0;
}

static void print_version(void)
{
	printf("mixpeekfs %s\nlibfuse %s\n%s\njansson %s\n", MPFS_VERSION,
	       fuse_pkgversion(), curl_version(), jansson_version_str());
}

/* Adds -o fsname=mixpeek:NS,subtype=mixpeekfs,ro,default_permissions. */
static int add_mount_opts(struct fuse_args *args, const char *ns)
{
	char *opts = NULL, fsname[512];
	int r;

	snprintf(fsname, sizeof(fsname), "fsname=mixpeek:%s", ns);
	r = fuse_opt_add_opt_escaped(&opts, fsname) ||
	    fuse_opt_add_opt(&opts,
			     "subtype=mixpeekfs,ro,default_permissions") ||
	    fuse_opt_add_arg(args, "-o") || fuse_opt_add_arg(args, opts);
	free(opts);
	return r ? -1 : 0;
}

/* A mountpoint that is not a directory would mount, and then every
 * access would fail: refused here, with the reason. */
static int check_mountpoint(const char *path)
{
	struct stat st;

	if (stat(path, &st) == 0 && !S_ISDIR(st.st_mode)) {
		fprintf(stderr,
			"mixpeekfs: mountpoint '%s' is not a directory\n",
			path);
		return -1;
	}
	return 0; /* or fuse_session_mount says what is wrong */
}

static int loop(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	struct fuse_loop_config *cfg;
	int r;

	if (cmd->singlethread)
		return fuse_session_loop(se);
	cfg = fuse_loop_cfg_create();
	if (!cfg)
		return -1;
	fuse_loop_cfg_set_clone_fd(cfg, (unsigned int)cmd->clone_fd);
	fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
	/* UINT_MAX: not given, libfuse's default stands */
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	r = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r;
}

static int serve(struct fuse_args *args, struct mpfs_opts *o,
		 struct fuse_cmdline_opts *cmd)
{
	struct mpfs_api_cfg acfg = {
	    .base_url = o->api_url,
	    .key = o->key,
	    .namespace = o->namespace,
	    .timeout = o->timeout_s,
	    .connect_timeout = o->connect_timeout_s,
	    .cacert = o->cacert,
	    .retries = (int)o->retries_n,
	    .max_rps = (double)o->max_rps_n,
	    .max_body = (size_t)o->max_response_n,
	    .cancelled = mpfs_fs_interrupted,
	    .started = mpfs_fs_started,
	    .max_requests = (int)o->max_requests_n,
	};
	struct mpfs_core_cfg ccfg = {
	    .ttl = (double)o->ttl_s,
	    .stale = (double)o->stale_s,
	    .page_size = o->page_size_n,
	    .max_requests = (int)o->max_requests_n,
	    .buckets = o->bucket_list,
	    .uid = o->uid_n >= 0 ? (uid_t)o->uid_n : getuid(),
	    .gid = o->gid_n >= 0 ? (gid_t)o->gid_n : getgid(),
	    .umask = (mode_t)o->umask_n,
	    .prefetch = o->prefetch_n,
	    .cache_size = (size_t)o->cache_size_n,
	    .mount_time = time(NULL),
	};
	struct mpfs_fs fs = {.ttl = (double)o->ttl_s,
			     .failed_lock = PTHREAD_MUTEX_INITIALIZER,
			     .handles.lock = PTHREAD_MUTEX_INITIALIZER};
	struct mpfs_api *api;
	struct fuse_session *se;
	struct mpfs_err err;
	size_t n;
	int r = 1;

	mpfs_err_clear(&err);
	api = mpfs_api_new(&acfg, &err);
	explicit_bzero(o->key, strlen(o->key));
	if (!api) {
		fprintf(stderr,
			"mixpeekfs: cannot set up the HTTP client: %s\n",
			err.msg);
		return 1;
	}
	/* The key now lives in the client's headers only. */
	fs.core = mpfs_core_new(api, &ccfg);
	if (!fs.core) {
		fprintf(stderr, "mixpeekfs: out of memory\n");
		return 1;
	}
	if (add_mount_opts(args, o->namespace)) {
		fprintf(stderr, "mixpeekfs: out of memory\n");
		goto out_core;
	}
	se = fuse_session_new(args, &mpfs_fs_ops, sizeof(mpfs_fs_ops), &fs);
	if (!se)
		goto out_core; /* libfuse said why: an unknown option */
	fs.se = se;
	if (check_mountpoint(cmd->mountpoint) || probe(api, fs.core, o))
		goto out_session;
	if (fuse_session_mount(se, cmd->mountpoint))
		goto out_session;
	if (fuse_daemonize(cmd->foreground))
		goto out_unmount;
	mpfs_log_init(!cmd->foreground, (enum mpfs_log_level)o->log_level_v);
	if (fuse_set_signal_handlers(se))
		goto out_unmount;
	if (mpfs_sig_install(se)) /* after libfuse's, which it replaces */
		goto out_signals;
	r = loop(se, cmd) ? 1 : 0;
	/* Unmounted, or stopped by a signal: what is in flight gives up. */
	mpfs_fs_stop();
	/* The loop reset the session; marked ended again, a notification
	 * still under way fails quietly. None follows. */
	fuse_session_exit(se);
	mpfs_core_stop(fs.core);
	/* The kernel dropped the releases it had not sent. */
	if ((n = mpfs_handles_release(&fs.handles, fs.core)))
		mpfs_log(MPFS_LOG_DEBUG,
			 "unmount: %zu handles the kernel never released, "
			 "let go",
			 n);
	mpfs_sig_stop();
out_signals:
	fuse_remove_signal_handlers(se);
out_unmount:
	fuse_session_unmount(se);
out_session:
	/* Before the session goes: the core's threads notify through it. */
	mpfs_core_free(fs.core);
	fs.core = NULL;
	fuse_session_destroy(se);
	return r;
out_core:
	mpfs_core_free(fs.core);
	return r;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd = {0};
	struct mpfs_opts o = {0};
	long cores;
	int r = 1;

	/* Page bodies (up to megabytes) are mapped and unmapped whole, never
	 * left behind in malloc's heap; the parse trees of pages, many times
	 * their size, live in slots of their own, one per core (arena.h). */
	mallopt(M_MMAP_THRESHOLD, 256 << 10);
	cores = sysconf(_SC_NPROCESSORS_ONLN);
	if (mpfs_arenas_init(cores > 1 ? (int)cores : 1, ARENA_SIZE))
		fprintf(stderr, "mixpeekfs: no memory for parsing: pages are "
				"parsed with malloc\n");

	if (mpfs_opts_parse(&args, &o))
		goto out;
	if (o.show_help || o.show_version) {
		if (o.show_help) {
			mpfs_opts_usage(argv[0]);
			printf("FUSE options:\n");
			fuse_cmdline_help();
			fuse_lowlevel_help();
		} else {
			print_version();
		}
		r = 0;
		goto out;
	}
	if (mpfs_opts_check(&o))
		goto out;
	/* Our default for libfuse's max_threads (its own is 10), first, so
	 * that one given on the command line wins. A request that waits for
	 * a page another thread fetches holds its thread for up to that
	 * fetch; with 10, ten readers of one slow page left every other
	 * call, one that needs no API call included, in the kernel's queue
	 * behind it. */
	if (fuse_opt_insert_arg(&args, 1,
				"-omax_threads=" STR(MPFS_MAX_THREADS)) ||
	    fuse_opt_add_arg(&args, o.mountpoint) ||
	    fuse_parse_cmdline(&args, &cmd) || !cmd.mountpoint)
		goto out;
	if (mpfs_http_global_init()) {
		fprintf(stderr, "mixpeekfs: cannot initialise libcurl\n");
		goto out;
	}
	mpfs_log_init(0, (enum mpfs_log_level)o.log_level_v);
	r = serve(&args, &o, &cmd);
	/* Every object is gone with the caches: blocks left are a leak, which
	 * neither valgrind nor AddressSanitizer see in memory mapped apart. */
	mpfs_slab_trim();
	if (mpfs_slab_bytes())
		fprintf(stderr,
			"mixpeekfs: warning: %zu bytes of objects were "
			"never freed\n",
			mpfs_slab_bytes());
	mpfs_http_global_cleanup();
out:
	free(cmd.mountpoint);
	mpfs_opts_release(&o);
	fuse_opt_free_args(&args);
	mpfs_arenas_cleanup();
	return r;
}
