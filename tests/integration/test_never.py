"""Never loop, never pass off a failure as data, stop when asked.

An API that ignores offset and cursor ends every listing, within
ceil(total/step) + 2 pages when it tells its total; a 404 from a view's list
call is the bucket gone (ENOENT), not an empty directory; the root is served
from the last good bucket list, links included, while the API is down; 500s
on one bucket's routes pause that bucket only; SIGTERM ends every request in
flight and the daemon exits 0."""
import errno
import json
import math
import os
import signal
import subprocess
import time

import pytest

from conftest import BREAKER_OPEN, list_requests, run, wait_for, works_again

CUT = r"^mixpeekfs: warn: list .*: (an offset page brought no item not listed already|the API's total allows no more pages).*; showing the \d+ items had$"
STALE_LINE = r"^mixpeekfs: warn: .*serving what was fetched \d+ s ago$"


def step(limit=1000):
    """What a full page adds past its overlap (src/listing.c)."""
    return limit - (8 if limit >= 128 else 1 + limit // 16)


def bucket_requests(api):
    return [r for r in api.log() if r["path"] == "/v1/buckets/list"]


@pytest.mark.parametrize("total", [True, False], ids=["total", "no-total"])
def test_a_server_that_ignores_offset_ends_the_listing(large_api, mount, total):
    api = large_api
    api.clear_faults()
    m = mount(api, expect_stderr=[CUT, r"^mixpeekfs: info: stat '/no_such_bucket': no such bucket$"])
    api.add_fault("ignore_paging", path_re=r"/syncs/list$", total=total)
    api.add_fault("ignore_paging", path_re=r"^/v1/buckets/list$", total=total)
    try:
        names = run("ls", m.p("bkt_1k", "all")).stdout.split()
        # the first 1,000 items, which every page repeats: all of them once
        first = [o["sync_config_id"] + ".json" for o in api.store.syncs("bkt_1k")[:1000]]
        assert sorted(names) == sorted(first)
        reqs = list_requests(api, "bkt_1k")
        if total:
            assert len(reqs) <= math.ceil(1000 / step()) + 2, len(reqs)
        assert len(reqs) <= 4, len(reqs)  # ends by the page of nothing new
        shown = run("ls", m.p()).stdout.split()
        assert {b["bucket_id"] for b in api.store.buckets()} <= set(shown)
        assert len(bucket_requests(api)) <= math.ceil(len(api.store.buckets()) / step()) + 2
        # a name that is no bucket does not wait behind an endless listing
        assert not os.path.exists(m.p("no_such_bucket"))
    finally:
        api.clear_faults()
    assert "showing the 1000 items had" in m.stderr()


def test_a_404_from_a_views_list_call_is_enoent_not_an_empty_directory(api, mount):
    m = mount(api, expect_stderr=[
        r"^mixpeekfs: warn: list /bkt_marketing/by-status/failed: .*: the bucket is gone$",
        r"^mixpeekfs: info: opendir '/bkt_marketing/by-status/failed': .*http 404.*"])
    api.add_fault("status", path_re=r"/buckets/bkt_marketing/syncs/list$", status=404)
    try:
        r = run("ls", "-l", m.p("bkt_marketing", "by-status", "failed"), check=False)
        assert r.returncode != 0
        assert "No such file or directory" in r.stderr
        assert "total 0" not in r.stdout
        assert "the bucket is gone" in m.stderr()
    finally:
        api.clear_faults()


def test_the_root_is_served_stale_with_its_links(api, mount):
    m = mount(api, "ttl=1", "stale=300", expect_stderr=[STALE_LINE])
    before = run("ls", "-l", m.p()).stdout
    names = sorted(os.listdir(m.p()))
    assert "marketing-assets" in names and "bkt_marketing" in names
    api.add_fault("reset")
    try:
        def relisted():
            start = len(api.log())
            r = run("ls", m.p(), check=False)
            assert r.returncode == 0, r.stderr
            assert sorted(r.stdout.split()) == [n for n in names if not n.startswith(".")]
            return len(api.log()) > start
        wait_for(relisted, "the root to be listed again once ttl has passed")
        assert os.readlink(m.p("marketing-assets")) == "bkt_marketing"
        assert run("ls", "-l", m.p()).stdout.count("->") == before.count("->")
    finally:
        api.clear_faults()


def test_500s_on_one_bucket_do_not_pause_another(api, mount):
    m = mount(api, "ttl=1", "stale=300", expect_stderr=[
        STALE_LINE, r"^mixpeekfs: error: .*'/bkt_marketing[^']*': .*",
        r"^mixpeekfs: error: .*" + BREAKER_OPEN])
    good = m.p("bkt_support", "all")
    os.listdir(good)
    os.listdir(m.p("bkt_marketing", "all"))
    api.add_fault("status", path_re=r"/buckets/bkt_marketing/", status=500)
    try:
        # bkt_marketing fails until its breaker opens
        def opened():
            r = run("ls", m.p("bkt_marketing", "by-status", "failed"), check=False)
            return "not sent" in m.stderr() or r.returncode != 0 and "not sent" in m.stderr()
        wait_for(opened, "bkt_marketing's breaker to open", deadline=30)
        api.reset_log()

        # bkt_support's views are still refreshed, each ttl, from the API
        def refreshed():
            shown = sorted(os.listdir(good))
            assert shown == sorted(o["sync_config_id"] + ".json" for o in api.store.syncs("bkt_support"))
            return any(r["status"] == 200 for r in list_requests(api, "bkt_support"))
        wait_for(refreshed, "bkt_support to be refreshed from the API")
        assert not any("not sent" in line and "bkt_support" in line for line in m.stderr().splitlines())
    finally:
        api.clear_faults()


def test_sigterm_ends_requests_in_flight_and_exits_0(api, mount):
    m = mount(api, "timeout=120", expect_stderr=[r"^mixpeekfs: info: opendir '/bkt_marketing/all': .*interrupted"])
    api.add_fault("hang", path_re=r"/syncs/list$", seconds=300)
    try:
        ls = subprocess.Popen(["ls", m.p("bkt_marketing", "all")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
        wait_for(lambda: list_requests(api, "bkt_marketing"), "the list request to reach the API")
        start = time.monotonic()
        m.proc.send_signal(signal.SIGTERM)
        # gone long before the request's own timeout (120 s) or the hang (300 s)
        rc = m.proc.wait(timeout=20)
        took = time.monotonic() - start
        out, err = ls.communicate(timeout=20)
        print(f"daemon gone {took:.3f} s after SIGTERM; ls: {ls.returncode} {err.strip()}")
        assert rc == 0
        assert ls.returncode != 0
        assert "Interrupted system call" in err or "Input/output error" in err or \
            "Transport endpoint is not connected" in err
        assert not os.path.ismount(m.path)
    finally:
        api.clear_faults()
