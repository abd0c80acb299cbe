/* Backoff, breaker and rate cap under a fake clock: sleeping moves it. */
#include "check.h"
#include "mpfs/retry.h"

static double now;
static double slept;
static int sleeps;
static int cancel;

static double fake_now(void *ctx)
{
	(void)ctx;
	return now;
}

static int fake_sleep(void *ctx, double s)
{
	(void)ctx;
	if (cancel)
		return -1;
	now += s;
	slept += s;
	sleeps++;
	return 0;
}

static const struct mpfs_clock fake = {fake_now, fake_sleep, NULL};

static struct mpfs_retry *make(int retries, int breaker_after, double rps)
{
	struct mpfs_retry_cfg cfg = {
	    .retries = retries,
	    .base_delay = 0.1,
	    .max_delay = 5,
	    .breaker_after = breaker_after,
	    .breaker_open = 1,
	    .breaker_max = 4,
	    .max_rps = rps,
	    .clock = &fake,
	    .seed = 42,
	};

	now = 1000;
	slept = 0;
	sleeps = 0;
	cancel = 0;
	return mpfs_retry_new(&cfg);
}

static void test_backoff(void)
{
	struct mpfs_retry *r = make(4, 0, 0);
	double prev_cap = 0;

	/* Grows, with jitter inside [cap/2, cap]. */
	for (int a = 0; a < 4; a++) {
		double cap = 0.1 * (1 << a),
		       w = mpfs_retry_backoff(r, a, -1, 1e9);

		CHECK(w >= cap / 2 && w <= cap);
		CHECK(cap > prev_cap);
		prev_cap = cap;
	}
	/* Bounded by retries. */
	CHECK(mpfs_retry_backoff(r, 4, -1, 1e9) < 0);
	/* Retry-After honoured exactly... */
	CHECK(mpfs_retry_backoff(r, 0, 3, 1e9) == 3);
	/* ...unless it ends past the deadline: then no retry at all. */
	CHECK(mpfs_retry_backoff(r, 0, 3, now + 2) < 0);
	CHECK(mpfs_retry_backoff(r, 0, -1, now + 0.01) < 0);
	mpfs_retry_free(r);

	/* A long run stays under max_delay. */
	r = make(40, 0, 0);
	CHECK(mpfs_retry_backoff(r, 39, -1, 1e9) <= 5);
	CHECK(mpfs_retry_backoff(r, 39, -1, 1e9) >= 2.5);
	mpfs_retry_free(r);
}

static void test_jitter_spreads(void)
{
	struct mpfs_retry *r = make(4, 0, 0);
	double lo = 1, hi = 0;

	for (int i = 0; i < 200; i++) {
		double w = mpfs_retry_backoff(r, 3, -1, 1e9);

		lo = w < lo ? w : lo;
		hi = w > hi ? w : hi;
	}
	CHECK(lo < 0.5 && hi > 0.7);
	mpfs_retry_free(r);
}

static void test_breaker(void)
{
	struct mpfs_retry *r = make(4, 3, 0);
	struct mpfs_retry_stats st;
	struct mpfs_err err;

	mpfs_err_clear(&err);
	for (int i = 0; i < 2; i++) {
		CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
		mpfs_retry_done(r, MPFS_TRY_FAILED);
	}
	/* A success in between starts the count again. */
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	mpfs_retry_done(r, MPFS_TRY_OK);
	for (int i = 0; i < 3; i++) {
		CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
		mpfs_retry_done(r, MPFS_TRY_FAILED);
	}
	/* Open: fails at once, without sleeping. */
	CHECK(mpfs_retry_admit(r, 1e9, &err) < 0);
	CHECK(err.kind == MPFS_E_TRANSPORT);
	CHECK(strstr(err.msg, "not sent") != NULL);
	CHECK(sleeps == 0);
	mpfs_retry_stats(r, &st);
	CHECK(st.open && st.opened == 1 && st.fast_failed == 1);

	/* After the window, one probe; the others still fail at once. */
	now += 1.0;
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	CHECK(mpfs_retry_admit(r, 1e9, &err) < 0);
	/* The probe fails: open again, twice as long. */
	mpfs_retry_done(r, MPFS_TRY_FAILED);
	now += 1.5;
	CHECK(mpfs_retry_admit(r, 1e9, &err) < 0);
	now += 0.5;
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	mpfs_retry_done(r, MPFS_TRY_FAILED); /* 4 s now: the cap */
	now += 4;
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	mpfs_retry_done(r, MPFS_TRY_FAILED);
	now += 3.9;
	CHECK(mpfs_retry_admit(r, 1e9, &err) < 0);
	now += 0.1;
	/* An interrupted probe tells nothing: the next one may go. */
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	mpfs_retry_done(r, MPFS_TRY_UNKNOWN);
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	/* The probe succeeds: closed, everything goes. */
	mpfs_retry_done(r, MPFS_TRY_OK);
	for (int i = 0; i < 5; i++) {
		CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
		mpfs_retry_done(r, MPFS_TRY_OK);
	}
	mpfs_retry_stats(r, &st);
	CHECK(!st.open);
	mpfs_retry_free(r);

	/* breaker_after 0: never opens. */
	r = make(4, 0, 0);
	for (int i = 0; i < 100; i++) {
		CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
		mpfs_retry_done(r, MPFS_TRY_FAILED);
	}
	mpfs_retry_free(r);
}

static void test_rate_cap(void)
{
	struct mpfs_retry *r = make(4, 0, 4);
	struct mpfs_err err;
	double start = now;

	mpfs_err_clear(&err);
	/* 4 per second: 9 tries take 2 s, spaced 0.25 s apart. */
	for (int i = 0; i < 9; i++) {
		CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
		CHECK(now - start >= 0.25 * i - 1e-9 &&
		      now - start <= 0.25 * i + 1e-9);
		mpfs_retry_done(r, MPFS_TRY_OK);
	}
	/* Idle time is not saved up as a burst. */
	now += 10;
	start = now;
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	CHECK(mpfs_retry_admit(r, 1e9, &err) == 0);
	CHECK(now - start >= 0.25 - 1e-9);
	/* A wait past the deadline is refused, not slept. */
	slept = 0;
	CHECK(mpfs_retry_admit(r, now + 0.1, &err) < 0);
	CHECK(slept == 0 && strstr(err.msg, "max_rps") != NULL);
	/* A wait given up (interrupted) says so. */
	cancel = 1;
	CHECK(mpfs_retry_admit(r, 1e9, &err) < 0);
	CHECK(err.kind == MPFS_E_INTERRUPTED);
	mpfs_retry_free(r);
}

int main(void)
{
	test_backoff();
	test_jitter_spreads();
	test_breaker();
	test_rate_cap();
	return check_done();
}
