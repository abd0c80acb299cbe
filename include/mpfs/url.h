/* url.h - the API's URL, checked before anything is sent to it. */
#ifndef MPFS_URL_H
#define MPFS_URL_H

/* url parsed by libcurl as it will be sent: http or https, nothing but
 * scheme, host and port (no credentials: the key goes in a header; no
 * path, query or fragment: mixpeekfs appends /v1/...; a port in 1-65535),
 * and the key over plain http only to loopback, unless allow_http. 0, or
 * -1 after one line on stderr that names the fault, the URL shown without
 * the credentials it may hold. */
int mpfs_url_check(const char *url, int allow_http);

#endif
