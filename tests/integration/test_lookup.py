"""Paths opened without listing their directory: a file is one GET, it exists
in a filtered view only if it matches the filter, and what does not exist is
ENOENT with one info line in the log."""
import errno
import os
import re

import pytest

from conftest import list_requests, pages_needed, render, run

BUCKET = "bkt_marketing"


def info(path, rest):
    return r"^mixpeekfs: info: stat '%s': %s$" % (re.escape(path), rest)


def info_after(path, request, reason):
    """The line of an ENOENT decided on an answer: the request it came from
    may be named (as 'REQUEST: http 200: ') before the reason."""
    return info(path, r"(%s: http 200: )?%s" % (re.escape(request), re.escape(reason)))


def gets(api):
    return [r for r in api.log() if r["method"] == "GET"]


def one_of(api, status, exclude_connection=None):
    objs = api.store.syncs(BUCKET, status=status)
    for o in objs:
        if exclude_connection is None or o["connection_id"] != exclude_connection:
            return o
    raise AssertionError(f"no {status} sync in the data set")


def enoent(path):
    with pytest.raises(OSError) as e:
        os.stat(path)
    assert e.value.errno == errno.ENOENT, e.value


def test_cat_without_listing_is_one_get(api, mount):
    m = mount(api)
    obj = api.store.syncs(BUCKET)[17]
    sid = obj["sync_config_id"]
    out = run("cat", m.p(BUCKET, "all", sid + ".json")).stdout.encode()
    assert out == render(obj)
    assert [r["path"] for r in gets(api)] == [f"/v1/buckets/{BUCKET}/syncs/{sid}"]
    assert list_requests(api) == []
    # the only other request allowed is the one check that the bucket exists
    others = [r for r in api.log() if r["method"] != "GET"]
    assert len(others) <= 1
    assert all(r["method"] == "POST" and r["path"] == "/v1/buckets/list" for r in others)
    api.reset_log()
    assert run("cat", m.p(BUCKET, "all", sid + ".json")).stdout.encode() == render(obj)
    assert api.log() == []  # within ttl: from the cache


def test_failed_sync_opens_in_by_status_failed(api, mount):
    m = mount(api)
    obj = one_of(api, "FAILED")
    path = m.p(BUCKET, "by-status", "failed", obj["sync_config_id"] + ".json")
    with open(path, "rb") as f:
        assert f.read() == render(obj)
    assert len(gets(api)) == 1
    assert list_requests(api) == []


def test_sync_of_another_status_is_not_in_by_status_failed(api, mount):
    obj = one_of(api, "COMPLETED")
    name = obj["sync_config_id"] + ".json"
    m = mount(api, expect_stderr=[info_after(f"/{BUCKET}/by-status/failed/{name}",
                                             f"GET /v1/buckets/{BUCKET}/syncs/{obj['sync_config_id']}",
                                             "no such sync in this view")])
    enoent(m.p(BUCKET, "by-status", "failed", name))
    r = run("cat", m.p(BUCKET, "by-status", "failed", name), check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert os.stat(m.p(BUCKET, "by-status", "completed", name)).st_size == len(render(obj))
    assert [r["path"] for r in gets(api)] == [f"/v1/buckets/{BUCKET}/syncs/{obj['sync_config_id']}"]
    assert list_requests(api) == []


def test_sync_of_another_connection_is_not_in_by_connection(api, mount):
    obj = one_of(api, "COMPLETED", exclude_connection="conn_s3_prod")
    name = obj["sync_config_id"] + ".json"
    where = f"/{BUCKET}/by-connection/conn_s3_prod/{name}"
    m = mount(api, expect_stderr=[info_after(where, f"GET /v1/buckets/{BUCKET}/syncs/{obj['sync_config_id']}",
                                             "no such sync in this view")])
    enoent(m.p(where.lstrip("/")))
    conn = obj["connection_id"]
    with open(m.p(BUCKET, "by-connection", conn, name), "rb") as f:
        assert f.read() == render(obj)
    sync_gets = [r["path"] for r in gets(api) if "/syncs/" in r["path"]]
    assert sync_gets == [f"/v1/buckets/{BUCKET}/syncs/{obj['sync_config_id']}"]
    assert list_requests(api) == []


def test_unknown_sync_is_enoent(api, mount):
    m = mount(api, expect_stderr=[info(f"/{BUCKET}/all/sync_nope.json",
                                       re.escape(f"GET /v1/buckets/{BUCKET}/syncs/sync_nope: http 404: ")
                                       + ".*")])
    enoent(m.p(BUCKET, "all", "sync_nope.json"))
    r = run("cat", m.p(BUCKET, "all", "sync_nope.json"), check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert {r["path"] for r in gets(api)} == {f"/v1/buckets/{BUCKET}/syncs/sync_nope"}
    assert list_requests(api) == []


def test_unknown_bucket_is_enoent(api, mount):
    m = mount(api, expect_stderr=[info_after("/bkt_nope", "POST /v1/buckets/list", "no such bucket")])
    enoent(m.p("bkt_nope"))
    assert len(m.stderr().splitlines()) == 1  # one failed lookup, one line
    r = run("ls", m.p("bkt_nope", "all"), check=False)
    assert r.returncode == 2 and "No such file or directory" in r.stderr
    assert list_requests(api) == []


@pytest.mark.parametrize("status", ["bogus", "paused"])
def test_status_the_api_refuses_is_enoent(api, mount, status):
    where = f"/{BUCKET}/by-status/{status}"
    m = mount(api, expect_stderr=[info(where, re.escape(f"POST /v1/buckets/{BUCKET}/syncs/list?")
                                       + r"\S+: http 422: .*")])
    enoent(m.p(where.lstrip("/")))
    r = run("ls", m.p(where.lstrip("/")), check=False)
    assert r.returncode == 2 and "No such file or directory" in r.stderr
    reqs = list_requests(api, BUCKET)
    assert reqs and all(r["body"] == {"status": status.upper()} and r["status"] == 422 for r in reqs)


def test_upper_case_status_is_passed_to_the_api_as_is(api, mount):
    m = mount(api)
    truth = api.store.syncs(BUCKET, status="FAILED")
    os.stat(m.p(BUCKET))
    api.reset_log()
    assert os.path.isdir(m.p(BUCKET, "by-status", "FAILED"))
    shown = os.listdir(m.p(BUCKET, "by-status", "FAILED"))
    assert sorted(shown) == sorted(o["sync_config_id"] + ".json" for o in truth)
    reqs = list_requests(api, BUCKET)
    assert [r["body"] for r in reqs] == [{"status": "FAILED"}] * pages_needed(len(truth))
    obj = truth[0]
    with open(m.p(BUCKET, "by-status", "FAILED", obj["sync_config_id"] + ".json"), "rb") as f:
        assert f.read() == render(obj)


def test_unused_connection_is_an_empty_directory(api, mount):
    m = mount(api)
    assert os.path.isdir(m.p(BUCKET, "by-connection", "conn_unused"))
    assert [r["path"] for r in gets(api)] == ["/v1/organizations/connections/conn_unused"]
    assert run("ls", "-A", m.p(BUCKET, "by-connection", "conn_unused")).stdout == ""
    assert [r["body"] for r in list_requests(api, BUCKET)] == [{"connection_id": "conn_unused"}]


def test_unknown_connection_is_enoent(api, mount):
    where = f"/{BUCKET}/by-connection/conn_nope"
    m = mount(api, expect_stderr=[info(where, re.escape("GET /v1/organizations/connections/conn_nope: http 404: ")
                                       + ".*")])
    enoent(m.p(where.lstrip("/")))
    assert {r["path"] for r in gets(api)} == {"/v1/organizations/connections/conn_nope"}
    assert list_requests(api) == []


def test_cd_and_stat_of_views_make_no_requests(api, mount):
    m = mount(api)
    os.stat(m.p(BUCKET))  # the bucket is known from here on
    api.reset_log()
    views = ["all", "active", "inactive", "by-status", "by-status/failed", "by-connection"]
    run("stat", *[m.p(BUCKET, v) for v in views])
    for v in views:
        run("sh", "-c", 'cd "$1" && pwd', "sh", m.p(BUCKET, v))
        assert os.path.isdir(m.p(BUCKET, v))
    assert api.log() == []


def test_first_stat_of_a_view_costs_at_most_the_bucket_check(api, mount):
    m = mount(api)
    run("stat", m.p(BUCKET, "all"), m.p(BUCKET, "by-status", "failed"))
    reqs = api.log()
    assert len(reqs) <= 1
    assert all(r["method"] == "POST" and r["path"] == "/v1/buckets/list" for r in reqs)


def test_a_status_that_is_not_utf8_does_not_exist(api, mount):
    """A name no status can have: ENOENT, nothing sent (not taken for a
    lack of memory)."""
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/by-status/.*': "
                                  r"the status asked for is not UTF-8$"])
    os.listdir(m.p("bkt_marketing"))
    api.reset_log()
    with pytest.raises(OSError) as e:
        os.stat(os.fsencode(m.p("bkt_marketing", "by-status")) + b"/fail\xffed")
    assert e.value.errno == errno.ENOENT
    assert api.log() == []


def test_a_name_cannot_break_a_log_line(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/all/x\\x0Ay\\x1B\[2J\.json': no such path$"])
    with pytest.raises(OSError) as e:
        os.stat(m.p("bkt_marketing", "all", "x\ny\x1b[2J.json"))
    assert e.value.errno == errno.ENOENT
    assert len(m.stderr().splitlines()) == 1
