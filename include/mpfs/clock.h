/* clock.h - monotonic time in seconds, and a clock that can be injected
 * where tests need to drive time. */
#ifndef MPFS_CLOCK_H
#define MPFS_CLOCK_H

#include <time.h>

struct mpfs_clock {
	double (*now)(void *ctx); /* monotonic seconds */
	/* Sleeps s seconds; returns -1 when woken early to give up. */
	int (*sleep)(void *ctx, double s);
	void *ctx;
};

static inline double mpfs_clock_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
