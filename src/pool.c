/* pool.c - a fixed set of worker threads over a bounded queue.
 *
 * Lock order: p->lock only; jobs run without it. */
#include "mpfs/pool.h"

#include <pthread.h>
#include <stdlib.h>

struct job {
	struct job *next;
	void (*fn)(void *arg);
	void (*drop)(void *arg);
	void *arg;
};

struct mpfs_pool {
	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t work;  /* a job was queued, or stop */
	struct job *head, *tail;
	int waiting, max_waiting;
	int threads, idle, max_threads;
	int stop;
	pthread_t *ids;
};

struct mpfs_pool *mpfs_pool_new(int threads, int queue)
{
	struct mpfs_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->max_threads = threads > 0 ? threads : 1;
	p->max_waiting = queue > 0 ? queue : 1;
	p->ids = calloc((size_t)p->max_threads, sizeof(*p->ids));
	if (!p->ids) {
		free(p);
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	return p;
}

static void *worker(void *arg)
{
	struct mpfs_pool *p = arg;

	pthread_mutex_lock(&p->lock);
	for (;;) {
		struct job *j = p->head;

		if (!j && p->stop)
			break;
		if (!j) {
			p->idle++;
			pthread_cond_wait(&p->work, &p->lock);
			p->idle--;
			continue;
		}
		p->head = j->next;
		if (!p->head)
			p->tail = NULL;
		p->waiting--;
		pthread_mutex_unlock(&p->lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int mpfs_pool_run(struct mpfs_pool *p, void (*fn)(void *arg),
		  void (*drop)(void *arg), void *arg)
{
	struct job *j = malloc(sizeof(*j));
	int r = 0;

	if (!j)
		return -1;
	*j = (struct job){NULL, fn, drop, arg};
	pthread_mutex_lock(&p->lock);
	/* a thread more, when none is free for it and there is room */
	if (!p->stop && p->waiting < p->max_waiting && p->idle <= p->waiting &&
	    p->threads < p->max_threads &&
	    pthread_create(&p->ids[p->threads], NULL, worker, p) == 0)
		p->threads++;
	if (p->stop || p->waiting >= p->max_waiting || p->threads == 0) {
		r = -1; /* full, stopping, or no thread to run it */
	} else {
		if (p->tail)
			p->tail->next = j;
		else
			p->head = j;
		p->tail = j;
		p->waiting++;
		pthread_cond_signal(&p->work);
	}
	pthread_mutex_unlock(&p->lock);
	if (r)
		free(j);
	return r;
}

void mpfs_pool_free(struct mpfs_pool *p)
{
	struct job *dropped;

	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = 1;
	dropped = p->head;
	p->head = p->tail = NULL;
	p->waiting = 0;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	while (dropped) {
		struct job *j = dropped;

		dropped = j->next;
		if (j->drop)
			j->drop(j->arg);
		free(j);
	}
	for (int i = 0; i < p->threads; i++)
		pthread_join(p->ids[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->work);
	free(p->ids);
	free(p);
}
