/* spawn.h - a listing's spawn callback for the unit tests: a thread for
 * each page fetched ahead, counted so that a test can wait for them all
 * (settle) before it looks at what they did. */
#ifndef SPAWN_H
#define SPAWN_H

#include <pthread.h>
#include <stdlib.h>

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t threads_done = PTHREAD_COND_INITIALIZER;
static int threads_running;

struct thread_job {
	void (*fn)(void *);
	void *arg;
};

static void *thread_main(void *p)
{
	struct thread_job job = *(struct thread_job *)p;

	free(p);
	job.fn(job.arg);
	pthread_mutex_lock(&threads_lock);
	threads_running--;
	pthread_cond_broadcast(&threads_done);
	pthread_mutex_unlock(&threads_lock);
	return NULL;
}

static int spawn(void *ctx, void (*fn)(void *), void (*drop)(void *), void *arg)
{
	struct thread_job *job = malloc(sizeof(*job));
	pthread_t tid;

	(void)ctx;
	(void)drop; /* every thread here runs */
	if (!job)
		return -1;
	*job = (struct thread_job){fn, arg};
	pthread_mutex_lock(&threads_lock);
	threads_running++;
	pthread_mutex_unlock(&threads_lock);
	if (pthread_create(&tid, NULL, thread_main, job)) {
		free(job);
		pthread_mutex_lock(&threads_lock);
		threads_running--;
		pthread_mutex_unlock(&threads_lock);
		return -1;
	}
	pthread_detach(tid);
	return 0;
}

/* Waits until every spawned thread has ended. */
static void settle(void)
{
	pthread_mutex_lock(&threads_lock);
	while (threads_running)
		pthread_cond_wait(&threads_done, &threads_lock);
	pthread_mutex_unlock(&threads_lock);
}

#endif
