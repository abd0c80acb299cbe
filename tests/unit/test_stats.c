/* Counters, endpoints by path, listings in progress, and log levels. */
#include "check.h"
#include "mpfs/log.h"
#include "mpfs/stats.h"

static void test_endpoints(void)
{
	CHECK(mpfs_stats_endpoint_of("POST", "/v1/buckets/list") ==
	      MPFS_EP_BUCKET_LIST);
	CHECK(mpfs_stats_endpoint_of("GET", "/v1/buckets/b1") ==
	      MPFS_EP_BUCKET_GET);
	/* a bucket whose id is "list" is still a GET of a bucket */
	CHECK(mpfs_stats_endpoint_of("GET", "/v1/buckets/list") ==
	      MPFS_EP_BUCKET_GET);
	CHECK(mpfs_stats_endpoint_of(
		  "POST", "/v1/buckets/b%2F1/syncs/list?limit=10&offset=0") ==
	      MPFS_EP_SYNC_LIST);
	CHECK(mpfs_stats_endpoint_of("GET", "/v1/buckets/b1/syncs/s1") ==
	      MPFS_EP_SYNC_GET);
	CHECK(
	    mpfs_stats_endpoint_of("GET", "/v1/organizations/connections/c1") ==
	    MPFS_EP_CONNECTION_GET);
	CHECK(mpfs_stats_endpoint_of("POST",
				     "/v1/organizations/connections/list") ==
	      MPFS_EP_CONNECTION_LIST);
	CHECK(mpfs_stats_endpoint_of("GET", "/v2/x") == MPFS_EP_OTHER);
	CHECK(mpfs_stats_endpoint_of("GET", "/v1/buckets/a/b/c/d/e") ==
	      MPFS_EP_OTHER);
}

static long long num(json_t *root, const char *a, const char *b)
{
	return json_integer_value(json_object_get(json_object_get(root, a), b));
}

static void test_counters(void)
{
	struct mpfs_stats_listing sl = {0};
	json_t *s, *list;

	mpfs_stats_reset();
	mpfs_stats_request("POST", "/v1/buckets/b1/syncs/list?limit=1");
	mpfs_stats_request("POST", "/v1/buckets/b1/syncs/list?limit=1");
	mpfs_stats_request("GET", "/v1/buckets/b1");
	mpfs_stats_retry();
	mpfs_stats_error(MPFS_E_SERVER);
	mpfs_stats_bytes(1000);
	mpfs_stats_cache(1);
	mpfs_stats_cache(0);
	mpfs_stats_cache(0);
	mpfs_stats_op(MPFS_OP_READ);
	mpfs_stats_push(1234);
	mpfs_stats_listing_fetch(&sl, "/b1/all");
	mpfs_stats_listing_page(&sl, 1, 100, 250);
	mpfs_stats_listing_fetch(&sl, "/ignored/the/second/time");
	s = mpfs_stats_json();
	CHECK(num(s, "requests", "sync_list") == 2);
	CHECK(num(s, "requests", "bucket_get") == 1);
	CHECK(num(s, "requests", "total") == 3);
	/* all within the last minute */
	CHECK(num(s, "requests_last_minute", "sync_list") == 2);
	CHECK(num(s, "requests_last_minute", "total") == 3);
	CHECK(json_integer_value(json_object_get(s, "retries")) == 1);
	CHECK(num(s, "ops", "read") == 1 && num(s, "ops", "lookup") == 0);
	CHECK(num(s, "push", "files") == 1 && num(s, "push", "bytes") == 1234);
	CHECK(num(s, "errors", "server") == 1 &&
	      num(s, "errors", "total") == 1);
	CHECK(json_integer_value(json_object_get(s, "bytes_received")) == 1000);
	CHECK(num(s, "cache", "hits") == 1 && num(s, "cache", "misses") == 2);
	list = json_object_get(s, "listings_in_progress");
	CHECK(json_array_size(list) == 1);
	CHECK_STR(
	    json_string_value(json_object_get(json_array_get(list, 0), "path")),
	    "/b1/all");
	CHECK(json_integer_value(
		  json_object_get(json_array_get(list, 0), "pages_done")) == 1);
	CHECK(json_integer_value(
		  json_object_get(json_array_get(list, 0), "total")) == 250);
	CHECK(
	    json_is_true(json_object_get(json_array_get(list, 0), "fetching")));
	json_decref(s);

	/* the end takes it off, for good: a page fetched late does not
	 * bring it back */
	mpfs_stats_listing_page(&sl, 1, 150, 250);
	mpfs_stats_listing_end(&sl);
	s = mpfs_stats_json();
	CHECK(json_array_size(json_object_get(s, "listings_in_progress")) == 0);
	json_decref(s);
	mpfs_stats_listing_fetch(&sl, "/b1/all");
	mpfs_stats_listing_end(&sl);
	mpfs_stats_listing_end(&sl); /* twice is harmless */
	s = mpfs_stats_json();
	CHECK(json_array_size(json_object_get(s, "listings_in_progress")) == 0);
	json_decref(s);
}

static void test_log_levels(void)
{
	enum mpfs_log_level l;

	CHECK(mpfs_log_level_parse("debug", &l) == 0 && l == MPFS_LOG_DEBUG);
	CHECK(mpfs_log_level_parse("warn", &l) == 0 && l == MPFS_LOG_WARN);
	CHECK(mpfs_log_level_parse("verbose", &l) < 0);
	mpfs_log_init(0, MPFS_LOG_ERROR);
	CHECK(!mpfs_log_enabled(MPFS_LOG_WARN));
	CHECK(mpfs_log_step() == MPFS_LOG_WARN);
	CHECK(mpfs_log_step() == MPFS_LOG_INFO);
	CHECK(mpfs_log_step() == MPFS_LOG_DEBUG);
	CHECK(mpfs_log_enabled(MPFS_LOG_DEBUG));
	CHECK(mpfs_log_step() == MPFS_LOG_ERROR);
	CHECK_STR(mpfs_log_level_name(MPFS_LOG_INFO), "info");
}

/* A copy of the figures is kept only if nothing changed since its reader
 * armed: of two readers at once, the one that armed first must not keep
 * figures older than the other's. */
static void test_generation(void)
{
	unsigned long first = mpfs_stats_arm(), second;

	CHECK(mpfs_stats_unchanged(first));
	mpfs_stats_cache(1);
	second = mpfs_stats_arm();
	CHECK(!mpfs_stats_unchanged(first));
	CHECK(mpfs_stats_unchanged(second));
	mpfs_stats_cache(0);
	CHECK(!mpfs_stats_unchanged(second));
}

int main(void)
{
	test_endpoints();
	test_counters();
	test_log_levels();
	test_generation();
	return check_done();
}
