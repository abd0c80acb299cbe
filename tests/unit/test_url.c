/* The API's URL as the command line gives it: what is taken, what is
 * refused, and that a refusal's line never shows a password. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "mpfs/url.h"

/* mpfs_url_check(url, allow_http), its stderr caught into said. */
static int check(const char *url, int allow_http, char *said, size_t size)
{
	FILE *f = tmpfile();
	int saved = dup(2), r;
	size_t n;

	fflush(stderr);
	dup2(fileno(f), 2);
	r = mpfs_url_check(url, allow_http);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	n = fread(said, 1, size - 1, f);
	said[n] = '\0';
	fclose(f);
	return r;
}

static void test_taken(void)
{
	static const char *const ok[] = {
	    "https://api.mixpeek.com", "https://api.mixpeek.com/",
	    "http://127.0.0.1:8080",   "http://localhost:1",
	    "http://[::1]:65535",      "https://10.0.0.1",
	};
	char said[512];

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		CHECK(check(ok[i], 0, said, sizeof(said)) == 0);
		CHECK(said[0] == '\0');
	}
	/* Plain http off the machine, when the user says so. */
	CHECK(check("http://example.com", 1, said, sizeof(said)) == 0);
}

static void test_refused(void)
{
	static const struct {
		const char *url, *says;
	} bad[] = {
	    {"http://example.com", "unencrypted"},
	    {"ftp://example.com", "not an http:// or https:// URL"},
	    {"https://api.mixpeek.com/v1", "has a path (/v1)"},
	    {"https://api.mixpeek.com?x=1", "has a query (?x=1)"},
	    {"https://api.mixpeek.com#", "has a fragment"},
	    {"https://api.mixpeek.com:99999", "port 99999 is outside 1-65535"},
	    {"https://api.mixpeek.com:0", "port 0 is outside 1-65535"},
	    {"https://api.mixpeek.com:http", "is not a number"},
	    {"https://", "no host"},
	    {"", "not an http:// or https:// URL"},
	    {"https://me:secret@api.mixpeek.com", "must not hold credentials"},
	};
	char said[512];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK(check(bad[i].url, 0, said, sizeof(said)) == -1);
		CHECK(strstr(said, bad[i].says) != NULL);
		if (!strstr(said, bad[i].says))
			printf("#   %s: %s", bad[i].url, said);
		CHECK(strchr(said, '\n') == strrchr(said, '\n')); /* one line */
	}
	/* A password in a URL refused for another fault is not shown. */
	CHECK(check("ftp://me:secret@example.com", 0, said, sizeof(said)) ==
	      -1);
	CHECK(strstr(said, "secret") == NULL);
	CHECK(strstr(said, "ftp://***@example.com") != NULL);
}

int main(void)
{
	test_taken();
	test_refused();
	return check_done();
}
