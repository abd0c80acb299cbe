"""Real-mount fixtures, in the manner of libfuse's and sshfs's test suites.

The local API runs in this process (HTTP over loopback); mixpeekfs runs in
the foreground as a child, its stderr captured. A mount is ready when the
mountpoint is a mountpoint (polled with a deadline; the test fails at once
if the daemon dies). At the end it is unmounted with fusermount3 -u, the
daemon must exit 0, and every stderr line must match a pattern the test
declared it expects.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time

import pytest

from mockapi.server import MockAPI

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("MIXPEEKFS_BIN", os.path.join(ROOT, "build", "mixpeekfs"))


def sanitized():
    """Whether the mixpeekfs under test is built with the sanitizers: their
    runtime replaces the allocator (freed memory is held in a quarantine,
    so RSS says little of mixpeekfs) and the fortified calls."""
    syms = subprocess.run(["readelf", "-W", "--dyn-syms", BIN], capture_output=True, text=True).stdout
    return "__asan_init" in syms or "__ubsan_handle" in syms
DEADLINE = 10.0


def wait_for(cond, what, deadline=DEADLINE, proc=None):
    """Polls cond until true or the deadline; fails early if proc died."""
    end = time.monotonic() + deadline
    while True:
        if cond():
            return
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"mixpeekfs exited with {proc.returncode} while waiting for {what}")
        if time.monotonic() > end:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


class Mount:
    def __init__(self, api, path, args, env, expect_stderr=(), wrapper=(), binary=None, deadline=DEADLINE):
        """wrapper: a command the daemon runs under (valgrind ...)."""
        self.api, self.path = api, path
        self.expected = [re.compile(p) for p in expect_stderr]
        # O_APPEND: the daemon shares this file's offset, which reading it
        # (seek(0)) moves; without it, lines written while a test polls
        # stderr land over older ones
        self.errfile = tempfile.TemporaryFile(mode="a+")
        self.proc = subprocess.Popen(list(wrapper) + [binary or BIN, "-f"] + args, env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.errfile)
        wait_for(lambda: os.path.ismount(path), "the mount", proc=self.proc, deadline=deadline)

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def expect(self, *patterns):
        self.expected += [re.compile(p) for p in patterns]

    def stderr(self):
        self.errfile.seek(0)
        return self.errfile.read()

    def unexpected_lines(self):
        return [line for line in self.stderr().splitlines()
                if not any(p.search(line) for p in self.expected)]

    def umount(self, deadline=DEADLINE):
        if os.path.ismount(self.path):
            subprocess.run(["fusermount3", "-u", self.path], check=True)
        try:
            return self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("mixpeekfs did not exit after fusermount3 -u")

    def kill(self):
        subprocess.run(["fusermount3", "-u", "-z", self.path], stderr=subprocess.DEVNULL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def base_env(api):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MIXPEEK_")}
    env["MIXPEEK_API_KEY"] = api.key
    return env


@pytest.fixture(scope="session", autouse=True)
def fuse_available():
    """A test that needs FUSE fails loudly without it; it never skips."""
    assert os.path.exists("/dev/fuse"), "/dev/fuse is missing: FUSE tests cannot run"
    assert shutil.which("fusermount3"), "fusermount3 is missing (package fuse3)"
    assert os.access(BIN, os.X_OK), f"{BIN} is not built (run scripts/test)"


def _api(dataset):
    api = MockAPI(dataset).start()
    return api


@pytest.fixture(scope="module")
def small_api():
    api = _api("small")
    yield api
    api.stop()


@pytest.fixture(scope="module")
def large_api():
    api = _api("large")
    yield api
    api.stop()


@pytest.fixture(scope="module")
def weird_api():
    api = _api("weird")
    yield api
    api.stop()


@pytest.fixture
def api(small_api):
    small_api.clear_faults()
    small_api.reset_log()
    return small_api


@pytest.fixture
def mount(tmp_path):
    """mount(api, *opts, expect_stderr=(), env=None, namespace=...) -> Mount"""
    made = []

    def make(api, *opts, expect_stderr=(), env=None, namespace=None, url=None, **kw):
        path = str(tmp_path / f"mnt{len(made)}")
        os.mkdir(path)
        args = []
        for o in opts:  # "-s", "-d" as they are; anything else after -o
            args += [o] if o.startswith("-") else ["-o", o]
        args += ["-o", "api_url=" + (url or api.url)]
        args += [namespace or api.namespace, path]
        m = Mount(api, path, args, env or base_env(api), expect_stderr, **kw)
        made.append(m)
        m.mount_requests = api.log()
        api.reset_log()  # tests count requests from after the mount
        return m

    yield make
    failures = []
    for m in made:
        rc = m.umount()
        bad = m.unexpected_lines()
        if rc != 0:
            failures.append(f"mixpeekfs exited {rc}; stderr:\n{m.stderr()}")
        if m.api.key in m.stderr():
            failures.append("the API key appeared on mixpeekfs's stderr")
        if bad:
            failures.append("unexpected stderr from mixpeekfs:\n" + "\n".join(bad))
    if failures:
        pytest.fail("\n".join(failures))


# The log line of a request not sent because the breaker is open.
BREAKER_OPEN = r": not sent: the API failed \d+ tries in a row; next try in \d+\.\ds$"


def works_again(fn, what, deadline=20):
    """Polls fn until it stops raising OSError (the breaker opened by earlier
    failures lets a try through within seconds); returns what it returned."""
    result = []

    def ok():
        try:
            result.append(fn())
            return True
        except OSError:
            return False
    wait_for(ok, what, deadline=deadline)
    return result[0]


def run(*cmd, check=True, **kw):
    """Runs a user tool; returns CompletedProcess with text output."""
    return subprocess.run(list(cmd), capture_output=True, text=True, check=check,
                          timeout=120, **kw)


def stats(m):
    """The mount's /.mixpeekfs/stats.json."""
    with open(m.p(".mixpeekfs", "stats.json")) as f:
        return json.load(f)


def pushed(m, files):
    """Waits until at least files have been pushed into the page cache and
    no notification is pending; returns the statistics then."""
    got = []

    def done():
        got[:] = [stats(m)]
        return got[0]["push"]["files"] >= files and got[0]["push"]["pending"] == 0
    wait_for(done, f"{files} files pushed into the page cache", proc=m.proc)
    return got[0]


def list_requests(api, bucket=None):
    """The sync list requests in the API's log (optionally for one bucket)."""
    out = []
    for r in api.log():
        if r["method"] == "POST" and r["path"].endswith("/syncs/list"):
            if bucket is None or r["path"] == f"/v1/buckets/{bucket}/syncs/list":
                out.append(r)
    return out


# ---- expectations shared by several test modules

def render(obj):
    """A file's expected bytes: the object as the API returned it, two-space
    indented, one key per line, with a final newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def epoch_ns(ts):
    """An ISO 8601 timestamp as nanoseconds since the epoch (no zone: UTC),
    its fraction kept: what st_mtime_ns shows."""
    import datetime
    head, _, frac = ts.replace("Z", "+00:00").partition(".")
    zone = ""
    if frac:
        digits = len(frac) - len(frac.lstrip("0123456789"))
        frac, zone = frac[:digits], frac[digits:]
    dt = datetime.datetime.fromisoformat(head + zone)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp()) * 10**9 + int((frac + "000000000")[:9])


def links(obj):
    """A sync file's st_nlink: the fixed views that show it (all, active or
    inactive, its status, its connection)."""
    return (1 + isinstance(obj.get("is_active"), bool) + isinstance(obj.get("status"), str)
            + bool(obj.get("connection_id")))


def encode_name(ident):
    """The file name component SPEC.md gives an id: '/', '%', bytes below
    0x20 and 0x7F as upper-case %XX; '.' and '..' encoded whole."""
    raw = ident.encode()
    if ident in (".", ".."):
        return "".join("%%%02X" % b for b in raw)
    out = bytearray()
    for b in raw:
        if b in b"/%" or b < 0x20 or b == 0x7F:
            out += b"%%%02X" % b
        else:
            out.append(b)
    return out.decode()


def overlap(limit):
    """How far a page fetched ahead reaches back into the one before it
    (src/listing.c overlap())."""
    if limit >= 128:
        return 8
    return 1 + limit // 16 if limit >= 2 else 0


def pages_needed(n, first=100, later=1000, max_offset=10000):
    """List requests a complete listing of n items needs, as mixpeekfs pages
    against the local API (which always tells the total): the first page;
    then, while the total says more, pages fetched at once, each reaching
    overlap() items back; a short page ends the listing; a whole last page
    within the offset bound is followed by one more (the API's total is not
    trusted to stop paging); past the bound the API's cursor, which it gives
    only while items remain."""
    def take(start, limit):
        return max(0, min(limit, n - start))

    pages, start, limit = 1, 0, first
    raw = take(0, first)
    end = raw
    if raw == first:
        while end < n and end <= max_offset:  # fetched ahead, at once
            start = end - overlap(later)
            limit, raw = later, take(start, later)
            pages, end = pages + 1, start + raw
    while True:
        if raw == 0 or raw < limit:
            return pages  # short: the end
        if end > max_offset:
            if end >= n:
                return pages  # nothing remains, so no cursor
            return pages + -(-(n - end) // later)  # by cursor
        start, limit = end, later  # one after another
        raw = take(start, limit)
        pages, end = pages + 1, start + raw


def assert_offsets_cover(reqs):
    """The offset pages of a listing, in any order of arrival, leave no gap:
    sorted by offset, each starts at or before the end of the one before."""
    pages = sorted((int(r["query"]["offset"]), int(r["query"]["limit"]))
                   for r in reqs if "offset" in r["query"])
    assert pages and pages[0][0] == 0, pages
    end = 0
    for offset, limit in pages:
        assert offset <= end, f"gap before offset {offset}: {pages}"
        end = max(end, offset + limit)
    return pages
