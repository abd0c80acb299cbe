"""An API that fails while mounted: transient failures are retried (honouring
Retry-After), lasting ones become EIO or EACCES with one log line, nonsense
never crashes the daemon, and everything works again once the API does,
without remounting (after the breaker's window, if the failures opened it)."""
import errno
import json
import os
import re
import time

import pytest

from conftest import BREAKER_OPEN, list_requests, render, run, works_again

BUCKET = "bkt_marketing"
LIST = re.escape(f"POST /v1/buckets/{BUCKET}/syncs/list?limit=") + r"\d+" + re.escape("&offset=0")


def error_line(op, path, rest):
    return r"^mixpeekfs: error: %s '%s': %s$" % (op, re.escape(path), rest)


@pytest.fixture
def m(api, mount):
    m = mount(api, expect_stderr=[BREAKER_OPEN])
    os.listdir(m.p())  # buckets known: the faults below hit the views only
    api.reset_log()
    return m


def view_names(api, **filters):
    return sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET, **filters))


def listdir_errno(path):
    with pytest.raises(OSError) as e:
        os.listdir(path)
    return e.value.errno


def test_unreachable_api_is_eio_until_it_comes_back(api, m):
    m.expect(error_line("opendir", f"/{BUCKET}/all", LIST + r": .* after 5 tries"))
    api.add_fault("reset")
    r = run("ls", m.p(BUCKET, "all"), check=False)
    assert r.returncode == 2 and "Input/output error" in r.stderr, r.stderr
    assert r.stdout == ""
    reqs = api.log()
    assert all(x["fault"] == "reset" and x["query"]["offset"] == "0" for x in reqs)
    # bounded: five tries (retries=4) for the first read of the directory;
    # then the breaker is open and the next read fails without a request;
    # libcurl may resend once on a reused connection it finds reset
    assert 5 <= len(reqs) <= 5 * 2
    api.reset_log()
    assert listdir_errno(m.p(BUCKET, "all")) == errno.EIO
    assert api.log() == []  # failed at once: nothing sent
    api.clear_faults()
    names = works_again(lambda: os.listdir(m.p(BUCKET, "all")), "the listing after the API came back")
    assert sorted(names) == view_names(api)


def test_429_with_retry_after_is_retried_after_waiting(api, m):
    api.add_fault("status", path_re=r"/syncs/list$", status=429, retry_after=1, count=1)
    start = time.monotonic()
    shown = run("ls", m.p(BUCKET, "all")).stdout.split()
    elapsed = time.monotonic() - start
    assert shown == view_names(api)
    reqs = list_requests(api, BUCKET)
    assert [r["status"] for r in reqs] == [429, 200]
    assert reqs[0]["query"] == reqs[1]["query"] and reqs[0]["body"] == reqs[1]["body"]
    assert elapsed >= 0.95, f"Retry-After: 1 not honoured ({elapsed:.2f}s)"


def test_503_once_is_retried(api, m):
    api.add_fault("status", path_re=r"/syncs/list$", status=503, count=1)
    assert run("ls", m.p(BUCKET, "active")).stdout.split() == view_names(api, is_active=True)
    reqs = list_requests(api, BUCKET)
    assert [r["status"] for r in reqs] == [503, 200]
    assert reqs[0]["query"] == reqs[1]["query"]


def test_500_on_every_try_is_eio(api, m):
    m.expect(error_line("opendir", f"/{BUCKET}/inactive",
                        LIST + r": http 500: Injected fault: HTTP 500 after 5 tries"))
    api.add_fault("status", path_re=r"/syncs/list$", status=500)
    assert listdir_errno(m.p(BUCKET, "inactive")) == errno.EIO
    assert [r["status"] for r in api.log()] == [500] * 5
    api.clear_faults()
    names = works_again(lambda: os.listdir(m.p(BUCKET, "inactive")), "the listing after the API came back")
    assert sorted(names) == view_names(api, is_active=False)


@pytest.mark.parametrize("status", [401, 403])
def test_key_rejected_while_mounted_is_eacces(api, m, status):
    sid = api.store.syncs(BUCKET)[3]["sync_config_id"]
    m.expect(error_line("opendir", f"/{BUCKET}/all", LIST + rf": http {status}: Injected fault: HTTP {status}"),
             error_line("stat", f"/{BUCKET}/all/{sid}.json",
                        re.escape(f"GET /v1/buckets/{BUCKET}/syncs/{sid}: http {status}: Injected fault: HTTP {status}")))
    api.add_fault("status", status=status)
    assert listdir_errno(m.p(BUCKET, "all")) == errno.EACCES
    r = run("ls", m.p(BUCKET, "all"), check=False)
    assert r.returncode == 2 and "Permission denied" in r.stderr
    with pytest.raises(OSError) as e:
        open(m.p(BUCKET, "all", sid + ".json"), "rb")
    assert e.value.errno == errno.EACCES
    assert all(r["status"] == status for r in api.log())
    # a refused key is not retried: the open made one GET
    assert [r["path"] for r in api.log() if r["method"] == "GET"] == [f"/v1/buckets/{BUCKET}/syncs/{sid}"]
    api.clear_faults()
    assert sorted(os.listdir(m.p(BUCKET, "all"))) == view_names(api)


@pytest.mark.parametrize("kind", ["garbage", "wrong_type", "truncate"])
def test_malformed_list_answer_is_eio_and_the_mount_lives_on(api, m, kind):
    m.expect(error_line("opendir", f"/{BUCKET}/by-status/failed",
                        re.escape(f"POST /v1/buckets/{BUCKET}/syncs/list?limit=") + r"\d+" + re.escape("&offset=0") + r": .+"))
    api.add_fault(kind, path_re=r"/syncs/list$")
    r = run("ls", m.p(BUCKET, "by-status", "failed"), check=False)
    assert r.returncode == 2 and "Input/output error" in r.stderr, r.stderr
    assert r.stdout == ""
    assert m.proc.poll() is None
    # an answer cut short is retried; an answer that is whole nonsense is not
    assert len(list_requests(api, BUCKET)) == (5 if kind == "truncate" else 1)
    api.clear_faults()
    names = works_again(lambda: os.listdir(m.p(BUCKET, "by-status", "failed")), "the listing")
    assert sorted(names) == view_names(api, status="FAILED")


@pytest.mark.parametrize("kind", ["garbage", "wrong_type", "truncate"])
def test_malformed_object_answer_is_eio_and_the_mount_lives_on(api, m, kind):
    obj = api.store.syncs(BUCKET)[9]
    sid = obj["sync_config_id"]
    path = m.p(BUCKET, "all", sid + ".json")
    m.expect(error_line("stat", f"/{BUCKET}/all/{sid}.json",
                        re.escape(f"GET /v1/buckets/{BUCKET}/syncs/{sid}") + r": .+"))
    api.add_fault(kind, path_re=r"/syncs/[^/]+$", method="GET")
    r = run("cat", path, check=False)
    assert r.returncode == 1 and "Input/output error" in r.stderr, r.stderr
    assert m.proc.poll() is None
    api.clear_faults()
    works_again(lambda: os.stat(path), "the object")
    assert run("cat", path).stdout.encode() == render(obj)
    assert os.stat(path).st_size == len(render(obj))


def test_a_failed_read_waits_for_one_fetch_not_the_kernels_two(api, mount):
    """The kernel follows a read that failed (its read-ahead) with a read of
    the same page at once. That second read gets the same error, without
    asking the API again: counts.json's reader, one of whose calls the API
    holds past the timeout, has its EIO after one fetch, and the log one
    line. (Before, the kernel's retry fetched every count again, so the
    read() waited two timeouts when the API hangs.)"""
    m = mount(api, "timeout=2", "retries=0")
    path = m.p(BUCKET, "counts.json")
    m.expect(error_line("read", f"/{BUCKET}/counts.json", r".*Operation timed out.*"))
    os.stat(path)
    api.reset_log()
    api.add_fault("hang", path_re=rf"^/v1/buckets/{BUCKET}/syncs/list$", count=1, seconds=30)
    r = run("cat", path, check=False)
    assert r.returncode == 1 and "Input/output error" in r.stderr
    bodies = [json.dumps(x["body"], sort_keys=True) for x in api.log() if x["path"].endswith("/syncs/list")]
    assert len(bodies) == len(set(bodies)) > 0, bodies  # no count asked twice
    assert len([ln for ln in m.stderr().splitlines() if "error: read" in ln]) == 1
    api.clear_faults()
    # a read after it asks again
    assert json.loads(run("cat", path).stdout)["all"] == len(api.store.syncs(BUCKET))


def test_a_hanging_api_times_out_as_eio(api, mount):
    m = mount(api, "timeout=1")
    sid = api.store.syncs(BUCKET)[2]["sync_config_id"]
    m.expect(error_line("stat", f"/{BUCKET}/all/{sid}.json",
                        re.escape(f"GET /v1/buckets/{BUCKET}/syncs/{sid}") + r": Operation timed out .*"))
    os.stat(m.p(BUCKET))
    api.reset_log()
    api.add_fault("hang", path_re=r"/syncs/[^/]+$", method="GET", seconds=5)
    start = time.monotonic()
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    elapsed = time.monotonic() - start
    assert e.value.errno == errno.EIO
    # timeout= bounds the whole call, retries included: one try used it up
    # (the log line says it timed out), and no other was made
    assert len(api.log()) == 1
    assert elapsed >= 0.9
    api.clear_faults()
    assert os.stat(m.p(BUCKET, "all", sid + ".json")).st_size > 0
