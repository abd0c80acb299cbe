/* page.h - one page of a list call, as the API client hands it to the
 * listing that asked for it, and what the API's answers say as JSON
 * (page.c: pure; api.c calls it). Knows no HTTP and no FUSE. */
#ifndef MPFS_PAGE_H
#define MPFS_PAGE_H

#include <jansson.h>
#include <stddef.h>

#include "mpfs/err.h"

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

/* Takes a list answer apart: its "results" (a new reference), its
 * pagination's next_cursor, its total; root stays the caller's. -1 with
 * err set (MPFS_E_MALFORMED, MPFS_E_NOMEM) when it is no list answer. */
int mpfs_page_of(json_t *root, struct mpfs_page *page, struct mpfs_err *err);

/* A list answer's body parsed and taken apart (for tests and fuzzers: the
 * client parses as the body comes). */
int mpfs_page_parse(const char *body, size_t len, struct mpfs_page *page,
		    struct mpfs_err *err);

/* Drops the items and the cursor, and gives the slot back. */
void mpfs_page_release(struct mpfs_page *page);

/* root if it is a JSON object (every answer's body is); else NULL, root
 * dropped, with err set from what jansson said: MPFS_E_NOMEM when memory
 * ran out while parsing, else MPFS_E_MALFORMED. */
json_t *mpfs_answer_object(json_t *root, const json_error_t *jerr,
			   struct mpfs_err *err);

/* The message of an error answer (ErrorResponse or HTTPValidationError),
 * else "no error message", into out, control characters made spaces. */
void mpfs_answer_error(const char *body, size_t len, char *out, size_t size);

#endif
