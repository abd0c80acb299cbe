/* dups.h - ids the API sends more than once within one page of a listing.
 * Each page's are found as it is rendered: the first copy is shown, the
 * others are neither rendered nor merged. A listing counts each such id
 * once, though pages that overlap may bring the same pair again, and says
 * them once in the log, when it ends. Pure; not locked: the listing's lock
 * guards a listing's. */
#ifndef MPFS_DUPS_H
#define MPFS_DUPS_H

#include <jansson.h>
#include <stddef.h>

#include "mpfs/hmap.h"

struct mpfs_dup {
	char *id;
	int copies; /* in its page */
};

/* A page's ids held more than once, in the order of their second copies. */
struct mpfs_page_dups {
	struct mpfs_dup *v;
	size_t n;
};

/* A listing's. Zeroed is empty. */
struct mpfs_dups {
	struct mpfs_hmap ids; /* counted already */
	long count;
	char first[256];  /* the first counted */
	int first_copies; /* in its page */
	int told;
};

/* Finds the ids that items (an array) holds under id_key more than once:
 * into out (empty before), and skip[i] set for every copy after the first.
 * Items without a usable id are left to the caller. Out of memory, none is
 * found: the copies after the first are then dropped when merged, as an
 * id seen on an earlier page is. */
void mpfs_dups_find(json_t *items, const char *id_key, unsigned char *skip,
		    struct mpfs_page_dups *out);
void mpfs_page_dups_free(struct mpfs_page_dups *p);

/* Counts a page's ids in d, each once for the listing. */
void mpfs_dups_count(struct mpfs_dups *d, const struct mpfs_page_dups *p);

/* Says once, in the log, how many ids the listing named what was sent more
 * than once, and the first. */
void mpfs_dups_tell(struct mpfs_dups *d, const char *what);

void mpfs_dups_release(struct mpfs_dups *d);

#endif
