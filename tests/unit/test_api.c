/* HTTP status to errno, list answers taken apart, and which failed
 * requests are worth another try. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "mpfs/api.h"
#include "mpfs/err.h"
#include "mpfs/http.h"

static int errno_of_status(long status)
{
	struct mpfs_err err = {.kind = mpfs_err_kind_of_status(status)};

	return mpfs_err_errno(&err);
}

static void test_status_errno(void)
{
	CHECK(errno_of_status(200) == 0);
	CHECK(errno_of_status(404) == ENOENT);
	CHECK(errno_of_status(401) == EACCES);
	CHECK(errno_of_status(403) == EACCES);
	CHECK(errno_of_status(400) == EIO);
	CHECK(errno_of_status(422) == EIO);
	CHECK(errno_of_status(429) == EIO);
	CHECK(errno_of_status(500) == EIO);
	CHECK(errno_of_status(503) == EIO);
	CHECK(errno_of_status(302) == EIO);
	CHECK(mpfs_err_kind_of_status(429) == MPFS_E_SERVER);
	CHECK(mpfs_err_kind_of_status(422) == MPFS_E_INVALID);
}

static int parse(const char *body, struct mpfs_page *page)
{
	struct mpfs_err err;

	return mpfs_page_parse(body, strlen(body), page, &err);
}

static void test_parse_page(void)
{
	struct mpfs_page p;

	CHECK(parse("{\"results\":[{\"a\":1}],\"pagination\":{\"limit\":10,"
		    "\"offset\":0},\"total\":1}",
		    &p) == 0);
	CHECK(json_array_size(p.items) == 1 && p.total == 1 && !p.next_cursor);
	mpfs_page_release(&p);

	CHECK(parse("{\"results\":[],\"pagination\":{\"next_cursor\":\"abc\","
		    "\"total\":7,\"page\":null,\"x\":[1]}}",
		    &p) == 0);
	CHECK(p.total == 7);
	CHECK_STR(p.next_cursor, "abc");
	mpfs_page_release(&p);

	CHECK(parse("{\"results\":[],\"pagination\":{\"next_cursor\":null},"
		    "\"total\":null}",
		    &p) == 0);
	CHECK(p.total == -1 && !p.next_cursor);
	mpfs_page_release(&p);

	CHECK(parse("{\"results\":[],\"pagination\":{\"next_cursor\":\"\"}}",
		    &p) == 0);
	CHECK(!p.next_cursor);
	mpfs_page_release(&p);

	CHECK(parse("{\"results\":\"nope\"}", &p) < 0);
	CHECK(parse("{}", &p) < 0);
	CHECK(parse("[]", &p) < 0);
	CHECK(parse("<html>oops</html>", &p) < 0);
	CHECK(parse("{\"results\":[1,2", &p) < 0);
	CHECK(parse("", &p) < 0);
}

/* A server on loopback that answers each connection with answer (NULL:
 * closes it at once, unanswered), counting them. */
struct plain {
	int fd, port, accepted;
	const char *answer;
	pthread_t thread;
};

static void *plain_serve(void *p)
{
	struct plain *srv = p;
	char buf[4096];
	int c;

	while ((c = accept(srv->fd, NULL, NULL)) >= 0) {
		__atomic_add_fetch(&srv->accepted, 1, __ATOMIC_SEQ_CST);
		if (srv->answer && read(c, buf, sizeof(buf)) > 0 &&
		    write(c, srv->answer, strlen(srv->answer)) < 0)
			break;
		close(c);
	}
	return NULL;
}

static void plain_start(struct plain *srv, const char *answer)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	socklen_t len = sizeof(a);

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->answer = answer;
	srv->accepted = 0;
	srv->fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(srv->fd >= 0 && bind(srv->fd, (struct sockaddr *)&a, len) == 0 &&
	      listen(srv->fd, 8) == 0 &&
	      getsockname(srv->fd, (struct sockaddr *)&a, &len) == 0);
	srv->port = ntohs(a.sin_port);
	pthread_create(&srv->thread, NULL, plain_serve, srv);
}

static void plain_stop(struct plain *srv)
{
	shutdown(srv->fd, SHUT_RDWR);
	pthread_join(srv->thread, NULL);
	close(srv->fd);
}

/* https:// to a server that speaks plain HTTP fails in the handshake with
 * a message that says so, and is not worth another try; a connection
 * closed in the handshake is. */
static void test_https_to_plain_http(void)
{
	struct mpfs_http_cfg cfg = {.max_body = 1 << 20, .max_inflight = 1};
	struct mpfs_http_answer ans;
	struct mpfs_err err;
	struct mpfs_http *h = mpfs_http_new(&cfg, &err);
	struct plain srv;
	char url[64];

	CHECK(h != NULL);
	plain_start(&srv, "HTTP/1.1 400 Bad Request\r\nContent-Length: "
			  "0\r\nConnection: close\r\n\r\n");
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/v1/buckets/list",
		 srv.port);
	mpfs_err_clear(&err);
	CHECK(mpfs_http_open(h, "GET", url, NULL, NULL, 5000, 5000, &ans,
			     &err) == NULL);
	CHECK(err.kind == MPFS_E_TRANSPORT && mpfs_http_no_tls(&err));
	CHECK_STR(err.msg, "TLS handshake failed: the server does not speak "
			   "TLS (is it http://?)");
	CHECK(!mpfs_http_transient(&err));
	CHECK(srv.accepted == 1);
	plain_stop(&srv);

	plain_start(&srv, NULL);
	snprintf(url, sizeof(url), "https://127.0.0.1:%d/", srv.port);
	mpfs_err_clear(&err);
	CHECK(mpfs_http_open(h, "GET", url, NULL, NULL, 5000, 5000, &ans,
			     &err) == NULL);
	CHECK(err.kind == MPFS_E_TRANSPORT && !mpfs_http_no_tls(&err));
	CHECK(mpfs_http_transient(&err));
	plain_stop(&srv);
	mpfs_http_free(h);
}

/* An answer of head then body bytes of a known pattern, in memory to free. */
static char *answer_of(const char *head, size_t body)
{
	size_t n = strlen(head);
	char *a = malloc(n + body + 1);

	CHECK(a != NULL);
	memcpy(a, head, n);
	for (size_t i = 0; i < body; i++)
		a[n + i] = (char)('a' + i % 26);
	a[n + body] = '\0';
	return a;
}

/* Reads the body in pieces of 1,000 bytes, as jansson does (1,024): how
 * many bytes came, or -1; *ok: each was the pattern's. */
static long read_pattern(struct mpfs_http_req *r, int *ok)
{
	char piece[1000];
	long total = 0;
	ssize_t n;

	*ok = 1;
	while ((n = mpfs_http_read(r, piece, sizeof(piece))) > 0) {
		for (ssize_t i = 0; i < n; i++)
			if (piece[i] != (char)('a' + (total + i) % 26))
				*ok = 0;
		total += n;
	}
	return n < 0 ? -1 : total;
}

/* A client of cap bytes an answer, with a request sent to a server of
 * answer (its memory is the test's until plain_stop). */
static struct mpfs_http_req *ask(struct plain *srv, const char *answer,
				 size_t cap, struct mpfs_http **h,
				 struct mpfs_http_answer *ans,
				 struct mpfs_err *err)
{
	struct mpfs_http_cfg cfg = {.max_body = cap, .max_inflight = 1};
	char url[64];

	*h = mpfs_http_new(&cfg, err);
	CHECK(*h != NULL);
	plain_start(srv, answer);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/", srv->port);
	mpfs_err_clear(err);
	return *h ? mpfs_http_open(*h, "GET", url, NULL, NULL, 20000, 5000, ans,
				   err)
		  : NULL;
}

/* A body is read as it comes, in order, whole, while libcurl pauses for
 * the reader; one cut short or over the cap fails, and says how. */
static void test_body_as_it_comes(void)
{
	const char *length = "HTTP/1.1 200 OK\r\nContent-Length: 3000000\r\n"
			     "Connection: close\r\n\r\n";
	struct mpfs_http_answer ans;
	struct mpfs_err err;
	struct mpfs_http *h;
	struct mpfs_http_req *r;
	struct plain srv;
	char *a;
	int ok;

	/* 3 MB with its length: 48 times the request's buffer */
	a = answer_of(length, 3000000);
	r = ask(&srv, a, 4 << 20, &h, &ans, &err);
	CHECK(r != NULL && ans.status == 200 && ans.retry_after == -1);
	CHECK(r && read_pattern(r, &ok) == 3000000 && ok);
	CHECK(r && mpfs_http_close(r, &err) == 0);
	plain_stop(&srv);
	mpfs_http_free(h);
	free(a);

	/* the same, chunked (no length told), over a cap of 1 MB */
	a = answer_of("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n"
		      "Connection: close\r\n\r\n2dc6c0\r\n",
		      3000000);
	a = realloc(a, strlen(a) + 8);
	CHECK(a != NULL);
	strcat(a, "\r\n0\r\n\r\n");
	r = ask(&srv, a, 1 << 20, &h, &ans, &err);
	CHECK(r != NULL && ans.status == 200);
	CHECK(r && read_pattern(r, &ok) == -1 && ok);
	CHECK(r && mpfs_http_close(r, &err) == -1);
	CHECK(err.kind == MPFS_E_TOO_LARGE);
	CHECK_STR(err.msg, "answer larger than 1048576 bytes");
	plain_stop(&srv);
	mpfs_http_free(h);
	free(a);

	/* cut short: 3 MB told, 2 MB sent, then the connection closed */
	a = answer_of(length, 2000000);
	r = ask(&srv, a, 4 << 20, &h, &ans, &err);
	CHECK(r != NULL);
	CHECK(r && read_pattern(r, &ok) == -1 && ok);
	CHECK(r && mpfs_http_close(r, &err) == -1);
	CHECK(err.kind == MPFS_E_TRANSPORT && mpfs_http_transient(&err));
	plain_stop(&srv);
	mpfs_http_free(h);

	/* left unread: the request ends, and says so */
	r = ask(&srv, a, 4 << 20, &h, &ans, &err);
	CHECK(r != NULL);
	CHECK(r && mpfs_http_close(r, &err) == -1);
	CHECK(err.kind == MPFS_E_MALFORMED);
	plain_stop(&srv);
	mpfs_http_free(h);
	free(a);
}

int main(void)
{
	test_status_errno();
	test_parse_page();
	mpfs_http_global_init();
	test_https_to_plain_http();
	test_body_as_it_comes();
	mpfs_http_global_cleanup();
	return check_done();
}
