"""Issue 4: load. 32 parallel readers for 60 s mix ls, cat, stat and grep
(the tools, and the same calls from Python) while faults are injected into
the API. Every content read equals the API's object, every listing that
succeeds is complete, the only error is EIO, the daemon does not crash, and
its fd count and RSS end where they were after a warm-up (within 10%)."""
import errno
import os
import random
import subprocess
import threading
import time

import pytest

from conftest import BREAKER_OPEN, base_env, render, sanitized, wait_for
from mockapi.server import MockAPI

READERS = 32
SECONDS = float(os.environ.get("MIXPEEKFS_LOAD_SECONDS", "60"))
WARMUP = 30.0
FAULTS = [
    dict(kind="status", status=503, count=3),
    dict(kind="status", status=429, retry_after=0, count=3),
    dict(kind="status", status=500, count=2),
    dict(kind="reset", count=2),
    dict(kind="truncate", count=2),
    dict(kind="latency", seconds=0.3, count=10),
    dict(kind="hang", seconds=3, count=1),
    dict(kind="garbage", count=1),
]
VIEWS = {  # path below the mount -> the filter of the API's syncs
    ("bkt_marketing", "all"): {},
    ("bkt_marketing", "active"): {"is_active": True},
    ("bkt_marketing", "by-status", "failed"): {"status": "FAILED"},
    ("bkt_support", "all"): {},
    ("bkt_support", "inactive"): {"is_active": False},
}


# libcurl keeps a socket pair (AF_UNIX) in each easy handle that has made a
# request, and the daemon pools up to 16 handles (http.c, POOL_MAX).
POOLED_PAIRS = 2 * 16


def unix_inodes():
    with open("/proc/net/unix") as f:
        next(f)
        return {line.split()[6] for line in f if len(line.split()) > 6}


def fd_counts(pid):
    """(fds but AF_UNIX sockets, AF_UNIX sockets) the daemon holds."""
    unix = unix_inodes()
    other = pairs = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue
        if target.startswith("socket:[") and target[8:-1] in unix:
            pairs += 1
        else:
            other += 1
    return other, pairs


def fd_count(pid):
    return sum(fd_counts(pid))


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


class Load:
    def __init__(self, m, api):
        self.m, self.api = m, api
        self.expected = {}  # view path -> {file name: rendered bytes}
        for view, filt in VIEWS.items():
            self.expected[view] = {o["sync_config_id"] + ".json": render(o)
                                   for o in api.store.syncs(view[0], **filt)}
        self.lock = threading.Lock()
        self.ok, self.eio, self.bad = 0, 0, []
        self.samples = []  # (second, RSS kB, fds) during the run

    def note(self, ok=None, bad=None):
        with self.lock:
            if bad:
                self.bad.append(bad)
            elif ok:
                self.ok += 1
            else:
                self.eio += 1

    def one(self, rng):
        view = rng.choice(list(VIEWS))
        names = self.expected[view]
        name = rng.choice(sorted(names))
        path = self.m.p(*view, name)
        op = rng.choice(["ls", "listdir", "cat", "read", "stat", "grep"])
        try:
            if op == "listdir":
                got = sorted(os.listdir(self.m.p(*view)))
                self.note(ok=True, bad=None if got == sorted(names) else f"listdir {view}: {len(got)} names")
            elif op == "read":
                with open(path, "rb") as f:
                    data = f.read()
                self.note(ok=True, bad=None if data == names[name] else f"read {path}: wrong bytes")
            elif op == "stat":
                st = os.stat(path)
                self.note(ok=True, bad=None if st.st_size == len(names[name]) else f"stat {path}: size")
            else:
                if op == "ls":
                    cmd = ["ls", self.m.p(*view)]
                elif op == "cat":
                    cmd = ["cat", path]
                else:
                    cmd = ["grep", "-c", '"sync_config_id"', path]
                r = subprocess.run(cmd, capture_output=True, timeout=60)
                if r.returncode != 0:
                    if b"Input/output error" in r.stderr:
                        self.note()
                    else:
                        self.note(bad=f"{cmd}: exit {r.returncode}: {r.stderr[-200:]!r}")
                    return
                if op == "ls":
                    good = sorted(r.stdout.decode().split()) == sorted(names)
                elif op == "cat":
                    good = r.stdout == names[name]
                else:
                    good = r.stdout == b"1\n"
                self.note(ok=True, bad=None if good else f"{cmd}: wrong output")
        except OSError as e:
            if e.errno == errno.EIO:
                self.note()
            else:
                self.note(bad=f"{op} {path}: {e}")

    def run(self, seconds, faults):
        stop = time.monotonic() + seconds

        def reader(seed):
            rng = random.Random(seed)
            while time.monotonic() < stop:
                self.one(rng)

        def injector():
            rng = random.Random(4)
            while time.monotonic() < stop:
                f = dict(rng.choice(FAULTS))
                kind = f.pop("kind")
                self.api.add_fault(kind, path_re=rng.choice([r"/syncs/list$", r"/syncs/[^/]+$", r"."]), **f)
                time.sleep(1.0)  # pacing the injection, not waiting for a state
            self.api.clear_faults()

        def sampler():
            while time.monotonic() < stop:
                self.samples.append((round(time.monotonic() - start), rss_kb(self.m.proc.pid),
                                     fd_count(self.m.proc.pid)))
                time.sleep(5)  # a sampling period, not a wait

        start = time.monotonic()
        threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
        threads.append(threading.Thread(target=sampler))
        if faults:
            threads.append(threading.Thread(target=injector))
        for t in threads:
            t.start()
        for t in threads:
            t.join(seconds + 120)
            assert not t.is_alive(), "a reader is stuck"
        self.api.clear_faults()


def settle(m):
    """The daemon idle again: a read works (the breaker, if open, closed)."""
    from conftest import works_again
    works_again(lambda: os.listdir(m.p("bkt_marketing", "all")), "the mount after the load")


@pytest.fixture
def api():
    """Its own local API, closing each connection after its answer: so at
    rest the daemon holds no socket, and its fd count says what it leaked,
    not how many idle connections libcurl happens to keep."""
    api = MockAPI("small", keep_alive=False).start()
    yield api
    api.stop()


def test_32_readers_with_faults(api, mount):
    env = base_env(api)
    if "ASAN_OPTIONS" in env:
        # ASan holds freed memory back (256 MiB by default) and RSS grows
        # until that quarantine is full: a smaller one fills in the warm-up,
        # so the measure is of mixpeekfs, not of the quarantine filling
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=16"
    m = mount(api, "ttl=1", "timeout=4", env=env, expect_stderr=[
        BREAKER_OPEN, r"^mixpeekfs: error: (stat|open|opendir|readdir) '/bkt_\w+/[^']*': (GET|POST) .+",
        r"^mixpeekfs: info: stat '/bkt_\w+/[^']*': (GET|POST) .+: http 404",
        # stale on error: the last good copy served while the API fails
        r"^mixpeekfs: warn: .+: (GET|POST) .+; serving what was fetched \d+ s ago$",
        # a view's refresh that a reader started and the API failed
        r"^mixpeekfs: warn: refresh of syncs of '\w+' \S+: (POST .+: )?.+$",
        r"^mixpeekfs: info: stat '/bkt_\w+/[^']*': no such sync in this view$"])
    pid = m.proc.pid
    load = Load(m, api)
    load.run(WARMUP, faults=True)
    settle(m)
    fds0, rss0 = fd_counts(pid)[0], rss_kb(pid)
    ok0 = load.ok
    load.run(SECONDS, faults=True)
    settle(m)
    # Pages read ahead for readers that stopped may still be in flight (a
    # socket each) for a moment: a leak never comes back down, they do. The
    # socket pairs of pooled curl handles stay, as many as the busiest
    # moment needed: bounded, not a leak.
    wait_for(lambda: fd_counts(pid)[0] <= fds0,
             "the daemon's fds back to where they were", deadline=30)
    (fds1, pairs), rss1 = fd_counts(pid), rss_kb(pid)
    assert pairs <= POOLED_PAIRS, pairs
    print(f"\nload: {load.ok - ok0} good operations, {load.eio} EIO in all; "
          f"fds {fds0} -> {fds1}; RSS {rss0} kB -> {rss1} kB; samples {load.samples}")
    assert m.proc.poll() is None, "the daemon died"
    assert load.bad == [], load.bad[:10]
    assert load.ok - ok0 > 1000
    if sanitized():
        # Not asserted under ASan: its allocator and stack depot grow RSS on
        # their own (some 10-20% over this run); the plain build is held to it.
        print(f"RSS under ASan: {rss0} kB -> {rss1} kB (not asserted)")
    else:
        assert abs(rss1 - rss0) <= 0.1 * rss0, (rss0, rss1)
