/* failalloc.c - see failalloc.h. */
#include "failalloc.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
char *__real_strdup(const char *s);
void __real_free(void *p);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);
json_t *__real_json_loadb(const char *buf, size_t len, size_t flags,
			  json_error_t *error);
json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
			  json_error_t *error);

/* The live allocations of a scenario: an open-addressed set of pointers. */
#define SLOTS (1u << 16)
#define TOMB  ((void *)1)

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *slots[SLOTS];
static long live, count, fail_at;
static int recording, persistent_mode, failed, overflow, parsing;

static size_t slot_of(const void *p)
{
	return (size_t)(((uintptr_t)p >> 4) * 0x9e3779b97f4a7c15u) &
	       (SLOTS - 1);
}

static void remember(void *p)
{
	size_t i = slot_of(p);

	for (size_t probes = 0; probes < SLOTS;
	     probes++, i = (i + 1) & (SLOTS - 1))
		if (!slots[i] || slots[i] == TOMB) {
			slots[i] = p;
			live++;
			return;
		}
	overflow = 1;
}

static void forget(void *p)
{
	size_t i = slot_of(p);

	for (size_t probes = 0; probes < SLOTS && slots[i];
	     probes++, i = (i + 1) & (SLOTS - 1))
		if (slots[i] == p) {
			slots[i] = TOMB;
			live--;
			return;
		}
}

/* Whether the next allocation fails; counts it. Lock held. */
static int next_fails(void)
{
	if (!recording || parsing)
		return 0;
	count++;
	if (fail_at &&
	    (count == fail_at || (persistent_mode && count > fail_at))) {
		failed = 1;
		return 1;
	}
	return 0;
}

/* Records what an allocation gave. Lock held. */
static void *track(void *p)
{
	if (p && recording)
		remember(p);
	return p;
}

void *__wrap_malloc(size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if (!next_fails())
		p = track(__real_malloc(size));
	pthread_mutex_unlock(&lock);
	return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if (!next_fails())
		p = track(__real_calloc(n, size));
	pthread_mutex_unlock(&lock);
	return p;
}

void *__wrap_realloc(void *old, size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&lock);
	if (!next_fails()) {
		p = __real_realloc(old, size);
		if (p && old)
			forget(old);
		track(p);
	}
	pthread_mutex_unlock(&lock);
	return p;
}

char *__wrap_strdup(const char *s)
{
	char *p = NULL;

	pthread_mutex_lock(&lock);
	if (!next_fails())
		p = track(__real_strdup(s));
	pthread_mutex_unlock(&lock);
	return p;
}

void __wrap_free(void *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&lock);
	forget(p);
	__real_free(p);
	pthread_mutex_unlock(&lock);
}

/* jansson's parser aborts when an allocation fails in its lexer (its
 * issue 362: lex_save drops the failure, an assert fires later), so a
 * parse is one failure point of its own, as a jansson without that bug
 * would fail it: NULL and "out of memory". Its allocations are tracked. */
json_t *__wrap_json_loadb(const char *buf, size_t len, size_t flags,
			  json_error_t *error)
{
	json_t *json;
	int fails;

	pthread_mutex_lock(&lock);
	fails = next_fails();
	parsing += !fails;
	pthread_mutex_unlock(&lock);
	if (fails) {
		if (error) {
			memset(error, 0, sizeof(*error));
			snprintf(error->text, sizeof(error->text),
				 "out of memory");
			error->text[JSON_ERROR_TEXT_LENGTH - 1] =
			    (char)json_error_out_of_memory;
		}
		return NULL;
	}
	json = __real_json_loadb(buf, len, flags, error);
	pthread_mutex_lock(&lock);
	parsing--;
	pthread_mutex_unlock(&lock);
	return json;
}

void fa_disarm(void)
{
	pthread_mutex_lock(&lock);
	fail_at = 0;
	pthread_mutex_unlock(&lock);
}

int fa_failed(void)
{
	int r;

	pthread_mutex_lock(&lock);
	r = failed;
	pthread_mutex_unlock(&lock);
	return r;
}

static void start(long n, int persistent)
{
	pthread_mutex_lock(&lock);
	memset(slots, 0, sizeof(slots));
	live = count = 0;
	fail_at = n;
	persistent_mode = persistent;
	failed = overflow = parsing = 0;
	recording = 1;
	pthread_mutex_unlock(&lock);
}

/* Ends a run: the allocations it made and those still live. */
static long stop(long *left)
{
	long n;

	pthread_mutex_lock(&lock);
	recording = 0;
	fail_at = 0;
	n = count;
	*left = overflow ? -1 : live;
	pthread_mutex_unlock(&lock);
	return n;
}

/* One run; 0 when it ended clean. */
static int run(const char *name, fa_scenario scenario, void *ctx, long n,
	       long total, int persistent, long *made)
{
	char why[256] = "";
	long left;
	int r;

	start(n, persistent);
	r = scenario(ctx, why, sizeof(why));
	*made = stop(&left);
	if (r == 0 && left == 0)
		return 0;
	printf("# %s: failing allocation %ld of %ld%s: %s\n", name, n, total,
	       persistent ? " and after" : "",
	       r	  ? why
	       : left < 0 ? "too many allocations to track"
			  : "allocations left live (a leak)");
	if (r == 0)
		printf("#   %ld allocations live\n", left);
	return -1;
}

long fa_walk(const char *name, fa_scenario scenario, void *ctx, int persistent)
{
	long total, made;

	/* malloc and free here are the wrapped ones. */
	json_set_alloc_funcs(malloc, free);
	if (run(name, scenario, ctx, 0, 0, persistent, &total))
		return -1;
	for (long n = 1; n <= total; n++)
		if (run(name, scenario, ctx, n, total, persistent, &made))
			return -1;
	printf("# %s: %ld failure points walked%s\n", name, total,
	       persistent ? " (each failing every allocation after)" : "");
	return total;
}
