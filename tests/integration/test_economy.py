"""Request economy: a listed view is refreshed by listing it again, once a
ttl, shared by every reader of every file of it; never one GET a file. A
GET only for a sync no listing brought. Counted from the local API's log,
never timed."""
import errno
import os
import time

import pytest

from conftest import list_requests, render, run, stats, wait_for

BUCKET = "bkt_marketing"


def gets(api):
    return [r for r in api.log() if r["method"] == "GET"]


def test_grep_over_a_listed_view_refreshes_it_by_listing(large_api, mount):
    """ttl=1 over 12,345 syncs: grep -rl again and again for 15 s costs no
    GET of a sync, and at most one refresh (14 pages) a second."""
    api = large_api
    api.clear_faults()
    m = mount(api, "ttl=1")
    view = m.p("bkt_12k", "all")
    assert len(os.listdir(view)) == 12345
    api.reset_log()
    start = time.monotonic()
    passes = 0
    while time.monotonic() - start < 15:
        out = run("grep", "-rl", "FAILED", view).stdout.split()
        assert len(out) == len(api.store.syncs("bkt_12k", status="FAILED"))
        passes += 1
    elapsed = time.monotonic() - start
    lists = len(list_requests(api, "bkt_12k"))
    print(f"\n{passes} passes of grep -rl in {elapsed:.1f} s: {lists} list requests, "
          f"{len(gets(api))} GETs")
    assert gets(api) == []
    assert lists <= 14 * elapsed + 28
    s = stats(m)
    assert s["requests"]["sync_get"] == 0
    assert s["requests_last_minute"]["sync_list"] >= lists


def test_polling_a_view_refreshes_it_once_a_ttl(api, mount):
    m = mount(api, "ttl=2")
    view = m.p(BUCKET, "by-status", "failed")
    want = sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET, status="FAILED"))
    start = time.monotonic()
    polls = 0
    while time.monotonic() - start < 10:
        assert sorted(os.listdir(view)) == want
        polls += 1
        wait_for(lambda: time.monotonic() > start + polls * 0.1, "the next poll")
    refreshes = [r for r in list_requests(api, BUCKET) if r["body"].get("status") == "FAILED"]
    print(f"\n{polls} polls of ls in 10 s at ttl=2: {len(refreshes)} refreshes")
    assert 1 <= len(refreshes) <= 6
    assert gets(api) == []


def test_changes_show_after_a_refresh(api, mount):
    """A sync deleted upstream is ENOENT, a new one appears, a changed one
    shows its new bytes under every view; all by listing, no GET."""
    m = mount(api, "ttl=1", expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/[^']*': no such sync in this view$"])
    objs = api.store.syncs(BUCKET, status="FAILED")
    gone, changed = objs[0], objs[1]
    views = ["all", "by-status/failed", f"by-connection/{changed['connection_id']}",
             "active" if changed["is_active"] else "inactive"]
    for v in views:
        os.listdir(m.p(BUCKET, v))
    for v in views[:2]:
        assert read(m.p(BUCKET, v, changed["sync_config_id"] + ".json")) == render(changed)
    api.store.delete_sync(BUCKET, gone["sync_config_id"])
    added = api.store.add_sync(BUCKET, {"status": "FAILED"})
    new = api.store.update_sync(BUCKET, changed["sync_config_id"], last_error="a new error, longer than before")
    api.reset_log()
    try:
        gone_path = m.p(BUCKET, "by-status", "failed", gone["sync_config_id"] + ".json")
        wait_for(lambda: not os.path.exists(gone_path), "the deleted sync to go")
        with pytest.raises(OSError) as e:
            os.stat(m.p(BUCKET, "all", gone["sync_config_id"] + ".json"))
        assert e.value.errno == errno.ENOENT
        wait_for(lambda: added["sync_config_id"] + ".json" in os.listdir(m.p(BUCKET, "by-status", "failed")),
                 "the new sync to show")
        for v in views:
            p = m.p(BUCKET, v, changed["sync_config_id"] + ".json")
            wait_for(lambda: read(p) == render(new), f"the new bytes in {v}")
        assert gets(api) == []
    finally:
        api.store.delete_sync(BUCKET, added["sync_config_id"])
        api.store.add_sync(BUCKET, gone)
        api.store.update_sync(BUCKET, changed["sync_config_id"], last_error=changed["last_error"],
                              updated_at=changed["updated_at"])


def test_a_never_listed_sync_is_one_get_a_ttl(api, mount):
    m = mount(api, "ttl=1")
    o = api.store.syncs(BUCKET)[5]
    path = m.p(BUCKET, "all", o["sync_config_id"] + ".json")
    assert run("cat", path).stdout.encode() == render(o)
    assert [r["path"] for r in gets(api)] == [f"/v1/buckets/{BUCKET}/syncs/{o['sync_config_id']}"]
    t = time.monotonic()
    wait_for(lambda: time.monotonic() > t + 1.2, "ttl to pass")
    api.reset_log()
    assert run("cat", path).stdout.encode() == render(o)
    assert [r["path"] for r in gets(api)] == [f"/v1/buckets/{BUCKET}/syncs/{o['sync_config_id']}"]
    assert list_requests(api, BUCKET) == []  # (the bucket itself is looked up anew: a bucket list)


def read(path):
    with open(path, "rb") as f:
        return f.read()
