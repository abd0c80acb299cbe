/* HTTP status to errno, and list answers taken apart. */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "mpfs/api.h"
#include "mpfs/err.h"

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

	return mpfs_api_parse_page(body, strlen(body), page, &err);
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

int main(void)
{
	test_status_errno();
	test_parse_page();
	return check_done();
}
