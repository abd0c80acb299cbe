/* page.h - one page of a list call, as the API client hands it to the
 * listing that asked for it (api.c makes them). Knows no HTTP and no
 * FUSE. */
#ifndef MPFS_PAGE_H
#define MPFS_PAGE_H

#include <jansson.h>

struct mpfs_page_req {
	long limit;
	long offset;	    /* used when cursor is NULL */
	const char *cursor; /* borrowed */
	int urgent; /* a reader, or the cursor chain, waits for it: parsed
		       before pages fetched ahead */
	/* When the request this page serves began (mpfs_clock_monotonic),
	 * for a call made on its behalf by another thread: the call ends by
	 * then + timeout. 0: the calling thread's own (cfg.started). */
	double began;
};

struct mpfs_arena;

struct mpfs_page {
	json_t *items;		  /* array, new reference */
	char *next_cursor;	  /* malloc'd, NULL when none */
	long total;		  /* -1 when the answer did not say */
	struct mpfs_arena *arena; /* the parse slot items live in, or NULL */
};

/* Drops the items and the cursor, and gives the slot back. */
void mpfs_page_release(struct mpfs_page *page);

#endif
