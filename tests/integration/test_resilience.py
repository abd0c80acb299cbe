"""Issue 4: a mount that lives through a flaky network and a bad API.

Each fault is injected into the local API; each test asserts the errno the
user sees, what was tried (from the API's request log) and that the mount is
alive afterwards. Retried: 5xx, 429, resets, truncated bodies, timeouts, up
to -o retries (default 4) within -o timeout; not retried: answers that will
not change (404, 422, nonsense, too large). Repeated failures open a breaker
that fails requests at once for a short window; -o max_rps spaces requests;
Ctrl-C frees a worker blocked on the API; the API killed and restarted
mid-listing is recovered from without a remount."""
import errno
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import pytest

from conftest import (BREAKER_OPEN, BIN, DEADLINE, base_env, list_requests, render, run, stats, wait_for,
                      works_again)

BUCKET = "bkt_marketing"
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def m(api, mount):
    m = mount(api, expect_stderr=[BREAKER_OPEN])
    os.listdir(m.p())  # buckets known: the faults below hit the syncs only
    api.reset_log()
    return m


def sync(api, i):
    obj = api.store.syncs(BUCKET)[i]
    return obj, obj["sync_config_id"]


def gets(api, sid):
    return [r for r in api.log() if r["method"] == "GET" and r["path"].endswith("/syncs/" + sid)]


def alive(m, api):
    """The mount answers, from the API, and the daemon still runs."""
    assert m.proc.poll() is None
    obj, sid = sync(api, 0)
    path = m.p(BUCKET, "all", sid + ".json")
    assert works_again(lambda: open(path, "rb").read(), "a read after the faults") == render(obj)


# ---- retried: a fault once, then the answer

ONCE = [
    ("503", dict(kind="status", status=503), 503),
    ("502", dict(kind="status", status=502), 502),
    ("504", dict(kind="status", status=504), 504),
    ("429", dict(kind="status", status=429), 429),
    ("reset", dict(kind="reset"), None),
    ("truncated", dict(kind="truncate"), 200),
]


@pytest.mark.parametrize("fault,status", [c[1:] for c in ONCE], ids=[c[0] for c in ONCE])
def test_a_transient_fault_is_retried_and_the_read_succeeds(api, m, fault, status):
    obj, sid = sync(api, 1)
    fault = dict(fault)
    api.add_fault(fault.pop("kind"), path_re=r"/syncs/[^/]+$", method="GET", count=1, **fault)
    assert open(m.p(BUCKET, "all", sid + ".json"), "rb").read() == render(obj)
    tried = [(r["fault"], r["status"]) for r in gets(api, sid)]
    assert tried == [(tried[0][0], status), (None, 200)]
    alive(m, api)


def test_a_hung_try_is_cut_at_half_the_timeout_and_retried(api, mount):
    m = mount(api, "timeout=2")
    obj, sid = sync(api, 2)
    os.stat(m.p(BUCKET))
    api.reset_log()
    api.add_fault("hang", path_re=r"/syncs/[^/]+$", method="GET", count=1, seconds=30)
    assert open(m.p(BUCKET, "all", sid + ".json"), "rb").read() == render(obj)
    # a second try could only fit in timeout=2 if the first was cut at 1 s
    tries = gets(api, sid)
    assert [r["fault"] for r in tries] == ["hang", None]
    assert tries[1]["time"] - tries[0]["time"] >= 0.9
    alive(m, api)


def test_retry_after_is_honoured(api, m):
    obj, sid = sync(api, 3)
    api.add_fault("status", path_re=r"/syncs/[^/]+$", method="GET", count=1, status=503, retry_after=2)
    assert open(m.p(BUCKET, "all", sid + ".json"), "rb").read() == render(obj)
    tries = gets(api, sid)
    assert [r["status"] for r in tries] == [503, 200]
    assert tries[1]["time"] - tries[0]["time"] >= 1.95  # as the API asked


def test_retry_after_past_the_timeout_is_not_waited_for(api, mount):
    m = mount(api, "timeout=3")
    _, sid = sync(api, 4)
    os.stat(m.p(BUCKET))
    api.reset_log()
    m.expect(r"^mixpeekfs: error: stat '/%s/all/%s.json': GET /v1/buckets/%s/syncs/%s: http 429: "
             r"Injected fault: HTTP 429$" % (BUCKET, sid, BUCKET, sid))
    api.add_fault("status", path_re=r"/syncs/[^/]+$", method="GET", status=429, retry_after=60)
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    assert e.value.errno == errno.EIO
    assert [r["status"] for r in gets(api, sid)] == [429]  # no wait for a try that cannot be
    api.clear_faults()
    alive(m, api)


# ---- a fault on every try: EIO after exactly retries + 1 tries, then the breaker

EVERY = [
    ("500", dict(kind="status", status=500), r"http 500: Injected fault: HTTP 500 after 3 tries"),
    ("429", dict(kind="status", status=429, retry_after=0), r"http 429: Injected fault: HTTP 429 after 3 tries"),
    ("reset", dict(kind="reset"), r".+ after 3 tries"),
    ("truncated", dict(kind="truncate"), r".+ after 3 tries"),
]


@pytest.mark.parametrize("fault,why", [c[1:] for c in EVERY], ids=[c[0] for c in EVERY])
def test_a_lasting_fault_is_eio_after_the_retries_option(api, mount, fault, why):
    m = mount(api, "retries=2", expect_stderr=[BREAKER_OPEN])
    _, sid = sync(api, 5)
    os.stat(m.p(BUCKET))
    api.reset_log()
    m.expect(r"^mixpeekfs: error: stat '/%s/all/%s.json': GET /v1/buckets/%s/syncs/%s: %s$"
             % (BUCKET, sid, BUCKET, sid, why))
    fault = dict(fault)
    api.add_fault(fault.pop("kind"), path_re=r"/syncs/[^/]+$", method="GET", **fault)
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    assert e.value.errno == errno.EIO
    # retries=2: three tries (libcurl may resend a request once on a reused
    # connection that it finds reset)
    n = len(gets(api, sid))
    assert n == 3 or (fault == {} and 3 <= n <= 6), n
    api.clear_faults()
    alive(m, api)


# ---- not retried: answers that another try would not change

NEVER = [
    ("garbage", dict(kind="garbage"), errno.EIO),
    ("wrong_type", dict(kind="wrong_type"), errno.EIO),
    ("404", dict(kind="status", status=404), errno.ENOENT),
    ("401", dict(kind="status", status=401), errno.EACCES),
    ("422", dict(kind="status", status=422), errno.EIO),
]


@pytest.mark.parametrize("fault,code", [c[1:] for c in NEVER], ids=[c[0] for c in NEVER])
def test_an_answer_that_will_not_change_is_not_retried(api, m, fault, code):
    _, sid = sync(api, 6)
    m.expect(r"^mixpeekfs: (error|info): stat '/%s/all/%s.json': GET .+" % (BUCKET, sid))
    fault = dict(fault)
    api.add_fault(fault.pop("kind"), path_re=r"/syncs/[^/]+$", method="GET", **fault)
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    assert e.value.errno == code
    assert len(gets(api, sid)) == 1
    api.clear_faults()
    alive(m, api)


@pytest.mark.parametrize("declare", [True, False], ids=["content-length", "streamed"])
def test_an_answer_over_max_response_is_eio_and_not_retried(api, mount, declare):
    m = mount(api, "max_response=64K")
    _, sid = sync(api, 7)
    os.stat(m.p(BUCKET))
    api.reset_log()
    m.expect(r"^mixpeekfs: error: stat '/%s/all/%s.json': GET .+: answer larger than 65536 bytes$"
             % (BUCKET, sid))
    api.add_fault("huge", path_re=r"/syncs/[^/]+$", method="GET", size=50 << 20, declare=declare)
    received = stats(m)["bytes_received"]
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    assert e.value.errno == errno.EIO
    assert stats(m)["bytes_received"] - received <= 65536 + 65536  # not 50 MiB read and thrown away
    assert len(gets(api, sid)) == 1
    api.clear_faults()
    alive(m, api)


def test_a_cursor_given_back_unchanged_ends_the_listing_in_eio(large_api, mount):
    """bkt_12k needs the cursor past offset 10,000; the API answers the first
    cursor page with the cursor it was asked with."""
    large_api.clear_faults()
    m = mount(large_api, expect_stderr=[r"^mixpeekfs: error: readdir '/bkt_12k/all': (POST .*cursor=.*: )?"
                                        r"the API repeated its cursor$"])
    os.stat(m.p("bkt_12k"))
    large_api.reset_log()
    large_api.add_fault("repeat_cursor", path_re=r"/syncs/list$")
    try:
        r = run("ls", m.p("bkt_12k", "all"), check=False)
        assert r.returncode == 2 and "Input/output error" in r.stderr
        cursor_pages = [x for x in list_requests(large_api) if "cursor" in x["query"]]
        assert len(cursor_pages) == 1  # not an endless loop
        assert m.proc.poll() is None
    finally:
        large_api.clear_faults()


# ---- the breaker: fail fast while the API is known to be down

def test_while_the_api_is_down_requests_fail_at_once(api, m):
    api.add_fault("status", path_re=r"/syncs/[^/]+$", method="GET", status=503)
    m.expect(r"^mixpeekfs: error: stat '/%s/all/[^']+': GET .+" % BUCKET)
    ids = [o["sync_config_id"] for o in api.store.syncs(BUCKET)[:16]]
    errs, times = {}, {}

    def stat(sid):
        start = time.monotonic()
        try:
            os.stat(m.p(BUCKET, "all", sid + ".json"))
            errs[sid] = 0
        except OSError as e:
            errs[sid] = e.errno
        times[sid] = time.monotonic() - start

    threads = [threading.Thread(target=stat, args=(sid,)) for sid in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert set(errs.values()) == {errno.EIO}
    # 16 files each allowed 5 tries would be 80 requests: the breaker opened
    # after 5 failures in a row, and only tries already under way went out
    tried = len([r for r in api.log() if r["method"] == "GET"])
    assert 5 <= tried <= 5 + 16, tried
    # now closed to everyone: a new request fails at once, unsent
    api.reset_log()
    _, sid = sync(api, 20)
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "all", sid + ".json"))
    assert e.value.errno == errno.EIO
    assert api.log() == []  # failed at once, unsent
    # the API comes back: after the window a try goes out and succeeds
    api.clear_faults()
    alive(m, api)


def test_max_rps_spaces_the_requests(api, mount):
    m = mount(api, "max_rps=5", "page_size=1")
    run("ls", m.p("bkt_support", "all"))
    times = [r["time"] for r in list_requests(api, "bkt_support")]
    assert len(times) == 8  # seven syncs by one, and the empty page
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert min(gaps) >= 0.2 - 0.03, gaps
    for i, t in enumerate(times):  # at most max_rps + 1 in any second
        assert len([u for u in times[i:] if u - t < 1.0]) <= 6


# ---- timeouts and Ctrl-C

def hung_listener():
    """A loopback port whose connects never complete: a socket that listens
    with a backlog of 0 and never accepts; once its queue is full, Linux
    drops further SYNs. Returns (port, sockets to close)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(0)
    port, fillers = srv.getsockname()[1], []
    while True:  # fill the queue until a connect hangs
        c = socket.socket()
        c.settimeout(0.3)
        try:
            c.connect(("127.0.0.1", port))
            fillers.append(c)
        except (socket.timeout, BlockingIOError):
            c.close()
            return port, [srv] + fillers
        assert len(fillers) < 16, "connects to a full backlog do not hang here"


def test_connect_timeout_bounds_a_connect_that_never_completes(api, mount, tmp_path):
    m = mount(api)
    port, socks = hung_listener()
    mnt = tmp_path / "never"
    mnt.mkdir()
    try:
        r = subprocess.run([BIN, "-f", "-o", f"api_url=http://127.0.0.1:{port}", "-o", "connect_timeout=1",
                            "-o", "retries=1", "-o", "timeout=30", "ns_demo", str(mnt)], env=base_env(api),
                           capture_output=True, text=True, timeout=30)
    finally:
        for s in socks:
            s.close()
    assert r.returncode != 0 and not os.path.ismount(mnt)
    assert re.match(r"^mixpeekfs: cannot reach the API at http://127\.0\.0\.1:\d+: "
                    r"Failed to connect to 127\.0\.0\.1 port \d+ after 1\d\d\d ms: Timeout was reached after 2 tries$",
                    r.stderr), r.stderr  # two tries of one second each, not 30
    alive(m, api)


@pytest.mark.parametrize("how", ["hung-request", "backoff"])
def test_ctrl_c_frees_the_worker_at_once(api, mount, how):
    """Once ls is killed, its call is given up while the API still hangs
    (or its Retry-After still runs), not 60 s or 30 s later: stats.json
    counts it, and the worker serves again."""
    m = mount(api, "timeout=60", "log_level=debug")
    os.stat(m.p(BUCKET))
    api.reset_log()
    m.expect(r"^mixpeekfs: info: (opendir|readdir) '/%s/inactive': POST .+: interrupted( after \d tries)?$" % BUCKET,
             r"^mixpeekfs: debug: (GET|POST) /v1/\S+: .+, \d+ bytes, \d+ ms$")
    if how == "hung-request":
        api.add_fault("hang", path_re=r"/syncs/list$", seconds=60)
    else:
        api.add_fault("status", path_re=r"/syncs/list$", status=503, retry_after=30)
    # SIGINT as a terminal gives it, whatever this run inherited: a run
    # started in the background (cmd &, without job control) ignores it,
    # and an ignored signal stays ignored across exec
    ls = subprocess.Popen(["env", "--default-signal=INT", "ls", m.p(BUCKET, "inactive")],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: len(list_requests(api, BUCKET)) >= 1, "the listing request")
    ls.send_signal(signal.SIGINT)
    ls.wait(timeout=10)
    # the call given up (its request aborted, or its wait for a second
    # try), well before the 60 s or the 30 s
    wait_for(lambda: stats(m)["errors"]["interrupted"] >= 1, "the call to be given up", proc=m.proc)
    assert len(list_requests(api, BUCKET)) == 1
    assert m.proc.poll() is None
    api.clear_faults()
    assert sorted(works_again(lambda: os.listdir(m.p(BUCKET, "inactive")), "the listing")) == \
        sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET, is_active=False))


def test_signals_that_end_nothing_interrupt_nothing(api, mount):
    """The kernel interrupts a request for any signal its caller gets, even
    one with no effect: here the SIGCHLD of children that Python's threads
    start, queued while the forking thread blocks signals. Reads from other
    threads go on as if nothing happened: no EINTR."""
    m = mount(api, "ttl=0")
    api.add_fault("latency", seconds=0.05)  # every request: children exit meanwhile
    obj, sid = sync(api, 0)
    path = m.p(BUCKET, "all", sid + ".json")
    want_names = sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET, is_active=True))
    done = threading.Event()
    got = []

    def spawner():
        while not done.is_set():
            subprocess.run(["true"])

    def reader(i):
        for _ in range(10):
            try:
                if i % 2:
                    got.append(os.stat(path).st_size == len(render(obj)))
                else:
                    got.append(sorted(os.listdir(m.p(BUCKET, "active"))) == want_names)
            except OSError as e:
                got.append(e.strerror)

    spawners = [threading.Thread(target=spawner) for _ in range(4)]
    readers = [threading.Thread(target=reader, args=(i,)) for i in range(4)]
    for t in spawners + readers:
        t.start()
    for t in readers:
        t.join(DEADLINE)
    done.set()
    for t in spawners:
        t.join(DEADLINE)
    assert got == [True] * 40


# ---- the API killed and restarted mid-listing

class Process:
    """The local API as its own process, to be killed with SIGKILL and started
    again on the same port; what the mount fixture needs of an API."""

    def __init__(self, dataset):
        from mockapi import datasets
        self.store = datasets.load(dataset)
        self.port = 0
        self.start()

    def start(self):
        self.proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "tests", "mockapi", "server.py"),
                                      "--dataset", self.store.name, "--port", str(self.port)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("listening on "), self.proc.stderr.read()
        self.url = line.split()[-1]
        self.port = int(self.url.rsplit(":", 1)[1])

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    key = "sk_test_mixpeekfs"

    @property
    def namespace(self):
        return self.store.namespace_id

    def _control(self, method, path):
        req = urllib.request.Request(self.url + path, method=method)
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.load(resp)

    def log(self):
        return self._control("GET", "/_mock/log")["requests"]

    def reset_log(self):
        self._control("DELETE", "/_mock/log")


def test_the_api_killed_and_restarted_mid_listing(mount):
    api = Process("large")
    try:
        m = mount(api, "page_size=100", expect_stderr=[
            # the kill cuts pages in flight in any of curl's ways
            BREAKER_OPEN, r"^mixpeekfs: error: (?:opendir|readdir) '/bkt_1k/all': "
            r"POST /v1/buckets/bkt_1k/syncs/list\?limit=100&offset=\d+: .+$"])
        os.stat(m.p("bkt_1k"))
        from test_readdir import Dir
        d = Dir(m.p("bkt_1k", "all"))
        first = d.read(150)  # a page or two
        api.kill()
        got = list(first)
        with pytest.raises(OSError) as e:
            while True:  # entries already fetched still come, then EIO
                name = d.next()
                assert name is not None, "the listing ended short instead of failing"
                got.append(name)
        assert e.value.errno == errno.EIO
        assert m.proc.poll() is None
        api.start()  # the same port
        got += works_again(lambda: d.read(), "the rest of the listing once the API is back")
        d.close()
        names = [n for n in got if n not in (".", "..")]
        assert len(names) == len(set(names)) == 1000
        assert set(names) == {o["sync_config_id"] + ".json" for o in api.store.syncs("bkt_1k")}
        # only the pages not fetched before the kill were asked for again
        offsets = [int(r["query"]["offset"]) for r in api.log()
                   if r["path"] == "/v1/buckets/bkt_1k/syncs/list"]
        assert offsets and min(offsets) >= 100 and len(offsets) == len(set(offsets))
    finally:
        api.kill()
