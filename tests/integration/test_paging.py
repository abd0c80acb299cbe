"""Lazy paginated listings on large buckets: complete past the API's offset
limit, fetched only as far as the reader reads, cached for ttl and shared by
readers, and stable when items move between pages during a listing."""
import os
import subprocess
import threading

import pytest

from conftest import assert_offsets_cover, list_requests, pages_needed, render, run, wait_for
from mockapi.server import MockAPI


def names(objs):
    return {o["sync_config_id"] + ".json" for o in objs}


def prime_buckets(m):
    """Lists the root so that bucket lookups cost nothing afterwards."""
    os.listdir(m.p())


def test_ls_f_of_12345_syncs_is_complete(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api)
    prime_buckets(m)
    large_api.reset_log()
    path = m.p("bkt_12k", "all")
    # Each page answered a quarter of a second after it arrives: the order
    # in which requests reach the API then shows the order the daemon sent
    # them in (a page sent after a first-wave answer arrives that much
    # later), not which of the pages sent at once happened to get a core
    # first (on two loaded cores, one once arrived after the next wave).
    large_api.add_fault("latency", path_re="/buckets/bkt_12k/syncs/list", seconds=0.25)
    try:
        lines = run("ls", "-f", path).stdout.splitlines()
    finally:
        large_api.clear_faults()
    reqs = list_requests(large_api, "bkt_12k")
    print(f"\nls -f bkt_12k/all (12,345 syncs): {len(reqs)} list requests "
          f"({sum('offset' in r['query'] for r in reqs)} by offset, "
          f"{sum('cursor' in r['query'] for r in reqs)} by cursor)")
    truth = large_api.store.syncs("bkt_12k")
    shown = [n for n in lines if n not in (".", "..")]
    assert len(shown) == len(set(shown)) == 12345
    assert set(shown) == names(truth)
    # offset pages without a gap, never past the API's limit; the cursor
    # chain from the page that reaches past it, which is asked for in the
    # first wave (the chain starts at once, while other offset pages come)
    by_offset = [r for r in reqs if "offset" in r["query"]]
    by_cursor = [r for r in reqs if "cursor" in r["query"]]
    assert sorted(reqs, key=lambda r: r["seq"]) == reqs
    crossing = next(i for i, r in enumerate(reqs)
                    if "offset" in r["query"] and int(r["query"]["offset"]) + 1000 > 10000)
    assert crossing <= 9, [r["query"] for r in reqs]  # among the first wave (1 + 8)
    assert reqs.index(by_cursor[0]) > crossing
    pages = assert_offsets_cover(by_offset)
    assert all(offset <= 10000 for offset, _ in pages)
    assert pages[-1][0] + pages[-1][1] > 10000 and by_cursor
    assert len({r["query"]["cursor"] for r in by_cursor}) == len(by_cursor)
    assert all(r["status"] == 200 and r["body"] == {} for r in reqs)
    assert len(reqs) == pages_needed(12345) == 14
    assert large_api.log() == reqs  # nothing but the pages
    # the same listing through a pipe, from the cache; '.' and '..' included
    large_api.reset_log()
    wc = run("sh", "-c", 'ls -f "$1" | wc -l', "sh", path).stdout.strip()
    assert large_api.log() == []
    assert int(wc) == 12345 + 2, "ls -f must show '.' and '..' too"


def test_10000_syncs_by_offset_only(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api)
    prime_buckets(m)
    large_api.reset_log()
    shown = os.listdir(m.p("bkt_10k", "all"))
    reqs = list_requests(large_api, "bkt_10k")
    print(f"\nls bkt_10k/all (10,000 syncs): {len(reqs)} list requests")
    assert len(shown) == len(set(shown)) == 10000
    assert set(shown) == names(large_api.store.syncs("bkt_10k"))
    assert all("offset" in r["query"] for r in reqs)
    assert len(reqs) == pages_needed(10000) == 11


def test_a_listing_that_ends_right_past_the_offset_limit_is_complete(mount):
    """10,100 syncs: the page at offset 9,100 brings the last 1,000 and the
    API, having nothing more, gives no cursor. The listing is complete."""
    with MockAPI("large") as api:
        for _ in range(100):
            api.store.add_sync("bkt_10k")
        m = mount(api, expect_stderr=[r"^mixpeekfs: error: readdir '/bkt_10k/all': .*"])
        prime_buckets(m)
        api.reset_log()
        try:
            shown = os.listdir(m.p("bkt_10k", "all"))
        except OSError as e:
            pytest.fail(f"{e}; mixpeekfs logged: {m.stderr()}")
        reqs = list_requests(api, "bkt_10k")
        print(f"\nls bkt_10k/all (10,100 syncs): {len(reqs)} list requests")
        assert len(shown) == 10100
        assert set(shown) == names(api.store.syncs("bkt_10k"))
        assert len(reqs) == pages_needed(10100) == 12
        m.umount()  # while the API still runs


def test_a_reader_that_stops_after_one_entry_fetches_at_most_two_pages(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api)
    prime_buckets(m)
    large_api.reset_log()
    it = os.scandir(m.p("bkt_12k", "all"))
    first = next(it)
    it.close()
    assert first.name in names(large_api.store.syncs("bkt_12k"))
    reqs = list_requests(large_api, "bkt_12k")
    print(f"\nfirst entry of bkt_12k/all: {len(reqs)} list requests")
    assert 1 <= len(reqs) <= 2
    assert reqs[0]["query"]["offset"] == "0"


def test_relisting_within_ttl_makes_no_requests(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api)
    prime_buckets(m)
    large_api.reset_log()
    first = run("ls", "-f", m.p("bkt_1k", "all")).stdout
    assert len(list_requests(large_api)) == pages_needed(1000) == 2
    large_api.reset_log()
    assert run("ls", "-f", m.p("bkt_1k", "all")).stdout == first
    assert sorted(os.listdir(m.p("bkt_1k", "all"))) == sorted(names(large_api.store.syncs("bkt_1k")))
    assert large_api.log() == []


def test_relisting_after_ttl_refetches(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api, "ttl=1")
    prime_buckets(m)
    large_api.reset_log()
    truth = names(large_api.store.syncs("bkt_1k"))
    assert set(os.listdir(m.p("bkt_1k", "all"))) == truth
    fetched = len(list_requests(large_api, "bkt_1k"))
    assert fetched == pages_needed(1000)

    def relisted():
        assert set(os.listdir(m.p("bkt_1k", "all"))) == truth
        return len(list_requests(large_api, "bkt_1k")) > fetched

    wait_for(relisted, "a listing after ttl to ask the API again", deadline=5)
    again = list_requests(large_api, "bkt_1k")[fetched:]
    assert again[0]["query"]["offset"] == "0"


def test_concurrent_readers_share_one_listing(large_api, mount):
    large_api.clear_faults()
    m = mount(large_api)
    prime_buckets(m)
    large_api.reset_log()
    large_api.add_fault("latency", path_re=r"/syncs/list$", seconds=0.3)
    path = m.p("bkt_1k", "all")
    procs = [subprocess.Popen(["ls", "-f", path], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    large_api.clear_faults()
    assert [p.returncode for p in procs] == [0, 0]
    truth = names(large_api.store.syncs("bkt_1k"))
    for out in outs:
        shown = [n for n in out.splitlines() if n not in (".", "..")]
        assert len(shown) == 1000 and set(shown) == truth
    assert len(list_requests(large_api, "bkt_1k")) == pages_needed(1000)
    large_api.reset_log()
    assert set(run("ls", "-f", path).stdout.splitlines()) - {".", ".."} == truth
    assert large_api.log() == []


def test_items_moving_between_pages_appear_once(api, mount):
    bucket = "bkt_marketing"
    original = names(api.store.syncs(bucket))
    m = mount(api, "page_size=5")
    os.stat(m.p(bucket))
    api.reset_log()
    api.add_fault("latency", path_re=r"/syncs/list$", count=2, seconds=0.5)
    added = []

    def insert_during_second_page():
        wait_for(lambda: len(list_requests(api, bucket)) >= 2, "the second page request")
        added.append(api.store.add_sync(bucket))

    t = threading.Thread(target=insert_during_second_page)
    t.start()
    try:
        shown = run("ls", "-f", m.p(bucket, "all")).stdout.splitlines()
        t.join(10)
        assert added, "the sync was not added during the listing"
        shown = [n for n in shown if n not in (".", "..")]
        assert len(shown) == len(set(shown)), "a name appears twice"
        assert original <= set(shown)
        assert set(shown) <= original | {added[0]["sync_config_id"] + ".json"}
        # pages by offset, 5 at a time, covering the bucket without a gap
        reqs = list_requests(api, bucket)
        assert_offsets_cover(reqs)
        assert len(reqs) <= pages_needed(len(original) + 1, 5, 5)
    finally:
        t.join(10)
        for o in added:
            api.store.delete_sync(bucket, o["sync_config_id"])


def test_ttl_0_refetches_on_every_open(api, mount):
    bucket = "bkt_support"
    m = mount(api, "ttl=0")
    truth = names(api.store.syncs(bucket))
    for i in range(1, 3):
        assert set(os.listdir(m.p(bucket, "all"))) == truth
        assert len(list_requests(api, bucket)) == i * pages_needed(len(truth))
    obj = api.store.syncs(bucket)[0]
    path = m.p(bucket, "all", obj["sync_config_id"] + ".json")
    seen = 0
    for _ in range(2):
        with open(path, "rb") as f:
            assert f.read() == render(obj)
        gets = len([r for r in api.log() if r["method"] == "GET"])
        assert gets > seen
        seen = gets
