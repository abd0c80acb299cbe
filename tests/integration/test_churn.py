"""Churn: eight readers on a bucket that changes every 50-100 ms.

The local API changes bkt_1k of the 'large' data set continuously (status
flips, objects growing and shrinking across 4 KiB boundaries, deletes,
creates at the head of the listing, moves between connections) while
eight readers use the mount with the tools people use: grep -r of views,
cat and jq of files, reads in 700-byte pieces, ls -l of views, stat of one
sync through two views, find -newer. It passes when

- no call hangs (the mount's watchdog);
- every file read whole is valid JSON and, byte for byte, the rendering of
  one version of that sync the API has sent (api.served_versions), a file
  read in 700-byte calls on one descriptor too, even when the sync changed
  between two calls (each version is an inode of its own);
- the only errors are ENOENT, for a sync deleted upstream or for a path in
  a view the sync has left (its status, activity or connection changed);
- the daemon ends with no more threads and fds than it had after the
  readers' first round (a small slack, below), and VmRSS at most 16 MiB
  over it;
- once the churn stops and ttl has passed, every view equals the API's
  ground truth (names, and the bytes of a sample of files).

MIXPEEKFS_CHURN_SECONDS (default 20) sets how long the readers run;
MIXPEEKFS_CHURN_REPORT names a JSON file for the figures, which are also
printed (pytest -s shows them, a failure too).
"""
import collections
import json
import os
import random
import re
import subprocess
import threading
import time

import pytest

from conftest import base_env, render, sanitized, wait_for
from mockapi.server import MockAPI

BUCKET = "bkt_1k"
TTL = 1
SECONDS = float(os.environ.get("MIXPEEKFS_CHURN_SECONDS", "20"))
PICK_AGE = 2 * TTL + 1  # readers pick syncs the API has had this long: the daemon knows them
STATUSES = ("PENDING", "IN_PROGRESS", "PROCESSING", "COMPLETED", "COMPLETED_WITH_ERRORS", "FAILED",
            "CANCELED", "UNKNOWN", "SKIPPED", "DRAFT", "ACTIVE", "ARCHIVED", "SUSPENDED")
CONNECTIONS = ("conn_s3_prod", "conn_gdrive_mkt", "conn_sharepoint_hr", "conn_tigris_arch")
VIEWS = (["all", "active", "inactive"] + ["by-status/" + s.lower() for s in STATUSES]
         + ["by-connection/" + c for c in CONNECTIONS])
# Slack over the first round's figures (taken when every reader has done
# one pass, half a second in). fds: each pooled curl handle that a busier
# moment than the first round adds keeps a socket pair and a keep-alive
# connection (3 fds); two such handles are allowed: 6. Threads: libfuse's
# workers and the page-fetch pool start threads on demand and keep them, up
# to a fixed bound (README: at most max_threads + max_requests + 4 = 64 + 8
# + 4 threads with the defaults); the first round has not seen the busiest
# moment (here they grew from 11 to 15 over 20 s, in steps, then stayed), so
# the end may have 2 more than the first round or, if more, no more than
# that bound. A thread leaked per operation passes it within seconds.
THREAD_SLACK = 2
THREAD_BOUND = 64 + 8 + 4
FD_SLACK = 2 * 3
RSS_SLACK = 16 << 20
REPORT = {}
# a tool's error line about one path (the tools run with LC_ALL=C)
TOOL_ERRORS = [re.compile(p) for p in (
    r"^(?:grep|cat|find): '?(?P<path>/.+?)'?: (?P<msg>[^:]+)$",
    r"^ls: cannot access '(?P<path>/.+)': (?P<msg>[^:]+)$",
    r"^jq: error: Could not open (?:file )?(?P<path>/.+): (?P<msg>[^:]+)$")]
TOOL_ENV = dict(os.environ, LC_ALL="C")


def views_of(obj):
    """The views a sync shows in."""
    out = {"all", "by-status/" + str(obj.get("status")).lower(), "by-connection/" + str(obj.get("connection_id"))}
    if isinstance(obj.get("is_active"), bool):
        out.add("active" if obj["is_active"] else "inactive")
    return out


def sync_id_of(path):
    base = os.path.basename(path)
    return base[:-len(".json")] if base.endswith(".json") else None


def view_of(path, root):
    """'all', 'by-status/failed'... of a path under the bucket."""
    return os.path.relpath(os.path.dirname(path), root)


class Churn:
    """The readers, their figures and their findings."""

    def __init__(self, api, m):
        self.api, self.m = api, m
        self.root = m.p(BUCKET)
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.count = collections.Counter()
        self.version_inodes = {}  # st_ino: (st_size, st_mtime_ns, path) first seen
        self.longest = collections.defaultdict(float)
        self.enoent = collections.Counter()
        self.problems, self.problem_count = [], 0
        self.seen = set()  # (id, hash of the bytes) of whole reads: the versions seen
        self.rounds = collections.Counter()
        self.snapshots = collections.deque()  # (time, [ids]) of the API's truth
        self.initial = [o["sync_config_id"] for o in api.truth(BUCKET)]
        self.initial_set = set(self.initial)

    # ---- bookkeeping
    def timed(self, kind, fn, *args, **kw):
        t0 = time.monotonic()
        try:
            return fn(*args, **kw)
        finally:
            took = time.monotonic() - t0
            with self.lock:
                self.count[kind] += 1
                self.longest[kind] = max(self.longest[kind], took)

    def problem(self, text):
        with self.lock:
            self.problem_count += 1
            if len(self.problems) < 1000:  # (a mount gone makes one for every call)
                self.problems.append(text)

    def keep_snapshots(self):
        """Every 0.25 s the API's ids, so readers can pick syncs it has had
        for PICK_AGE seconds."""
        while not self.stop.wait(0.25):
            ids = [o["sync_config_id"] for o in self.api.truth(BUCKET)]
            with self.lock:
                self.snapshots.append((time.monotonic(), ids))
                while len(self.snapshots) > 2 and self.snapshots[1][0] < time.monotonic() - PICK_AGE:
                    self.snapshots.popleft()

    def pick(self, rng, n=1):
        """Ids the API had PICK_AGE seconds ago (or before the churn)."""
        with self.lock:
            ids = self.initial
            for t, snap in self.snapshots:
                if t <= time.monotonic() - PICK_AGE:
                    ids = snap
        return [rng.choice(ids) for _ in range(n)]

    def path(self, rng, sid):
        """A path of sync sid in one of the views it shows in now (or all/)."""
        obj = self.api.store.sync(BUCKET, sid)
        views = sorted(views_of(obj)) if obj else ["all"]
        return os.path.join(self.root, rng.choice(views), sid + ".json")

    # ---- judging
    def enoent_ok(self, sid, view):
        """ENOENT is right for a sync deleted upstream (ids are never
        reused: not there now means deleted), or for a view it has left at
        some point (a version served, or the one now, not in that view)."""
        obj = self.api.store.sync(BUCKET, sid)
        if obj is None:
            return True
        if view == "all":
            return False
        return any(view not in views_of(v) for v in self.api.served_versions(BUCKET, sid) + [obj])

    def error(self, kind, path, what):
        """An error for path: counted if ENOENT and right, else a problem."""
        sid, view = sync_id_of(path), view_of(path, self.root)
        if what == "ENOENT" and sid and self.enoent_ok(sid, view):
            with self.lock:
                self.enoent[kind] += 1
            return
        obj = self.api.store.sync(BUCKET, sid) if sid else None
        self.problem(f"{kind}: {path}: {what} (the sync now: "
                     f"{'gone' if obj is None else sorted(views_of(obj))})")

    def tool_errors(self, kind, stderr):
        """Judges a tool's error lines; returns the paths they name."""
        paths = set()
        for line in stderr.splitlines():
            m = next(filter(None, (p.match(line) for p in TOOL_ERRORS)), None)
            if m:
                paths.add(m.group("path"))
            if m and m.group("msg") == "No such file or directory":
                self.error(kind, m.group("path"), "ENOENT")
            else:
                self.problem(line if line.startswith(kind + ":") else f"{kind}: {line}")
        return paths

    def whole(self, kind, path, data):
        """A file read whole: JSON, and the bytes of a version served."""
        sid = sync_id_of(path)
        versions = self.api.served_versions(BUCKET, sid)
        try:
            json.loads(data)
        except ValueError as e:
            self.problem(f"{kind}: {path}: not JSON ({e}): {len(data)} bytes (served sizes "
                         f"{[len(render(v)) for v in versions]}), {data[:80]!r}...{data[-120:]!r}")
            return
        if data in {render(v) for v in versions}:
            with self.lock:
                self.seen.add((sid, hash(data)))
            return
        self.problem(f"{kind}: {path}: {len(data)} bytes equal to none of the {len(versions)} versions "
                     f"served (sizes {[len(render(v)) for v in versions]}): {data[:80]!r}...{data[-80:]!r}")

    def now(self, path):
        """What a path shows now, and what the API has: for a finding's text."""
        sid = sync_id_of(path)
        try:
            size = os.stat(path).st_size
            with open(path, "rb") as f:
                data = f.read()
            shows = f"now {size} bytes by stat, {len(data)} read"
        except OSError as e:
            shows = f"now {e!r}"
        obj = self.api.store.sync(BUCKET, sid)
        return (f"{shows}; {'new' if sid not in self.initial_set else 'old'}, "
                f"{'deleted' if obj is None else f'{len(render(obj))} bytes'} in the API, served sizes "
                f"{[len(render(v)) for v in self.api.served_versions(BUCKET, sid)]}")

    # ---- the readers
    def run_tool(self, kind, *cmd):
        return self.timed(kind, subprocess.run, list(cmd), capture_output=True, env=TOOL_ENV, timeout=300)

    def grep(self, rng, views):
        view = rng.choice(views)
        d = os.path.join(self.root, view)
        r = self.run_tool("grep", "grep", "-r", "-c", '"sync_config_id": "', d)
        failed = self.tool_errors("grep", r.stderr.decode(errors="replace"))
        for line in r.stdout.decode(errors="replace").splitlines():
            path, _, n = line.rpartition(":")
            # each file has the key once; a file whose read failed (its
            # error judged above) is counted 0
            if n != "1" and path not in failed:
                self.problem(f"grep: {path}: {n} lines with sync_config_id ({self.now(path)})")
        if r.returncode not in (0, 1) and not failed:
            self.problem(f"grep: exit {r.returncode} with no error")

    def cat(self, rng):
        for sid in self.pick(rng, 3):
            path = self.path(rng, sid)
            r = self.run_tool("cat", "cat", path)
            if r.returncode == 0:
                self.whole("cat", path, r.stdout)
            else:
                self.tool_errors("cat", r.stderr.decode(errors="replace"))

    def jq(self, rng):
        for sid in self.pick(rng, 3):
            path = self.path(rng, sid)
            r = self.run_tool("jq", "jq", "-c", ".", path)
            if r.returncode != 0:
                self.tool_errors("jq", r.stderr.decode(errors="replace"))
                continue
            got = json.loads(r.stdout)
            versions = self.api.served_versions(BUCKET, sid)
            if got not in versions:
                self.problem(f"jq: {path}: an object equal to none of the {len(versions)} versions served")

    def pieces(self, rng):
        for sid in self.pick(rng, 3):
            self.read_in_pieces(self.path(rng, sid))

    def read_in_pieces(self, path):
        """open, then pread of 700 bytes at a time to the end (each call
        timed on its own)."""
        try:
            fd = self.timed("open", os.open, path, os.O_RDONLY)
        except FileNotFoundError:
            return self.error("pread", path, "ENOENT")
        except OSError as e:
            return self.problem(f"pread: open {path}: {e!r}")
        parts, off = [], 0
        try:
            while True:
                part = self.timed("pread", os.pread, fd, 700, off)
                if not part:
                    break
                parts.append(part)
                off += len(part)
        except FileNotFoundError:  # deleted since the open
            return self.error("pread", path, "ENOENT")
        except OSError as e:
            return self.problem(f"pread: {path} at {off}: {e!r}")
        finally:
            os.close(fd)
        data = b"".join(parts)
        versions = [render(v) for v in self.api.served_versions(BUCKET, sync_id_of(path))]
        # One descriptor, one inode, one version: whole, even when the sync
        # changed between two calls (the new version is another inode).
        return self.whole("pread", path, data)

    def ls(self, rng):
        view = rng.choice(VIEWS)
        r = self.run_tool("ls", "ls", "-l", "--time-style=+%s", os.path.join(self.root, view))
        if r.returncode != 0:
            self.tool_errors("ls", r.stderr.decode(errors="replace"))
        lines = [line.split() for line in r.stdout.decode(errors="replace").splitlines()[1:]]
        for f in rng.sample(lines, min(20, len(lines))):  # sizes: those of versions served
            if len(f) == 7 and f[4] == "?":
                continue  # a file ls could not stat: its error line is judged above
            if len(f) != 7 or not f[-1].endswith(".json"):
                self.problem(f"ls: {view}: a line {' '.join(f)!r}")
                continue
            sizes = {len(render(v)) for v in self.api.served_versions(BUCKET, f[-1][:-5])}
            if int(f[4]) not in sizes:
                self.problem(f"ls: {view}/{f[-1]}: size {f[4]}, served {sorted(sizes)}")

    def stat2(self, rng):
        sid = self.pick(rng)[0]
        obj = self.api.store.sync(BUCKET, sid)
        if obj is None:
            return
        paths = [os.path.join(self.root, "all", sid + ".json"),
                 os.path.join(self.root, "by-status", str(obj["status"]).lower(), sid + ".json")]
        stats = []
        for p in paths:
            try:
                stats.append(self.timed("stat", os.stat, p))
            except FileNotFoundError:
                self.error("stat", p, "ENOENT")
            except OSError as e:
                self.problem(f"stat: {p}: {e!r}")
        sizes = {len(render(v)) for v in self.api.served_versions(BUCKET, sid)}
        for p, st in zip(paths, stats):
            if st.st_size not in sizes:
                self.problem(f"stat: {p}: size {st.st_size}, served {sorted(sizes)}")
        # One inode for each version: never two sizes or times for one.
        for p, st in zip(paths, stats):
            with self.lock:
                seen = self.version_inodes.setdefault(st.st_ino, (st.st_size, st.st_mtime_ns, p))
            if seen[:2] != (st.st_size, st.st_mtime_ns):
                self.problem(f"stat: inode {st.st_ino}: size {st.st_size} at {p}, {seen[0]} at {seen[2]}")

    def find(self, rng):
        ref = self.path(rng, self.pick(rng)[0])
        view = rng.choice(VIEWS)
        r = self.run_tool("find", "find", os.path.join(self.root, view), "-newer", ref, "-name", "*.json")
        if r.returncode != 0:
            self.tool_errors("find", r.stderr.decode(errors="replace"))

    def reader(self, n, body):
        rng = random.Random(n)
        while not self.stop.is_set():
            try:
                body(rng)
            except Exception as e:  # a finding; this reader stops
                self.problem(f"reader {n}: {e!r}")
                with self.lock:
                    self.rounds[n] += 1
                return
            with self.lock:
                self.rounds[n] += 1

    def bodies(self):
        others = [v for v in VIEWS if v != "all"]
        return [lambda rng: self.grep(rng, ["all"]), lambda rng: self.grep(rng, others),
                self.cat, self.jq, self.pieces, self.ls, self.stat2, self.find]


def daemon_figures(pid):
    with open(f"/proc/{pid}/status") as f:
        status = dict(line.split(":", 1) for line in f)
    return {"threads": len(os.listdir(f"/proc/{pid}/task")), "fds": len(os.listdir(f"/proc/{pid}/fd")),
            "rss": int(status["VmRSS"].split()[0]) * 1024}


def view_names(m, view):
    return sorted(os.listdir(m.p(BUCKET, view)))


def truth_of(api, view):
    if view == "all":
        objs = api.truth(BUCKET)
    elif view in ("active", "inactive"):
        objs = api.truth(BUCKET, is_active=view == "active")
    elif view.startswith("by-status/"):
        objs = api.truth(BUCKET, status=view.split("/")[1].upper())
    else:
        objs = api.truth(BUCKET, connection_id=view.split("/")[1])
    return objs


def views_differ(api, m, rng):
    """What differs between the views and the API's truth now (names of
    every view; the bytes of a sample of files): a list, empty when none."""
    diff = []
    for view in VIEWS:
        objs = truth_of(api, view)
        want = sorted(o["sync_config_id"] + ".json" for o in objs)
        try:
            got = view_names(m, view)
        except OSError as e:
            diff.append(f"{view}: {e!r}")
            continue
        if got != want:
            extra, missing = sorted(set(got) - set(want)), sorted(set(want) - set(got))
            diff.append(f"{view}: {len(extra)} names too many {extra[:5]}, {len(missing)} missing {missing[:5]}")
            continue
        for o in rng.sample(objs, min(10 if view != "all" else 40, len(objs))):
            p = m.p(BUCKET, view, o["sync_config_id"] + ".json")
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError as e:
                diff.append(f"{p}: {e!r}")
                continue
            if data != render(o):
                diff.append(f"{p}: {len(data)} bytes, the API's version {len(render(o))}")
    return diff


@pytest.fixture
def churn_api():
    api = MockAPI("large", record_versions=False).start()
    yield api
    api.stop()


@pytest.mark.parametrize("prefetch", ["prefetch on", "prefetch=0"])
def test_readers_of_a_churning_bucket(churn_api, mount, prefetch):
    api = churn_api
    env = base_env(api)
    if "ASAN_OPTIONS" in env:  # see test_load: a quarantine that fills early
        env["ASAN_OPTIONS"] += ":quarantine_size_mb=16"
    opts = [f"ttl={TTL}"] + ([prefetch] if prefetch != "prefetch on" else [])
    m = mount(api, *opts, env=env, expect_stderr=[
        # a sync deleted upstream since the listing that showed it: its GET
        # (by a lookup, a read, ls -l's xattr calls) finds it gone
        rf"^mixpeekfs: info: (stat|read|getxattr|listxattr) '/{BUCKET}/[^']+/sync_\w+\.json': "
        rf"GET /v1/buckets/{BUCKET}/syncs/sync_\w+: http 404: Sync configuration not found$",
        # a lookup in a view the sync has left (or never was in)
        rf"^mixpeekfs: info: stat '/{BUCKET}/[^']+/sync_\w+\.json': no such sync in this view$",
    ])
    pid = m.proc.pid
    run = Churn(api, m)
    first, first_at, samples, end, last = {}, None, [], {}, []
    stopped = resources_ok = views_ok = None  # stopped: why the run ended early
    threads = [threading.Thread(target=run.keep_snapshots, name="snapshots", daemon=True)]
    threads += [threading.Thread(target=run.reader, args=(n, body), name=f"reader{n}", daemon=True)
                for n, body in enumerate(run.bodies())]
    api.reset_log()
    api.start_churn(BUCKET, seed=0, min_period=0.05, max_period=0.10)
    started = time.monotonic()
    try:
        for t in threads:
            t.start()
        wait_for(lambda: len(run.rounds) == 8, "the readers' first round", deadline=300, proc=m.proc)
        first, first_at = daemon_figures(pid), time.monotonic() - started

        def until_the_end():  # sampling the daemon's threads and fds each second
            if not samples or time.monotonic() - started >= samples[-1][0] + 1:
                f = daemon_figures(pid)
                samples.append((round(time.monotonic() - started), f["threads"], f["fds"]))
            return time.monotonic() - started >= SECONDS
        wait_for(until_the_end, "the churn's time", deadline=SECONDS + 5, proc=m.proc)
    except pytest.fail.Exception as e:  # the daemon died: the figures all the same
        stopped = str(e)
    finally:
        run.stop.set()
        for t in threads:
            t.join(600)
        counts = api.stop_churn()
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in threads), "a reader did not stop"

    if stopped is None:
        # the daemon's resources: what is in flight when the readers stop
        # (pages fetched ahead) comes back; a leak does not
        def settled():
            end.update(daemon_figures(pid))
            return (end["threads"] <= max(first["threads"] + THREAD_SLACK, THREAD_BOUND)
                    and end["fds"] <= first["fds"] + FD_SLACK)
        resources_ok = poll(settled, "the daemon's threads and fds back to the first round's", 30, m)

        # every view equals the truth, once ttl has passed
        rng = random.Random(1)

        def same():
            last[:] = views_differ(api, m, rng)
            return not last
        views_ok = poll(same, "every view to equal the API's truth", 60, m)

    log = api.log()
    reqs = collections.Counter(("list" if r["path"].endswith("/list") else "get") + f" {r['status']}"
                               for r in log if r["path"].startswith(f"/v1/buckets/{BUCKET}/"))
    figures = {
        "prefetch": prefetch, "seconds": round(elapsed, 1), "stopped early": stopped, "churn": counts,
        "operations": dict(run.count), "enoent": dict(run.enoent),
        "longest_wait_s": {k: round(v, 3) for k, v in sorted(run.longest.items())},
        "longest_grep_s": round(run.longest["grep"], 3),
        "whole_reads_distinct_versions": len(run.seen),
        "versions_served": sum(len(api.served_versions(BUCKET, s)) for s in api.served_ids(BUCKET)),
        "ids_served": len(api.served_ids(BUCKET)),
        "requests": dict(reqs), "requests_total": len(log),
        "daemon_first_round": dict(first, at_s=first_at and round(first_at, 1)), "daemon_end": end,
        "daemon_samples_s_threads_fds": samples,
        "problems": run.problem_count,
        "daemon_stderr": collections.Counter(re.sub(r"'[^']*'|\S+/\S+", "X", line)
                                             for line in m.stderr().splitlines()).most_common(8),
    }
    print("\nchurn figures:\n" + "\n".join(f"  {k}: {json.dumps(v)}" for k, v in figures.items()))
    if os.environ.get("MIXPEEKFS_CHURN_REPORT"):  # {variant: figures} of this session's runs
        REPORT[prefetch] = dict(figures, problem_list=run.problems[:200], views_differ=last[:50])
        with open(os.environ["MIXPEEKFS_CHURN_REPORT"], "w") as f:
            json.dump(REPORT, f, indent=1)

    problems = f"{run.problem_count} problems, the first:\n" + "\n".join(run.problems[:40])
    assert stopped is None, stopped + "\n" + problems
    assert not run.problems, problems
    assert all(run.count[k] > 0 for k in ("grep", "cat", "jq", "pread", "ls", "stat", "find")), run.count
    assert counts["steps"] > 0 and counts["deletes"] > 0 and counts["creates"] > 0, counts
    assert resources_ok, (f"threads/fds {first['threads']}/{first['fds']} after the first round, "
                          f"{end['threads']}/{end['fds']} at the end (slack {THREAD_SLACK} threads or "
                          f"{THREAD_BOUND} in all, {FD_SLACK} fds)")
    if sanitized():  # ASan's allocator and quarantine grow RSS on their own (see test_load)
        print(f"RSS under the sanitizers: {first['rss']} -> {end['rss']} (not asserted)")
    else:
        assert end["rss"] <= first["rss"] + RSS_SLACK, (first["rss"], end["rss"])
    assert views_ok, "views differ from the API's truth:\n" + "\n".join(last[:40])


def poll(cond, what, deadline, m):
    """wait_for, as a bool: the test goes on to print its figures."""
    try:
        wait_for(cond, what, deadline=deadline, proc=m.proc)
        return True
    except pytest.fail.Exception:
        return False
