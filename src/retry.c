/* retry.c - backoff, breaker and rate cap for the API client (retry.h).
 * Pure policy over an injectable clock: no HTTP, no Mixpeek, no FUSE.
 *
 * Breaker: `breaker_after` failed tries in a row (from any thread) open it;
 * while open every try fails at once. When the window ends, one try (the
 * probe) goes out and the others still fail at once; the probe's success
 * closes the breaker, its failure opens it again for twice as long.
 *
 * Rate cap: generic cell rate algorithm with a burst of one, so no two
 * tries start less than 1/max_rps seconds apart.
 *
 * Lock order: r->lock only; never held while sleeping. */
#include "mpfs/retry.h"

#include <pthread.h>
#include <stdlib.h>

struct mpfs_retry {
	struct mpfs_retry_cfg cfg;
	struct mpfs_clock clock;

	pthread_mutex_t lock; /* guards everything below */
	unsigned int seed;
	int failures;	   /* failed tries in a row */
	int open;	   /* breaker open (or half open while probing) */
	int probing;	   /* the one try let through after the window */
	double open_until; /* when the next probe may go */
	double window;	   /* the current open time */
	double tat;	   /* rate cap: the theoretical arrival time */
	unsigned long fast_failed, opened;
};

struct mpfs_retry *mpfs_retry_new(const struct mpfs_retry_cfg *cfg)
{
	struct mpfs_retry *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->cfg = *cfg;
	r->clock = *cfg->clock;
	r->cfg.clock = NULL;
	r->seed = cfg->seed;
	r->window = cfg->breaker_open;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void mpfs_retry_free(struct mpfs_retry *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r);
}

double mpfs_retry_now(struct mpfs_retry *r)
{
	return r->clock.now(r->clock.ctx);
}

int mpfs_retry_sleep(struct mpfs_retry *r, double s)
{
	return r->clock.sleep(r->clock.ctx, s);
}

/* Lock held. 0: the breaker lets this try through. */
static int breaker_admit(struct mpfs_retry *r, double now, struct mpfs_err *err)
{
	if (!r->open)
		return 0;
	if (!r->probing && now >= r->open_until) {
		r->probing = 1;
		return 0;
	}
	r->fast_failed++;
	mpfs_err_set(err, MPFS_E_TRANSPORT,
		     "not sent: the API failed %d tries in a row; next try in "
		     "%.1fs",
		     r->failures,
		     r->open_until > now ? r->open_until - now : 0.0);
	return -1;
}

int mpfs_retry_admit(struct mpfs_retry *r, double deadline,
		     struct mpfs_err *err)
{
	double now = mpfs_retry_now(r), start, wait = 0;

	pthread_mutex_lock(&r->lock);
	if (breaker_admit(r, now, err)) {
		pthread_mutex_unlock(&r->lock);
		return -1;
	}
	if (r->cfg.max_rps > 0) {
		start = r->tat > now ? r->tat : now;
		if (start > deadline) {
			if (r->probing)
				r->probing = 0;
			pthread_mutex_unlock(&r->lock);
			mpfs_err_set(err, MPFS_E_TRANSPORT,
				     "not sent: max_rps=%g would delay it "
				     "%.1fs, past the timeout",
				     r->cfg.max_rps, start - now);
			return -1;
		}
		r->tat = start + 1.0 / r->cfg.max_rps;
		wait = start - now;
	}
	pthread_mutex_unlock(&r->lock);
	if (wait > 0 && mpfs_retry_sleep(r, wait)) {
		mpfs_retry_done(r, MPFS_TRY_UNKNOWN);
		mpfs_err_set(err, MPFS_E_INTERRUPTED, "interrupted");
		return -1;
	}
	return 0;
}

void mpfs_retry_done(struct mpfs_retry *r, enum mpfs_try outcome)
{
	double now = mpfs_retry_now(r);

	pthread_mutex_lock(&r->lock);
	switch (outcome) {
	case MPFS_TRY_OK:
		r->failures = 0;
		r->open = 0;
		r->probing = 0;
		r->window = r->cfg.breaker_open;
		break;
	case MPFS_TRY_FAILED:
		r->failures++;
		if (r->probing) {
			/* The probe failed: stay open, for longer. */
			r->probing = 0;
			r->window *= 2;
			if (r->window > r->cfg.breaker_max)
				r->window = r->cfg.breaker_max;
			r->open_until = now + r->window;
		} else if (!r->open && r->cfg.breaker_after > 0 &&
			   r->failures >= r->cfg.breaker_after) {
			r->open = 1;
			r->opened++;
			r->window = r->cfg.breaker_open;
			r->open_until = now + r->window;
		}
		break;
	case MPFS_TRY_UNKNOWN:
		/* No news: let the next try probe. */
		r->probing = 0;
		break;
	}
	pthread_mutex_unlock(&r->lock);
}

double mpfs_retry_backoff(struct mpfs_retry *r, int attempt, double retry_after,
			  double deadline)
{
	double wait, cap;
	unsigned int x;

	if (attempt >= r->cfg.retries)
		return -1;
	if (retry_after >= 0) {
		wait = retry_after;
	} else {
		cap = r->cfg.base_delay;
		for (int i = 0; i < attempt && cap < r->cfg.max_delay; i++)
			cap *= 2;
		if (cap > r->cfg.max_delay)
			cap = r->cfg.max_delay;
		pthread_mutex_lock(&r->lock);
		x = (unsigned int)rand_r(&r->seed);
		pthread_mutex_unlock(&r->lock);
		/* Half fixed, half random: spread, yet growing. */
		wait = cap / 2 + cap / 2 * ((double)x / (double)RAND_MAX);
	}
	if (mpfs_retry_now(r) + wait >= deadline)
		return -1;
	return wait;
}

void mpfs_retry_stats(struct mpfs_retry *r, struct mpfs_retry_stats *out)
{
	pthread_mutex_lock(&r->lock);
	out->fast_failed = r->fast_failed;
	out->opened = r->opened;
	out->open = r->open;
	pthread_mutex_unlock(&r->lock);
}
