/* url.c - the API's URL as the command line gives it, checked once with
 * libcurl's URL parser before anything is sent to it (see url.h). */
#include "mpfs/url.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Whether a host name or address is this machine's loopback. */
static int is_loopback(const char *host)
{
	unsigned char a[16];
	char h[256];
	size_t n = strlen(host);

	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		snprintf(h, sizeof(h), "%.*s", (int)(n - 2), host + 1);
		host = h;
	}
	if (strcasecmp(host, "localhost") == 0)
		return 1; /* libcurl resolves it to loopback itself */
	if (inet_pton(AF_INET, host, a) == 1)
		return a[0] == 127;
	if (inet_pton(AF_INET6, host, a) == 1)
		return memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0;
	return 0;
}

/* Where the host and port of url begin (past "scheme://"), and where
 * they end. For printing only: libcurl parses the URL. */
static const char *authority(const char *url, const char **end)
{
	const char *a = strstr(url, "://");

	a = a ? a + 3 : url;
	*end = a + strcspn(a, "/?#");
	return a;
}

/* url as it may be printed: a user name and password in it (before the
 * last '@' of its authority) replaced by "***", so that a secret put
 * there is never written back. */
static void printable_url(const char *url, char *out, size_t size)
{
	const char *end, *a = authority(url, &end), *at = NULL;

	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	if (at)
		snprintf(out, size, "%.*s***%s", (int)(a - url), url, at);
	else
		snprintf(out, size, "%s", url);
}

/* The port as written in url, for a message once libcurl has refused it:
 * after the last ':' of the host and port (past an IPv6 address's ']'). */
static void port_text(const char *url, char *out, size_t size)
{
	const char *end, *a = authority(url, &end), *colon = NULL;

	for (const char *p = a; p < end; p++)
		if (*p == '@')
			a = p + 1;
	for (const char *p = a; p < end; p++)
		if (*p == ':')
			colon = p;
		else if (*p == ']')
			colon = NULL;
	if (colon)
		snprintf(out, size, "%.*s", (int)(end - colon - 1), colon + 1);
	else
		snprintf(out, size, "?");
}

/* One line for a port that is not one: "port 99999 is outside
 * 1-65535". */
static void bad_port(const char *shown, const char *port)
{
	int digits = *port && strspn(port, "0123456789") == strlen(port);

	if (digits)
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: port %s is outside "
			"1-65535\n",
			shown, port);
	else
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: port '%s' is not a "
			"number from 1 to 65535\n",
			shown, port);
}

/* A part of the URL (CURLUPART_*), for curl_free; NULL when it has none. */
static char *url_part(CURLU *u, CURLUPart what)
{
	char *v = NULL;

	if (curl_url_get(u, what, &v, 0) != CURLUE_OK)
		v = NULL;
	return v;
}

/* What the parsed URL must not have: credentials (the key goes in a
 * header, from api_key_file or the environment), a port outside 1-65535,
 * a path, a query or a fragment (mixpeekfs appends /v1/... to it). -1
 * after one line on stderr. */
static int check_parts(CURLU *u, const char *url, const char *shown)
{
	static const char alone[] = "give the server alone, as "
				    "https://api.mixpeek.com (mixpeekfs adds "
				    "the /v1/... paths)";
	char *user = url_part(u, CURLUPART_USER);
	char *password = url_part(u, CURLUPART_PASSWORD);
	char *port = url_part(u, CURLUPART_PORT);
	char *path = url_part(u, CURLUPART_PATH);
	char *query = url_part(u, CURLUPART_QUERY);
	char *fragment = url_part(u, CURLUPART_FRAGMENT);
	int r = -1;

	if (user || password)
		fprintf(stderr, "mixpeekfs: api_url must not hold credentials: "
				"give the key with api_key_file\n");
	else if (port && strtol(port, NULL, 10) == 0)
		bad_port(shown, port);
	else if (path && strcmp(path, "/") != 0)
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: has a path (%s): %s\n",
			shown, path, alone);
	else if (query)
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: has a query (?%s): %s\n",
			shown, query, alone);
	else if (fragment || strchr(url, '#')) /* libcurl drops "#" alone */
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: has a fragment (#%s): "
			"%s\n",
			shown, fragment ? fragment : "", alone);
	else
		r = 0;
	curl_free(user);
	curl_free(password);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_free(fragment);
	return r;
}

int mpfs_url_check(const char *url, int allow_http)
{
	char shown[2048], port[64];
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode rc;
	int r = -1;

	printable_url(url, shown, sizeof(shown));
	if (!u) {
		fprintf(stderr, "mixpeekfs: out of memory\n");
		return -1;
	}
	rc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (rc == CURLUE_BAD_PORT_NUMBER) {
		port_text(url, port, sizeof(port));
		bad_port(shown, port);
	} else if (rc == CURLUE_NO_HOST) {
		fprintf(stderr, "mixpeekfs: option api_url=%s: no host\n",
			shown);
	} else if (rc || !(scheme = url_part(u, CURLUPART_SCHEME)) ||
		   (strcmp(scheme, "http") != 0 &&
		    strcmp(scheme, "https") != 0)) {
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: not an "
			"http:// or https:// URL\n",
			shown);
	} else if (!(host = url_part(u, CURLUPART_HOST))) {
		fprintf(stderr, "mixpeekfs: option api_url=%s: no host\n",
			shown);
	} else if (check_parts(u, url, shown)) {
		/* said */
	} else if (strcmp(scheme, "http") == 0 && !is_loopback(host) &&
		   !allow_http) {
		fprintf(stderr,
			"mixpeekfs: option api_url=%s: the key would go to "
			"'%s' unencrypted; use https:// (or -o allow_http)\n",
			shown, host);
	} else {
		r = 0;
	}
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return r;
}
