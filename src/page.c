/* page.c - pure: what the API's answers say, as JSON: that a body is an
 * object, an error answer's message, and a list answer taken apart into a
 * page (its items, its cursor, its total). Knows no HTTP and no FUSE. */
#include "mpfs/page.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/arena.h"

json_t *mpfs_answer_object(json_t *root, const json_error_t *jerr,
			   struct mpfs_err *err)
{
	if (json_is_object(root))
		return root;
	/* jansson says out of memory, or says nothing at all (some of its
	 * allocations fail without a word): a parse error always has one. */
	if (!root && (json_error_code(jerr) == json_error_out_of_memory ||
		      !jerr->text[0]))
		mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
	else
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "answer is not a JSON object%s%s",
			     root ? "" : ": ", root ? "" : jerr->text);
	json_decref(root);
	return NULL;
}

void mpfs_answer_error(const char *body, size_t len, char *out, size_t size)
{
	json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
	const char *msg = NULL;

	if (root) {
		msg = json_string_value(
		    json_object_get(json_object_get(root, "error"), "message"));
		if (!msg)
			msg = json_string_value(json_object_get(
			    json_array_get(json_object_get(root, "detail"), 0),
			    "msg"));
	}
	snprintf(out, size, "%s", msg ? msg : "no error message");
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20)
			*p = ' ';
	json_decref(root);
}

int mpfs_page_of(json_t *root, struct mpfs_page *page, struct mpfs_err *err)
{
	json_t *results = json_object_get(root, "results");
	json_t *pagination = json_object_get(root, "pagination");
	json_t *total = json_object_get(root, "total");
	const char *cursor;

	page->items = NULL;
	page->next_cursor = NULL;
	page->total = -1;
	page->arena = NULL;
	if (!json_is_array(results)) {
		mpfs_err_set(err, MPFS_E_MALFORMED,
			     "list answer without a 'results' array");
		return -1;
	}
	/* The sync list's 'total'; the bucket list's 'total_count' (the
	 * published schema's names); either's pagination.total. */
	if (!json_is_integer(total))
		total = json_object_get(root, "total_count");
	if (!json_is_integer(total))
		total = json_object_get(pagination, "total");
	if (json_is_integer(total))
		page->total = (long)json_integer_value(total);
	cursor = json_string_value(json_object_get(pagination, "next_cursor"));
	if (cursor && *cursor) {
		page->next_cursor = strdup(cursor);
		if (!page->next_cursor) {
			mpfs_err_set(err, MPFS_E_NOMEM, "out of memory");
			return -1;
		}
	}
	page->items = json_incref(results);
	return 0;
}

int mpfs_page_parse(const char *body, size_t len, struct mpfs_page *page,
		    struct mpfs_err *err)
{
	json_error_t jerr;
	json_t *root =
	    mpfs_answer_object(json_loadb(body, len, 0, &jerr), &jerr, err);
	int r;

	if (!root)
		return -1;
	r = mpfs_page_of(root, page, err);
	json_decref(root);
	return r;
}

void mpfs_page_release(struct mpfs_page *page)
{
	/* A tree wholly in its parse slot goes with the slot, unwalked. */
	if (!page->arena || mpfs_arena_spilled(page->arena))
		json_decref(page->items);
	mpfs_arena_give(page->arena);
	free(page->next_cursor);
	page->items = NULL;
	page->next_cursor = NULL;
	page->arena = NULL;
}
