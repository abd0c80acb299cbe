/* retry.h - the policy for asking a flaky API: how long to wait before the
 * next try (exponential backoff with jitter, Retry-After honoured), a
 * breaker that makes tries fail at once while the API is known to be down,
 * and a client-side cap on requests per second. Pure: time and sleep come
 * from a clock the caller may inject; it knows no HTTP, no Mixpeek, no FUSE.
 *
 * One struct mpfs_retry is shared by every thread of the client. */
#ifndef MPFS_RETRY_H
#define MPFS_RETRY_H

#include "mpfs/clock.h"
#include "mpfs/err.h"

struct mpfs_retry_cfg {
	int retries;	     /* tries after the first one */
	double base_delay;   /* seconds before the first retry, before jitter */
	double max_delay;    /* no backoff waits longer (Retry-After may) */
	int breaker_after;   /* failed tries in a row that open the breaker;
				0: never open */
	double breaker_open; /* first time open, seconds; doubles while the
				probe after it fails, up to breaker_max */
	double breaker_max;
	double max_rps;			/* requests per second; 0: no cap */
	const struct mpfs_clock *clock; /* borrowed */
	unsigned int seed;		/* for the jitter */
};

/* What a try told about the API's health. */
enum mpfs_try {
	MPFS_TRY_OK,	  /* an answer, whatever its status: the API is up */
	MPFS_TRY_FAILED,  /* no answer, or 5xx: counts towards the breaker */
	MPFS_TRY_UNKNOWN, /* given up before an answer (interrupted) */
};

struct mpfs_retry;

struct mpfs_retry *mpfs_retry_new(const struct mpfs_retry_cfg *cfg);
void mpfs_retry_free(struct mpfs_retry *r);

double mpfs_retry_now(struct mpfs_retry *r);

/* Before each try. Returns 0 to go ahead, having waited for the rate cap
 * if needed; or -1 with err set (MPFS_E_TRANSPORT) when the breaker is open
 * or the cap would make the try start after deadline (MPFS_E_INTERRUPTED
 * when the wait was given up). Every 0 must be followed by
 * mpfs_retry_done. */
int mpfs_retry_admit(struct mpfs_retry *r, double deadline,
		     struct mpfs_err *err);

/* After each admitted try. */
void mpfs_retry_done(struct mpfs_retry *r, enum mpfs_try outcome);

/* Seconds to wait before try attempt + 1 (attempt 0 is the first try),
 * given the answer's Retry-After in seconds (-1: none); or -1 when no try
 * may follow: the tries are used up, or the next would start past
 * deadline. */
double mpfs_retry_backoff(struct mpfs_retry *r, int attempt, double retry_after,
			  double deadline);

/* Sleeps on the configured clock; -1 when woken early to give up. */
int mpfs_retry_sleep(struct mpfs_retry *r, double s);

/* Counters, for tests and log lines. */
struct mpfs_retry_stats {
	unsigned long fast_failed; /* tries refused while open */
	unsigned long opened;	   /* times the breaker opened */
	int open;		   /* open now */
};
void mpfs_retry_stats(struct mpfs_retry *r, struct mpfs_retry_stats *out);

#endif
