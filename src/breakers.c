/* breakers.c - the API client's breakers, its own and one per bucket (see
 * breakers.h). Bucket slots are reused, least recently used first, and
 * never freed while the client lives. */
#include "mpfs/breakers.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 32 /* buckets with a breaker of their own, at most */

struct slot {
	char key[768];		  /* the path's bucket segment, %-encoded */
	struct mpfs_retry *retry; /* no rate cap: the client's has */
	unsigned long used;
};

struct mpfs_breakers {
	struct mpfs_retry *client;
	struct mpfs_retry_cfg bucket_cfg;
	pthread_mutex_t lock; /* guards slots, clock */
	struct slot slots[SLOTS];
	unsigned long clock;
};

struct mpfs_breakers *mpfs_breakers_new(const struct mpfs_retry_cfg *cfg)
{
	struct mpfs_breakers *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->client = mpfs_retry_new(cfg);
	if (!b->client) {
		free(b);
		return NULL;
	}
	b->bucket_cfg = *cfg;
	b->bucket_cfg.max_rps = 0;
	pthread_mutex_init(&b->lock, NULL);
	return b;
}

void mpfs_breakers_free(struct mpfs_breakers *b)
{
	if (!b)
		return;
	mpfs_retry_free(b->client);
	for (int i = 0; i < SLOTS; i++)
		mpfs_retry_free(b->slots[i].retry);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct mpfs_retry *mpfs_breakers_client(struct mpfs_breakers *b)
{
	return b->client;
}

struct mpfs_retry *mpfs_breakers_of(struct mpfs_breakers *b, const char *path)
{
	static const char buckets[] = "/v1/buckets/";
	char key[sizeof(b->slots[0].key)] = "";
	struct slot *s = NULL, *lru = &b->slots[0];
	size_t n;

	if (strncmp(path, buckets, sizeof(buckets) - 1) == 0) {
		path += sizeof(buckets) - 1;
		n = strcspn(path, "/?");
		if (n < sizeof(key) && !(n == 4 && !strncmp(path, "list", 4))) {
			memcpy(key, path, n);
			key[n] = '\0';
		}
	}
	pthread_mutex_lock(&b->lock);
	for (int i = 0; i < SLOTS && !s; i++) {
		struct slot *c = &b->slots[i];

		if (c->retry && strcmp(c->key, key) == 0)
			s = c;
		else if (c->used < lru->used)
			lru = c;
	}
	if (!s) {
		s = lru;
		if (!s->retry)
			s->retry = mpfs_retry_new(&b->bucket_cfg);
		else /* another bucket's, least recently used: closed */
			mpfs_retry_done(s->retry, MPFS_TRY_OK);
		snprintf(s->key, sizeof(s->key), "%s", key);
	}
	s->used = ++b->clock;
	pthread_mutex_unlock(&b->lock);
	return s->retry;
}

int mpfs_breakers_admit(struct mpfs_breakers *b, struct mpfs_retry *bucket,
			double deadline, struct mpfs_err *gate)
{
	if (bucket && mpfs_retry_admit(bucket, deadline, gate))
		return -1;
	if (mpfs_retry_admit(b->client, deadline, gate)) {
		if (bucket)
			mpfs_retry_done(bucket, MPFS_TRY_UNKNOWN);
		return -1;
	}
	return 0;
}

void mpfs_breakers_tried(struct mpfs_breakers *b, struct mpfs_retry *bucket,
			 enum mpfs_try outcome, const struct mpfs_err *err)
{
	int server = outcome == MPFS_TRY_FAILED && err->kind == MPFS_E_SERVER &&
		     err->http_status >= 500;
	enum mpfs_try scoped = outcome;

	if (!server && outcome == MPFS_TRY_FAILED)
		scoped =
		    MPFS_TRY_UNKNOWN; /* no answer: no news of the bucket */
	mpfs_retry_done(b->client, server ? MPFS_TRY_OK : outcome);
	if (bucket)
		mpfs_retry_done(bucket, scoped);
}
