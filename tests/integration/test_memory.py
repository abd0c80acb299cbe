"""Bounded memory and threads: a namespace larger than -o cache_size is
listed within the budget, with what is let go given back to the system;
and many readers at once share the mount's workers and connections."""
import os
import re
import threading

from conftest import list_requests, pushed, sanitized, stats, wait_for
from mockapi.server import MockAPI

MiB = 1 << 20


def status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def tcp_inodes():
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            found |= {line.split()[9] for line in f}
    return found


def threads_and_connections(pid):
    """The daemon's threads, and its TCP sockets (connections to the API;
    libcurl's socketpairs are not)."""
    tcp, conns = tcp_inodes(), 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            link = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        conns += link.startswith("socket:[") and link[8:-1] in tcp
    return status_kib(pid, "Threads"), conns


def list_every_bucket(api, m):
    """Lists every bucket's all/, then the first again; returns the cache's
    stats, VmRSS and VmHWM, and whether the first was listed again."""
    buckets = sorted(b["bucket_id"] for b in api.store.buckets())
    assert len(buckets) == 16
    truth = {b: sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(b)) for b in buckets}
    for b in buckets:
        assert sorted(os.listdir(m.p(b, "all"))) == truth[b], b
    api.reset_log()
    assert sorted(os.listdir(m.p(buckets[0], "all"))) == truth[buckets[0]]
    relisted = bool(list_requests(api, buckets[0]))
    s = stats(m)["cache"]
    rss, hwm = status_kib(m.proc.pid, "VmRSS") * 1024, status_kib(m.proc.pid, "VmHWM") * 1024
    with open(f"/proc/{m.proc.pid}/stat") as f:
        cpu = sum(int(x) for x in f.read().rsplit(")", 1)[1].split()[11:13]) / os.sysconf("SC_CLK_TCK")
    print(f"\n16 x 6,000 syncs with cache_size={s['budget'] // MiB}M: cache {s['bytes'] / MiB:.1f} MiB in "
          f"{s['entries']} entries, {s['evictions']} evictions; VmRSS {rss / MiB:.1f} MiB, "
          f"VmHWM {hwm / MiB:.1f} MiB; daemon CPU {cpu:.1f} s")
    return s, rss, hwm, relisted


def test_a_namespace_larger_than_the_cache(mount):
    """16 buckets x 6,000 syncs (116 MB of JSON) through a 32 MiB cache:
    every listing exact, and the daemon's memory bounded by the budget."""
    with MockAPI("many") as api:
        budget = 32 * MiB
        m = mount(api, "cache_size=32M", deadline=30)
        s, rss, hwm, relisted = list_every_bucket(api, m)
        assert relisted  # it had been let go: listed again
        assert s["evictions"] > 0 and s["budget"] == budget
        assert s["bytes"] <= budget + MiB  # a listing in use may go past
        if not sanitized():  # ASan's quarantine holds what was freed
            assert rss <= budget + 64 * MiB
            assert hwm <= budget + 160 * MiB
        m.umount(deadline=30)


def test_a_namespace_the_cache_holds(mount):
    """The same namespace under a budget that holds it (1G, the default on
    a machine with 8 GiB or more): nothing evicted, the first bucket served
    again from the cache, and the memory that takes, for comparison."""
    with MockAPI("many") as api:
        m = mount(api, "cache_size=1G", deadline=30)
        s, rss, hwm, relisted = list_every_bucket(api, m)
        assert not relisted
        assert s["evictions"] == 0 and s["budget"] == 1 << 30
        m.umount(deadline=30)


def test_sighup_gives_the_memory_back(large_api, mount):
    m = mount(large_api, expect_stderr=[r"^mixpeekfs: info: sighup: "])
    assert len(os.listdir(m.p("bkt_12k", "all"))) == 12345
    pushed(m, 12345)  # no push in flight holds a file's bytes
    before = status_kib(m.proc.pid, "VmRSS")
    m.proc.send_signal(1)
    # said once the memory has been given back
    wait_for(lambda: "sighup: " in m.stderr(), "the SIGHUP to be done", proc=m.proc)
    assert stats(m)["cache"]["bytes"] < 2 * MiB
    after = status_kib(m.proc.pid, "VmRSS")
    print(f"\nVmRSS after listing 12,345 syncs: {before / 1024:.1f} MiB; after SIGHUP: {after / 1024:.1f} MiB")
    if not sanitized():  # ASan's allocator keeps what is freed
        assert after < before / 2


def test_64_readers_share_the_workers(api, mount):
    """64 readers of different views at once: the daemon's threads stay
    within max_threads + max_requests and a few of its own, its connections
    within max_requests, and every listing is exact."""
    m = mount(api, "max_requests=4", "max_threads=8", "page_size=5")
    views = []
    for b in ("bkt_marketing", "bkt_support"):
        views += [(b, "all", {}), (b, "active", {"is_active": True}), (b, "inactive", {"is_active": False})]
        for s in ("pending", "failed", "completed", "processing", "canceled"):
            views.append((b, "by-status/" + s, {"status": s}))
        for c in sorted({o["connection_id"] for o in api.store.syncs(b)}):
            views.append((b, "by-connection/" + c, {"connection_id": c}))
            views.append((b, f"where/connection_id={c},is_active=true", {"connection_id": c, "is_active": True}))
            views.append((b, f"where/connection_id={c},is_active=false", {"connection_id": c, "is_active": False}))
    views = (views * 4)[:64]
    peak = [0, 0]
    errors = []
    go = threading.Barrier(len(views) + 1)

    def read(b, view, filt):
        go.wait()
        try:
            got = sorted(os.listdir(m.p(b, view)))
            want = sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(b, **filt))
            if got != want:
                errors.append((b, view))
        except OSError as e:
            errors.append((b, view, e))

    readers = [threading.Thread(target=read, args=v) for v in views]
    for t in readers:
        t.start()
    go.wait()
    while any(t.is_alive() for t in readers):
        th, so = threads_and_connections(m.proc.pid)
        peak[0], peak[1] = max(peak[0], th), max(peak[1], so)
    for t in readers:
        t.join()
    print(f"\n64 readers of {len({v[:2] for v in views})} views: at most {peak[0]} threads "
          f"and {peak[1]} connections")
    assert errors == []
    # max_threads serving, max_requests fetching; main, the notifier, the
    # signal thread and libfuse's
    assert peak[0] <= 8 + 4 + 4
    assert peak[1] <= 4
