/* breakers.h - the API client's circuit breakers: its own, which every
 * try passes (with the rate cap) and which failures with no answer at all
 * open, and one per bucket, which the 5xx of that bucket's routes open, so
 * that a bucket whose calls fail on the server's side pauses its own
 * calls, not every bucket's. Knows paths, not HTTP. */
#ifndef MPFS_BREAKERS_H
#define MPFS_BREAKERS_H

#include "mpfs/err.h"
#include "mpfs/retry.h"

struct mpfs_breakers;

/* cfg is the client's (its rate cap included); the buckets' breakers take
 * it without the cap. NULL when out of memory. */
struct mpfs_breakers *mpfs_breakers_new(const struct mpfs_retry_cfg *cfg);
void mpfs_breakers_free(struct mpfs_breakers *b);

/* The client's own: its clock, backoff and sleep. */
struct mpfs_retry *mpfs_breakers_client(struct mpfs_breakers *b);

/* The breaker of the bucket path names ("/v1/buckets/<bucket>..."; one
 * shared by the routes of no bucket), or NULL when out of memory (the
 * client's alone then). Breakers are kept for the most recently used
 * buckets; a pointer taken stays valid while b lives. */
struct mpfs_retry *mpfs_breakers_of(struct mpfs_breakers *b, const char *path);

/* A try let through by the bucket's breaker, then the client's: 0, or -1
 * with gate set; a try the second refuses leaves the first no news. Every
 * 0 must be followed by mpfs_breakers_tried. */
int mpfs_breakers_admit(struct mpfs_breakers *b, struct mpfs_retry *bucket,
			double deadline, struct mpfs_err *gate);

/* What a try's outcome tells each: an answer, even a 5xx, says the API is
 * up (the client's); a 5xx (err) says the bucket's routes fail; no answer
 * says nothing of the bucket. */
void mpfs_breakers_tried(struct mpfs_breakers *b, struct mpfs_retry *bucket,
			 enum mpfs_try outcome, const struct mpfs_err *err);

#endif
