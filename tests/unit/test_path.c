/* Paths to nodes, and the %-encoding of names. */
#include <string.h>

#include "check.h"
#include "mpfs/path.h"

static void test_parse(void)
{
	struct mpfs_node n;

	CHECK(mpfs_path_parse("/", &n) == 0 && n.type == MPFS_NODE_ROOT);
	CHECK(mpfs_path_parse("/b1", &n) == 0 && n.type == MPFS_NODE_BUCKET);
	CHECK_STR(n.bucket, "b1");
	CHECK(mpfs_path_parse("/b1/all", &n) == 0 && n.type == MPFS_NODE_VIEW &&
	      n.filter.kind == MPFS_FILTER_ALL);
	CHECK(mpfs_path_parse("/b1/active", &n) == 0 &&
	      n.filter.kind == MPFS_FILTER_ACTIVE);
	CHECK(mpfs_path_parse("/b1/inactive", &n) == 0 &&
	      n.filter.kind == MPFS_FILTER_INACTIVE);
	CHECK(mpfs_path_parse("/b1/by-status", &n) == 0 &&
	      n.type == MPFS_NODE_STATUSES);
	CHECK(mpfs_path_parse("/b1/by-connection", &n) == 0 &&
	      n.type == MPFS_NODE_CONNS);
	CHECK(mpfs_path_parse("/b1/by-status/failed", &n) == 0 &&
	      n.type == MPFS_NODE_VIEW && n.filter.kind == MPFS_FILTER_STATUS);
	CHECK_STR(n.filter.value, "failed");
	CHECK(mpfs_path_parse("/b1/by-connection/conn%2Fodd", &n) == 0 &&
	      n.filter.kind == MPFS_FILTER_CONNECTION);
	CHECK_STR(n.filter.value, "conn/odd");
	CHECK(mpfs_path_parse("/b1/by-connection/conn_x/s1.json", &n) == 0 &&
	      n.type == MPFS_NODE_SYNC);
	CHECK_STR(n.sync_id, "s1");
	CHECK(mpfs_path_parse("/b%2Fx/all/100%25done.json", &n) == 0 &&
	      n.type == MPFS_NODE_SYNC);
	CHECK_STR(n.bucket, "b/x");
	CHECK_STR(n.sync_id, "100%done");
	CHECK(mpfs_path_parse("/b1/all/%2E%2E.json", &n) == 0);
	CHECK_STR(n.sync_id, "..");

	CHECK(mpfs_path_parse("/b1/nope", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/s1", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/.json", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/s1.json/x", &n) < 0);
	CHECK(mpfs_path_parse("/b1/by-status/failed/s.json/x", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/a%2fb.json", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/%41.json", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/a%2.json", &n) < 0);
	CHECK(mpfs_path_parse("/b1/all/a%00b.json", &n) < 0);
	CHECK(mpfs_path_parse("relative", &n) < 0);
}

static void test_escape(void)
{
	static const char *const ids[] = {
	    "sync_1",
	    "sync/with/slash",
	    "100%done",
	    ".",
	    "..",
	    "...",
	    "tab\there",
	    ("del\x7f"
	     "char"), /* split: \x7fc would be one escape */
	    "nl\nname",
	    "ünïcödé",
	    "a.json",
	    "%",
	    "%2F",
	};
	static const char *const names[] = {
	    "sync_1",	  "sync%2Fwith%2Fslash",
	    "100%25done", "%2E",
	    "%2E%2E",	  "...",
	    "tab%09here", "del%7Fchar",
	    "nl%0Aname",  "ünïcödé",
	    "a.json",	  "%25",
	    "%252F",
	};
	char name[256], back[256];

	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		size_t n = mpfs_name_encode(ids[i], name, sizeof(name));

		CHECK(n == strlen(names[i]));
		CHECK_STR(name, names[i]);
		CHECK(mpfs_name_decode(name, back, sizeof(back)) == 0);
		CHECK_STR(back, ids[i]);
	}
	/* The length is reported even when the buffer is short. */
	CHECK(mpfs_name_encode("a/b", name, 2) == 5 && strcmp(name, "a") == 0);
	CHECK(mpfs_name_decode("", back, sizeof(back)) < 0);
}

/* Names past NAME_MAX: a prefix, "%~", the id's hash, the suffix. */
static void test_file_names(void)
{
	char id[1025], other[1025], name[256], name2[256];

	CHECK(mpfs_file_name("a/b", ".json", name, sizeof(name)) == 10);
	CHECK_STR(name, "a%2Fb.json");
	memset(id, 's', 250);
	id[250] = '\0';
	CHECK(mpfs_file_name(id, ".json", name, sizeof(name)) == 255);
	CHECK(strstr(name, "%~") == NULL); /* 255 bytes fit */
	strcat(id, "s");
	CHECK(mpfs_file_name(id, ".json", name, sizeof(name)) == 255);
	CHECK(mpfs_name_is_short(name));
	CHECK(strncmp(name, id, 232) == 0 && strcmp(name + 250, ".json") == 0);
	/* stable, and unique: ids that share the prefix differ by hash */
	CHECK(mpfs_file_name(id, ".json", name2, sizeof(name2)) == 255);
	CHECK_STR(name, name2);
	snprintf(other, sizeof(other), "%s", id);
	other[250] = 't';
	mpfs_file_name(other, ".json", name2, sizeof(name2));
	CHECK(strcmp(name, name2) != 0 && strncmp(name, name2, 234) == 0);
	/* never a %XX or a UTF-8 character cut */
	memset(id, '%', 100);
	id[100] = '\0';
	CHECK(mpfs_file_name(id, ".json", name, sizeof(name)) <= 255);
	CHECK(strchr(name, '~') - name == 232); /* 77 whole %25 */
	for (int i = 0; i < 200; i++)
		memcpy(id + 2 * i, "\xc3\xa9", 2);
	id[400] = '\0';
	CHECK(mpfs_file_name(id, "", name, sizeof(name)) <= 255);
	CHECK((strstr(name, "%~") - name) % 2 == 0);
	/* a short form decodes as no id */
	CHECK(mpfs_name_decode(name, id, sizeof(id)) < 0);
	CHECK(!mpfs_name_is_short("a%7Eb"));
}

static void test_status_value(void)
{
	char v[64];

	mpfs_status_api_value("failed", v, sizeof(v));
	CHECK_STR(v, "FAILED");
	mpfs_status_api_value("completed_with_errors", v, sizeof(v));
	CHECK_STR(v, "COMPLETED_WITH_ERRORS");
	mpfs_status_api_value("paused", v, sizeof(v));
	CHECK_STR(v, "PAUSED");
	mpfs_status_api_value("fAiLeD", v, sizeof(v));
	CHECK_STR(v, "FAILED");
	mpfs_status_name("Completed_With_ERRORS", v, sizeof(v));
	CHECK_STR(v, "completed_with_errors");
	CHECK(mpfs_statuses_count == 13);
}

static void test_own_nodes(void)
{
	struct mpfs_node n;

	CHECK(mpfs_path_parse("/.mixpeekfs", &n) == 0 &&
	      n.type == MPFS_NODE_META);
	CHECK(mpfs_path_parse("/.mixpeekfs/stats.json", &n) == 0 &&
	      n.type == MPFS_NODE_STATS);
	CHECK(mpfs_path_parse("/.mixpeekfs/other", &n) < 0);
	CHECK(mpfs_path_parse("/.mixpeekfs/stats.json/x", &n) < 0);
	CHECK(mpfs_path_parse("/b1/bucket.json", &n) == 0 &&
	      n.type == MPFS_NODE_BUCKET_JSON);
	CHECK_STR(n.bucket, "b1");
	CHECK(mpfs_path_parse("/b1/bucket.json/x", &n) < 0);
	CHECK(mpfs_path_parse("/b1/counts.json", &n) == 0 &&
	      n.type == MPFS_NODE_COUNTS && mpfs_node_is_file(n.type));
	CHECK_STR(n.bucket, "b1");
	CHECK(mpfs_path_parse("/b1/counts.json/x", &n) < 0);
	/* a name at the root is a bucket node: core decides if it links */
	CHECK(mpfs_path_parse("/marketing-assets", &n) == 0 &&
	      n.type == MPFS_NODE_BUCKET);
}

/* mpfs_view_path writes what mpfs_path_parse reads, ids %-encoded. */
static void test_view_path(void)
{
	const char *paths[] = {
	    "/b1/all",
	    "/b1/active",
	    "/b1/inactive",
	    "/b1/by-status/failed",
	    "/b%2F1/by-connection/c%2Fx%25",
	    "/b1/by-status/Paused",
	};
	struct mpfs_node n;
	char out[1024];

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		CHECK(mpfs_path_parse(paths[i], &n) == 0 &&
		      n.type == MPFS_NODE_VIEW);
		mpfs_view_path(&n, out, sizeof(out));
		CHECK_STR(out, paths[i]);
		/* a sync's node names the view it is in */
		snprintf(out, sizeof(out), "%s/s1.json", paths[i]);
		CHECK(mpfs_path_parse(out, &n) == 0 &&
		      n.type == MPFS_NODE_SYNC);
		mpfs_view_path(&n, out, sizeof(out));
		CHECK_STR(out, paths[i]);
	}
}

static unsigned long long ino_of(const char *path)
{
	struct mpfs_node n;

	return mpfs_path_parse(path, &n) == 0 ? mpfs_node_ino(&n) : 0;
}

static void test_inodes(void)
{
	const char *dirs[] = {"/b1",
			      "/b1/all",
			      "/b1/active",
			      "/b1/inactive",
			      "/b1/by-status",
			      "/b1/by-connection",
			      "/b1/by-status/failed",
			      "/b1/by-connection/failed",
			      "/b1/bucket.json",
			      "/b1/counts.json",
			      "/b2",
			      "/b2/all",
			      "/.mixpeekfs",
			      "/.mixpeekfs/stats.json",
			      "/b1/all/s1.json",
			      "/b2/all/s1.json",
			      "/b1/all/s2.json"};
	size_t n = sizeof(dirs) / sizeof(dirs[0]);

	CHECK(ino_of("/") == 1);
	/* the same sync in every view, the same number */
	CHECK(ino_of("/b1/all/s1.json") == ino_of("/b1/active/s1.json"));
	CHECK(ino_of("/b1/all/s1.json") ==
	      ino_of("/b1/by-status/failed/s1.json"));
	CHECK(ino_of("/b1/all/s1.json") ==
	      ino_of("/b1/by-connection/c%2Fx/s1.json"));
	CHECK(ino_of("/b1/all/s1.json") == mpfs_sync_ino("b1", "s1"));
	/* the parts are kept apart: ("ab", "c") is not ("a", "bc") */
	CHECK(mpfs_sync_ino("ab", "c") != mpfs_sync_ino("a", "bc"));
	/* known values, so a change of hash shows (inodes must not move) */
	CHECK(mpfs_sync_ino("b1", "s1") == 0xc0115cf0f1284d33ULL);
	for (size_t i = 0; i < n; i++) {
		CHECK(ino_of(dirs[i]) > 1 && ino_of(dirs[i]) != 0xffffffffULL);
		for (size_t j = i + 1; j < n; j++)
			CHECK(ino_of(dirs[i]) != ino_of(dirs[j]));
	}
	CHECK(ino_of("//b1//all/") == ino_of("/b1/all"));
	/* directories keep their numbers too */
	CHECK(ino_of("/b1/by-status/failed") == 0xddf8a30a1b43433eULL);
	CHECK(ino_of("/b1/by-connection/c%2Fx") == 0x58de223f0937b176ULL);
	CHECK(ino_of("/.mixpeekfs/stats.json") == 0x84db807b5028935ULL);
	/* where/: one sync, one inode; each spelling of a filter its own
	 * directory (a directory has one name) */
	CHECK(ino_of("/b1/where/status=failed/s1.json") ==
	      mpfs_sync_ino("b1", "s1"));
	CHECK(ino_of("/b1/where/status=failed,is_active=true") !=
	      ino_of("/b1/where/is_active=true,status=failed"));
	CHECK(ino_of("/b1/where") > 1 &&
	      ino_of("/b1/where") != ino_of("/b1/where/status=failed"));
}

static void test_where(void)
{
	struct mpfs_filter f;
	struct mpfs_terms t;
	struct mpfs_node n;
	const char *why = NULL;
	char name[256];
	static const char *const bad[][2] = {
	    {"", "empty pair"},
	    {"status=failed,", "empty pair"},
	    {",status=failed", "empty pair"},
	    {"status=failed,,is_active=true", "empty pair"},
	    {"status", "not key=value"},
	    {"status=", "not key=value"},
	    {"=failed", "not key=value"},
	    {"color=red", "unknown key"},
	    {"status=failed,status=completed", "given twice"},
	    {"is_active=true,is_active=true", "given twice"},
	    {"is_active=yes", "neither true nor false"},
	    {"connection_id=a%2x", "not %-encoded"},
	    {"connection_id=a%2c", "not %-encoded"}, /* upper-case hex */
	    {"connection_id=%61", "not %-encoded"},  /* one name a value */
	};

	CHECK(mpfs_where_parse("status=failed,connection_id=conn%2C1%3Dx,"
			       "is_active=false",
			       &f, &why) == 0);
	CHECK(f.kind == MPFS_FILTER_WHERE);
	mpfs_filter_terms(&f, &t);
	CHECK_STR(t.status, "failed");
	CHECK_STR(t.conn, "conn,1=x");
	CHECK(t.is_active == 0);
	/* the canonical name: keys in one order, values encoded again */
	mpfs_where_name(&t, name, sizeof(name));
	CHECK_STR(name, "connection_id=conn%2C1%3Dx,is_active=false,"
			"status=failed");
	CHECK(mpfs_where_parse("is_active=true", &f, &why) == 0);
	mpfs_filter_terms(&f, &t);
	CHECK(!t.status && !t.conn && t.is_active == 1);
	mpfs_where_name(&t, name, sizeof(name));
	CHECK_STR(name, "is_active=true");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		CHECK(mpfs_where_parse(bad[i][0], &f, &why) == -1 && why &&
		      strstr(why, bad[i][1]));
		if (!why || !strstr(why, bad[i][1]))
			printf("#   '%s': %s\n", bad[i][0], why ? why : "-");
	}
	/* in paths */
	CHECK(mpfs_path_parse("/b1/where", &n) == 0 &&
	      n.type == MPFS_NODE_WHERE);
	CHECK(mpfs_path_parse("/b1/where/status=failed", &n) == 0 &&
	      n.type == MPFS_NODE_VIEW && n.filter.kind == MPFS_FILTER_WHERE);
	CHECK_STR(n.filter.value, "status=failed");
	CHECK(mpfs_path_parse("/b1/where/status=x/s1.json", &n) == 0 &&
	      n.type == MPFS_NODE_SYNC);
	CHECK(mpfs_path_parse("/b1/where/bogus", &n) < 0);
	mpfs_node_path(&n, name, sizeof(name));
	CHECK(mpfs_path_parse("/b1/where/status=x,is_active=true/s1.json",
			      &n) == 0);
	mpfs_node_path(&n, name, sizeof(name));
	CHECK_STR(name, "/b1/where/status=x,is_active=true/s1.json");
	/* the other views' terms */
	CHECK(mpfs_path_parse("/b1/inactive", &n) == 0);
	mpfs_filter_terms(&n.filter, &t);
	CHECK(!t.status && !t.conn && t.is_active == 0);
	CHECK(mpfs_path_parse("/b1/by-connection/c%2Fx", &n) == 0);
	mpfs_filter_terms(&n.filter, &t);
	CHECK(!t.status && t.conn && strcmp(t.conn, "c/x") == 0);
}

int main(void)
{
	test_parse();
	test_own_nodes();
	test_view_path();
	test_inodes();
	test_where();
	test_escape();
	test_file_names();
	test_status_value();
	return check_done();
}
