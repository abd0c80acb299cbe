"""/.mixpeekfs/stats.json, read before and after what an operator does:
the counters move by what the API's request log says happened, and a slow
listing shows in listings_in_progress with its pages done and total."""
import errno
import json
import os
import threading

import pytest

from conftest import list_requests, pages_needed, run, wait_for

BUCKET = "bkt_marketing"


def stats(m):
    with open(m.p(".mixpeekfs", "stats.json")) as f:
        return json.load(f)


def test_hidden_from_ls_shown_by_ls_a(api, mount):
    m = mount(api)
    assert ".mixpeekfs" not in run("ls", m.p()).stdout.split()
    assert ".mixpeekfs" in run("ls", "-a", m.p()).stdout.split()
    assert run("ls", m.p(".mixpeekfs")).stdout.split() == ["stats.json"]
    s = stats(m)
    assert set(s) >= {"requests", "retries", "errors", "cache", "bytes_received", "listings_in_progress"}


def test_counters_move_with_a_listing(api, mount):
    m = mount(api, "page_size=10")
    before = stats(m)
    api.reset_log()
    names = os.listdir(m.p(BUCKET, "all"))
    after = stats(m)
    n = len(api.store.syncs(BUCKET))
    assert len(names) == n
    pages = len(list_requests(api, BUCKET))
    assert pages == pages_needed(n, first=10, later=10)
    assert after["requests"]["sync_list"] - before["requests"]["sync_list"] == pages
    moved = {k: after["requests"][k] - before["requests"][k] for k in after["requests"]}
    assert moved["total"] == len(api.log())
    assert moved["sync_get"] == 0
    # each page of 10 pretty objects is well over 5 kB of JSON
    assert after["bytes_received"] - before["bytes_received"] > 5000 * (pages - 1)
    assert after["cache"]["misses"] > before["cache"]["misses"]
    assert after["listings_in_progress"] == []
    # listed again within ttl: from the cache, no request
    api.reset_log()
    hits = after["cache"]["hits"]
    os.listdir(m.p(BUCKET, "all"))
    again = stats(m)
    assert list_requests(api) == []
    assert again["requests"]["sync_list"] == after["requests"]["sync_list"]
    assert again["cache"]["hits"] > hits


def test_retries_and_errors_by_kind(api, mount):
    m = mount(api, expect_stderr=[r"no such sync", r"stat '/bkt_marketing/all/nope.json'"])
    before = stats(m)
    api.add_fault("status", path_re=r"/syncs/list", status=503, count=1)
    os.listdir(m.p(BUCKET, "active"))
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", "nope.json"))
    assert e.value.errno == errno.ENOENT
    after = stats(m)
    assert after["retries"] - before["retries"] == 1
    assert after["requests"]["sync_list"] - before["requests"]["sync_list"] == 2
    assert after["requests"]["sync_get"] - before["requests"]["sync_get"] == 1
    assert after["errors"]["not_found"] - before["errors"]["not_found"] == 1
    assert after["errors"]["server"] == before["errors"]["server"]  # the retry succeeded


def test_a_slow_listing_is_in_progress(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api, "page_size=1000")
    large_api.add_fault("latency", path_re=r"bkt_10k/syncs/list", seconds=1.5, count=1)
    done = []
    reader = threading.Thread(target=lambda: done.append(len(os.listdir(m.p("bkt_10k", "all")))))
    reader.start()
    try:
        seen = []

        def in_progress():
            seen[:] = [x for x in stats(m)["listings_in_progress"] if x["path"] == "/bkt_10k/all"]
            return seen and seen[0]["fetching"]

        wait_for(in_progress, "the listing to show in stats.json")
        assert seen[0]["pages_done"] == 0
    finally:
        reader.join(timeout=30)
    large_api.clear_faults()
    assert done == [10000]
    assert [x for x in stats(m)["listings_in_progress"] if x["path"] == "/bkt_10k/all"] == []


def test_pages_done_and_total_while_a_reader_pauses(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api, "page_size=1000")
    with os.scandir(m.p("bkt_12k", "all")) as it:
        first = [next(it) for _ in range(5)]  # one page (or two, read ahead) of 1000
        assert len(first) == 5
        (entry,) = [x for x in stats(m)["listings_in_progress"] if x["path"] == "/bkt_12k/all"]
        assert 1 <= entry["pages_done"] <= 2
        assert entry["items"] == entry["pages_done"] * 1000
        assert entry["total"] == 12345
