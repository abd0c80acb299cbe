/* The API client's breakers under a fake clock: which bucket a path's
 * breaker is, and what a try's outcome tells the bucket's and the
 * client's. */
#include "check.h"
#include "mpfs/breakers.h"

static double now = 1000;

static double fake_now(void *ctx)
{
	(void)ctx;
	return now;
}

static int fake_sleep(void *ctx, double s)
{
	(void)ctx;
	now += s;
	return 0;
}

static const struct mpfs_clock fake = {fake_now, fake_sleep, NULL};

static struct mpfs_breakers *make(void)
{
	struct mpfs_retry_cfg cfg = {
	    .retries = 3,
	    .base_delay = 0.1,
	    .max_delay = 5,
	    .breaker_after = 2,
	    .breaker_open = 1,
	    .breaker_max = 4,
	    .clock = &fake,
	    .seed = 42,
	};

	return mpfs_breakers_new(&cfg);
}

/* One try through both breakers, with the outcome and err given. */
static int try_one(struct mpfs_breakers *b, struct mpfs_retry *bucket,
		   enum mpfs_try outcome, const struct mpfs_err *err)
{
	struct mpfs_err gate;

	if (mpfs_breakers_admit(b, bucket, 1e9, &gate))
		return -1;
	mpfs_breakers_tried(b, bucket, outcome, err);
	return 0;
}

static void test_which(void)
{
	struct mpfs_breakers *b = make();
	struct mpfs_retry *b1 =
	    mpfs_breakers_of(b, "/v1/buckets/b1/syncs/list");

	CHECK(b1 != NULL);
	CHECK(mpfs_breakers_of(b, "/v1/buckets/b1") == b1);
	CHECK(mpfs_breakers_of(b, "/v1/buckets/b1?x=1") == b1);
	CHECK(mpfs_breakers_of(b, "/v1/buckets/b2/syncs/list") != b1);
	/* The routes of no bucket share one. */
	CHECK(mpfs_breakers_of(b, "/v1/buckets/list") ==
	      mpfs_breakers_of(b, "/v1/organizations/connections/list"));
	CHECK(mpfs_breakers_of(b, "/v1/buckets/list") != b1);
	CHECK(mpfs_breakers_client(b) != b1);
	mpfs_breakers_free(b);
}

static void test_bucket_5xx(void)
{
	struct mpfs_breakers *b = make();
	struct mpfs_retry *b1 = mpfs_breakers_of(b, "/v1/buckets/b1");
	struct mpfs_retry *b2 = mpfs_breakers_of(b, "/v1/buckets/b2");
	struct mpfs_err e503 = {.kind = MPFS_E_SERVER, .http_status = 503};

	/* b1's 5xx open b1's breaker, not b2's nor the client's. */
	CHECK(try_one(b, b1, MPFS_TRY_FAILED, &e503) == 0);
	CHECK(try_one(b, b1, MPFS_TRY_FAILED, &e503) == 0);
	CHECK(try_one(b, b1, MPFS_TRY_OK, NULL) < 0);
	CHECK(try_one(b, b2, MPFS_TRY_OK, NULL) == 0);
	CHECK(try_one(b, NULL, MPFS_TRY_OK, NULL) == 0);
	/* After its open time, b1 takes a probe again. */
	now += 1.5;
	CHECK(try_one(b, b1, MPFS_TRY_OK, NULL) == 0);
	CHECK(try_one(b, b1, MPFS_TRY_OK, NULL) == 0);
	mpfs_breakers_free(b);
}

static void test_no_answer(void)
{
	struct mpfs_breakers *b = make();
	struct mpfs_retry *b1 = mpfs_breakers_of(b, "/v1/buckets/b1");
	struct mpfs_retry *b2 = mpfs_breakers_of(b, "/v1/buckets/b2");
	struct mpfs_err reset = {.kind = MPFS_E_TRANSPORT};

	/* No answer at all opens the client's: every bucket waits. */
	CHECK(try_one(b, b1, MPFS_TRY_FAILED, &reset) == 0);
	CHECK(try_one(b, b1, MPFS_TRY_FAILED, &reset) == 0);
	CHECK(try_one(b, b2, MPFS_TRY_OK, NULL) < 0);
	CHECK(try_one(b, NULL, MPFS_TRY_OK, NULL) < 0);
	/* ...and told b1 nothing: once the client's closes, b1 is open to
	 * tries (a refused try left it no news either). */
	now += 1.5;
	CHECK(try_one(b, b1, MPFS_TRY_OK, NULL) == 0);
	CHECK(try_one(b, b1, MPFS_TRY_OK, NULL) == 0);
	mpfs_breakers_free(b);
}

static void test_slots_reused(void)
{
	struct mpfs_breakers *b = make();
	struct mpfs_retry *first = mpfs_breakers_of(b, "/v1/buckets/b0");
	struct mpfs_err e500 = {.kind = MPFS_E_SERVER, .http_status = 500};
	char path[64];
	int distinct = 1;

	CHECK(try_one(b, first, MPFS_TRY_FAILED, &e500) == 0);
	CHECK(try_one(b, first, MPFS_TRY_FAILED, &e500) == 0);
	CHECK(try_one(b, first, MPFS_TRY_OK, NULL) < 0);
	/* 32 buckets more: b0's slot, the least recently used, goes to the
	 * last, closed; the 31 others each have a slot of their own. */
	for (int i = 1; i <= 32; i++) {
		snprintf(path, sizeof(path), "/v1/buckets/b%d", i);
		if (i < 32 && mpfs_breakers_of(b, path) == first)
			distinct = 0;
	}
	CHECK(distinct);
	CHECK(mpfs_breakers_of(b, "/v1/buckets/b32") == first);
	CHECK(try_one(b, first, MPFS_TRY_OK, NULL) == 0);
	mpfs_breakers_free(b);
}

int main(void)
{
	test_which();
	test_bucket_5xx();
	test_no_answer();
	test_slots_reused();
	return check_done();
}
