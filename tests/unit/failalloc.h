/* failalloc.h - an allocator that fails the N-th allocation, for walking
 * every failure point of a piece of code. The test executable is linked
 * with -Wl,--wrap for malloc, calloc, realloc, strdup, free and
 * json_loadb, so the calls of the code under test, its own and jansson's
 * (whose allocator the walk sets), come here; libc's own inner allocations
 * do not. A json_loadb is one failure point as a whole (see failalloc.c).
 *
 * While a scenario runs, every allocation it makes is counted and the live
 * ones are remembered, so that the walk can tell a leak from a clean end. */
#ifndef FAILALLOC_H
#define FAILALLOC_H

/* A scenario: runs the code under test once, from nothing back to nothing.
 * Returns 0 when it ended as it must (done, or failed cleanly with an
 * out-of-memory error), else a description of what went wrong is written
 * to why and -1 returned. */
typedef int (*fa_scenario)(void *ctx, char *why, int size);

/* No allocation fails from now on: for a scenario that retries after an
 * allocation failed, and for its teardown. */
void fa_disarm(void);

/* Whether an allocation has been failed since the scenario started. */
int fa_failed(void);

/* Runs scenario unarmed to count its allocations, then once for each N
 * from 1 to that count failing the N-th allocation (persistent: and every
 * one after it until fa_disarm). Every run must return 0 and leave no
 * allocation live. Returns the number of failure points walked, or -1
 * after printing the first run that went wrong. */
long fa_walk(const char *name, fa_scenario scenario, void *ctx, int persistent);

#endif
