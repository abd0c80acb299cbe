/* libFuzzer: ids to file names and back, and paths to nodes. Each id has
 * exactly one name: encode then decode gives the id back, and a name that
 * decodes encodes to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mpfs/path.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char name[3 * 1024 + 1], back[1025];
	struct mpfs_node node;
	size_t n;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';

	/* id -> name -> id */
	n = mpfs_name_encode(s, name, sizeof(name));
	if (n <= MPFS_NAME_MAX && *s) {
		if (strchr(name, '/'))
			abort();
		if (mpfs_name_decode(name, back, sizeof(back)) != 0 ||
		    strcmp(back, s) != 0)
			abort();
	}
	/* name -> id -> name */
	if (mpfs_name_decode(s, back, sizeof(back)) == 0) {
		n = mpfs_name_encode(back, name, sizeof(name));
		if (n >= sizeof(name) || strcmp(name, s) != 0)
			abort();
	}
	/* every id has a file name of at most NAME_MAX, without '/' */
	if (*s) {
		char file[MPFS_NAME_MAX + 1];
		size_t len = mpfs_file_name(s, ".json", file, sizeof(file));
		const char *mark = strstr(file, MPFS_SHORT_MARK);

		n = mpfs_name_encode(s, NULL, 0);
		if (len > MPFS_NAME_MAX || len != strlen(file) ||
		    strchr(file, '/') || !mark != (n + 5 <= MPFS_NAME_MAX))
			abort();
		/* a short form's prefix cuts no %XX */
		for (const char *p = file; mark && p < mark; p++)
			if (*p == '%' && p + 3 > mark)
				abort();
	}
	/* any path: parsed or refused, never more */
	mpfs_path_parse(s, &node);
	free(s);
	return 0;
}
