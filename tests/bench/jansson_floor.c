/* jansson_floor.c - jansson's own part of a listing, alone, in one thread:
 * each page file (the raw body of a list answer) parsed with json_loadb as
 * api.c parses it, then each item of its "results" dumped with json_dumpb
 * and the flags render.c renders a file with. Prints the CPU time each
 * took (getrusage: user + system), which no daemon doing the same work
 * can go below. The tree is then freed (json_decref), timed apart and not
 * counted: the daemon's parse slots free it without a walk.
 *
 *   jansson_floor [-t] PAGE...
 *
 * Prints one line:
 *   pages=N items=N bytes=N rendered=N parse_ms=X render_ms=X floor_ms=X
 *   free_ms=X minflt=N
 * floor_ms = parse_ms + render_ms; minflt: the page faults they took. With -t,
 * each page's tree is measured as well (allocations and their bytes, as a bump
 * allocator would take them: 16-byte aligned), on a run of its own; no times
 * are printed then.
 *
 * Used by scripts/bench. Not installed. */
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* As src/render.c's RENDER_FLAGS and its buffer, and src/api.c's parse. */
#define RENDER_FLAGS (JSON_INDENT(2) | JSON_PRESERVE_ORDER)
#define RENDER_BUF   16384
#define PARSE_FLAGS  0

struct page {
	char *data;
	size_t len;
};

static long faults; /* minor page faults as of the last cpu_ms() */

static double cpu_ms(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	faults = ru.ru_minflt;
	return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
	       (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int read_file(const char *path, struct page *p)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 20, n;

	p->data = NULL;
	p->len = 0;
	if (!f)
		return -1;
	for (;;) {
		char *grown = realloc(p->data, cap);

		if (!grown) {
			fclose(f);
			return -1;
		}
		p->data = grown;
		n = fread(p->data + p->len, 1, cap - p->len, f);
		p->len += n;
		if (p->len < cap)
			break;
		cap *= 2;
	}
	fclose(f);
	return 0;
}

/* -t: what a tree takes, allocation by allocation. */
static size_t tree_allocs, tree_bytes;

static void *counting_malloc(size_t size)
{
	tree_allocs++;
	tree_bytes += (size + 15) & ~(size_t)15;
	return malloc(size);
}

static void measure_trees(const struct page *pages, int n)
{
	size_t max_bytes = 0, all_bytes = 0, all_allocs = 0, all_len = 0;

	json_set_alloc_funcs(counting_malloc, free);
	for (int i = 0; i < n; i++) {
		json_error_t jerr;
		json_t *root;

		tree_allocs = tree_bytes = 0;
		root =
		    json_loadb(pages[i].data, pages[i].len, PARSE_FLAGS, &jerr);
		if (!root) {
			fprintf(stderr, "page %d: %s\n", i, jerr.text);
			exit(1);
		}
		json_decref(root);
		printf("page %d: %zu bytes of JSON, tree %zu allocations, "
		       "%zu bytes (%.2fx)\n",
		       i, pages[i].len, tree_allocs, tree_bytes,
		       (double)tree_bytes / (double)pages[i].len);
		if (tree_bytes > max_bytes)
			max_bytes = tree_bytes;
		all_bytes += tree_bytes;
		all_allocs += tree_allocs;
		all_len += pages[i].len;
	}
	printf("pages=%d json_bytes=%zu tree_allocs=%zu tree_bytes=%zu "
	       "max_tree_bytes=%zu\n",
	       n, all_len, all_allocs, all_bytes, max_bytes);
}

int main(int argc, char **argv)
{
	static char buf[RENDER_BUF];
	double parse = 0, render = 0, freeing = 0, t;
	long minflt = 0, f0;
	size_t items = 0, bytes = 0, rendered = 0;
	struct page *pages;
	int trees = 0, n;

	if (argc > 1 && strcmp(argv[1], "-t") == 0) {
		trees = 1;
		argv++;
		argc--;
	}
	if (argc < 2) {
		fprintf(stderr, "usage: jansson_floor [-t] PAGE...\n");
		return 2;
	}
	n = argc - 1;
	pages = calloc((size_t)n, sizeof(*pages));
	if (!pages)
		return 1;
	for (int i = 0; i < n; i++) {
		if (read_file(argv[i + 1], &pages[i])) {
			fprintf(stderr, "%s: %s\n", argv[i + 1],
				strerror(errno));
			return 1;
		}
		bytes += pages[i].len;
	}
	if (trees) {
		measure_trees(pages, n);
		return 0;
	}
	for (int i = 0; i < n; i++) {
		json_error_t jerr;
		json_t *root, *results, *item;
		size_t k;

		t = cpu_ms();
		f0 = faults;
		root =
		    json_loadb(pages[i].data, pages[i].len, PARSE_FLAGS, &jerr);
		parse += cpu_ms() - t;
		minflt += faults - f0;
		results = json_object_get(root, "results");
		if (!json_is_array(results)) {
			fprintf(stderr, "%s: no results array: %s\n",
				argv[i + 1], root ? "" : jerr.text);
			return 1;
		}
		t = cpu_ms();
		f0 = faults;
		json_array_foreach (results, k, item) {
			size_t len =
			    json_dumpb(item, buf, sizeof(buf), RENDER_FLAGS);

			if (len > sizeof(buf)) { /* as render.c: again, whole */
				char *text = json_dumps(item, RENDER_FLAGS);

				free(text);
			}
			rendered += len;
		}
		render += cpu_ms() - t;
		minflt += faults - f0;
		items += json_array_size(results);
		t = cpu_ms();
		json_decref(root);
		freeing += cpu_ms() - t;
	}
	printf("pages=%d items=%zu bytes=%zu rendered=%zu parse_ms=%.1f "
	       "render_ms=%.1f floor_ms=%.1f free_ms=%.1f minflt=%ld\n",
	       n, items, bytes, rendered, parse, render, parse + render,
	       freeing, minflt);
	for (int i = 0; i < n; i++)
		free(pages[i].data);
	free(pages);
	return 0;
}
