"""Real-mount fixtures, in the manner of libfuse's and sshfs's test suites.

The local API runs in this process (HTTP over loopback); mixpeekfs runs in
the foreground as a child, its stderr captured. A mount is ready when the
mountpoint is a mountpoint (polled with a deadline; the test fails at once
if the daemon dies). At the end it is unmounted with fusermount3 -u, the
daemon must exit 0, and every stderr line must match a pattern the test
declared it expects.
"""
import errno
import fcntl
import json
import os
import re
import signal
import shutil
import subprocess
import sys
import tempfile
import threading
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


# ---- the watchdog: no operation on a mount may block for good
#
# Every live Mount has a Watchdog; one sampler thread serves them all. Every
# SAMPLE_PERIOD it walks the pytest process and its descendants (user tools
# such as ls, grep and cat run as children), leaving out the daemons, and
# reads each thread's kernel stack. A thread blocked on a FUSE request shows
# frames of the fuse module; on this kernel (6.x) a lookup the daemon never
# answers reads
#     request_wait_answer+0x16a/0x280
#     __fuse_simple_request+0x120/0x330
#     fuse_lookup_name+0xea/0x250 ...
# and a read waiting for readahead shows fuse_file_read_iter under the page
# lock wait. Such a thread is hung when it stays so, with the same count of
# context switches (so it never woke up in between), for longer than the
# mount's limit: its request timeout (-o timeout=, 30 s by default) + 5 s. The
# daemon answers every request within its timeout (retries included), so a
# longer wait is a bug. Then the watchdog writes a report (the hung thread;
# every daemon thread's kernel stack; gdb's user stacks), aborts the FUSE
# connection so the blocked call returns (ECONNABORTED / ENOTCONN) and the
# test goes on to fail, and the teardown fails the test with the report.
#
# Which mount a blocked thread waits on: the mounts whose connection has
# requests in flight (/sys/fs/fuse/connections/N/waiting). When several
# have, the largest of their limits applies and all of them are aborted: a
# hang is never declared early, and an aborted bystander only adds noise to
# a test that fails anyway.

SAMPLE_PERIOD = 0.25
HANG_MARGIN = 5.0  # seconds over the daemon's request timeout
GDB_TIMEOUT = 60
FUSECTL = "/sys/fs/fuse/connections"


def _read(path, size=65536):
    """A small /proc or /sys file as bytes (os.open: half the cost of open())."""
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.read(fd, size)
    finally:
        os.close(fd)


def _frames(stack):
    """Function names of a /proc/.../stack text: '[<0>] name+0x1/0x2'."""
    out = []
    for line in stack.splitlines():
        _, _, rest = line.partition(b"] ")
        out.append(rest.split(b"+", 1)[0].decode(errors="replace"))
    return out


def _waits_on_fuse(frames):
    """Whether a user task's kernel stack is inside the fuse module (waiting
    for an answer, for a page being read, or for a lock a FUSE call holds).
    A daemon's own side (/dev/fuse: fuse_dev_*) is not a wait."""
    fuse = False
    for f in frames:
        if f.startswith("fuse_dev_"):
            return False
        if f == "request_wait_answer" or f.startswith(("fuse_", "__fuse_")):
            fuse = True
    return fuse


def _state(pid, tid):
    """A task's state letter (R, S, D, ...) from /proc/.../stat."""
    return _read(f"/proc/{pid}/task/{tid}/stat").rsplit(b")", 1)[1].split()[0]


def stop_daemon(pid):
    """SIGSTOP, then waits until every thread of pid is stopped. kill()
    only wakes one thread, which then stops the others: until it has run,
    another thread can still answer a request sent just after the kill."""
    os.kill(pid, signal.SIGSTOP)
    wait_for(lambda: all(_state(pid, tid) in (b"T", b"t") for tid in os.listdir(f"/proc/{pid}/task")),
             f"every thread of {pid} to stop")


def _switches(pid, tid):
    """voluntary + nonvoluntary context switches of a task."""
    n = 0
    for line in _read(f"/proc/{pid}/task/{tid}/status").splitlines():
        if line.startswith((b"voluntary_ctxt_switches:", b"nonvoluntary_ctxt_switches:")):
            n += int(line.split()[1])
    return n


def _kernel_stack(pid, tid):
    try:
        return _read(f"/proc/{pid}/task/{tid}/stack")
    except PermissionError:  # needs CAP_SYS_ADMIN; wchan is the top frame
        return b"[<0>] " + _read(f"/proc/{pid}/task/{tid}/wchan") + b"+0x0/0x0\n"


def _text(path, default="?"):
    try:
        return _read(path).replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return default


def mount_option(args, name, default=None):
    """The last value of -o name=VALUE in a mixpeekfs argument list."""
    value, it = default, iter(args)
    for a in it:
        if a == "-o":
            a = next(it, "")
        elif a.startswith("-o"):
            a = a[2:]
        else:
            continue
        for part in a.split(","):
            if part.startswith(name + "="):
                value = part[len(name) + 1:]
    return value


def fuse_connection(path):
    """The FUSE connection number of the mount at path: the minor device
    number of its st_dev, taken from /proc/self/mountinfo (no request)."""
    found, path = None, os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), fields[4])
            if point == path:
                found = int(fields[2].split(":")[1])  # the last mount there wins
    return found


class _Sampler:
    """The one thread that samples for every live Watchdog."""

    def __init__(self):
        self.lock = threading.Lock()  # held for a whole sample: stop() waits for it
        self.watchdogs = []
        self.thread = None
        self.stopping = threading.Event()
        self.waits = {}  # (pid, tid) -> [switches, since, reported]
        self.samples, self.cpu, self.max_cpu, self.max_tasks = 0, 0.0, 0.0, 0
        self.root = os.getpid()
        self.has_children = os.path.exists(f"/proc/{self.root}/task/{self.root}/children")

    def add(self, wd):
        with self.lock:
            self.watchdogs.append(wd)
            if self.thread is None:
                self.stopping.clear()
                self.thread = threading.Thread(target=self.run, name="fuse-watchdog", daemon=True)
                self.thread.start()

    def remove(self, wd):
        with self.lock:
            if wd in self.watchdogs:
                self.watchdogs.remove(wd)
            thread = self.thread if not self.watchdogs else None
            if thread is not None:
                self.thread = None
                self.stopping.set()
        if thread is not None:
            thread.join()

    def run(self):
        me = threading.get_native_id()
        while not self.stopping.wait(SAMPLE_PERIOD):
            with self.lock:
                if not self.watchdogs:
                    return
                try:
                    t0 = time.thread_time()
                    hung = self.sample(me)
                    spent = time.thread_time() - t0
                    self.samples += 1
                    self.cpu += spent
                    self.max_cpu = max(self.max_cpu, spent)
                    if hung:  # one at a time: its abort may have freed the others
                        key, waited, suspects = hung[0]
                        self.waits[key][2] = True
                        self.fire(key, waited, suspects)
                except Exception:  # the watchdog's own bug: said, and it goes on
                    import traceback
                    print("watchdog: sampling failed:\n" + traceback.format_exc(), file=sys.__stderr__)

    def tasks(self, me):
        """(pid, tid) of every thread of pytest and its descendants, the
        daemons (and anything they started) left out."""
        skip = {wd.daemon_pid for wd in self.watchdogs}
        parents = None
        if not self.has_children:
            parents = {}
            for d in os.listdir("/proc"):
                if d.isdigit():
                    try:
                        stat = _read(f"/proc/{d}/stat")
                        parents.setdefault(int(stat.rsplit(b")", 1)[1].split()[1]), []).append(int(d))
                    except (OSError, IndexError, ValueError):
                        pass
        todo, out = [self.root], []
        while todo:
            pid = todo.pop()
            if pid in skip:
                continue
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                tid = int(tid)
                if tid != me:
                    out.append((pid, tid))
                if parents is None:
                    try:
                        todo += [int(c) for c in _read(f"/proc/{pid}/task/{tid}/children").split()]
                    except OSError:
                        pass
            if parents is not None:
                todo += parents.get(pid, [])
        return out

    def sample(self, me):
        now = time.monotonic()
        waits = {}
        tasks = self.tasks(me)
        self.max_tasks = max(self.max_tasks, len(tasks))
        for key in tasks:
            try:
                # in the fuse module, or asleep uninterruptibly (D) at all:
                # a page a READ holds locked (filemap_get_pages ->
                # folio_wait_bit_common) shows no fuse frame
                if not (_waits_on_fuse(_frames(_kernel_stack(*key))) or _state(*key) == b"D"):
                    continue
                n = _switches(*key)
            except OSError:
                continue  # gone meanwhile
            w = self.waits.get(key)
            waits[key] = w if w is not None and w[0] == n else [n, now, False]
        self.waits = waits
        floor = min(wd.limit for wd in self.watchdogs)
        hung = []
        for key, w in waits.items():
            if w[2] or now - w[1] <= floor:
                continue
            suspects = [wd for wd in self.watchdogs if wd.requests_in_flight() != 0]
            limit = max(wd.limit for wd in suspects) if suspects else None
            if limit is not None and now - w[1] > limit:
                hung.append((key, now - w[1], suspects))
        return hung

    def fire(self, key, waited, suspects):
        pid, tid = key
        lines = [f"watchdog: a call on the FUSE mount has not returned after {waited:.1f} s "
                 f"(limit {max(wd.limit for wd in suspects):g} s: the daemon's request timeout "
                 f"+ {HANG_MARGIN:g} s)",
                 f"hung task: pid {pid} tid {tid} comm {_text(f'/proc/{pid}/task/{tid}/comm')!r} "
                 f"cmdline {_text(f'/proc/{pid}/cmdline')!r}"
                 + "".join(f" (Python thread {t.name!r})" for t in threading.enumerate()
                           if pid == self.root and t.native_id == tid),
                 f"  syscall: {_text(f'/proc/{pid}/task/{tid}/syscall')}"]
        syscall = _text(f"/proc/{pid}/task/{tid}/syscall").split()
        if len(syscall) > 1 and syscall[0].isdigit():
            fd = int(syscall[1], 16)
            if fd < 65536:  # if its first argument is an fd, what it is
                try:
                    lines.append(f"  fd {fd}: {os.readlink(f'/proc/{pid}/fd/{fd}')}")
                except OSError:
                    pass
        lines.append(f"  cwd: {_path(f'/proc/{pid}/cwd')}")
        lines.append("  kernel stack:")
        lines += ["    " + s for s in _text(f"/proc/{pid}/task/{tid}/stack", "(gone)").splitlines()]
        for wd in suspects:
            lines += wd.daemon_report()
        for wd in suspects:
            lines.append(wd.abort())
        report = "\n".join(lines)
        for wd in suspects:
            wd.reports.append(report)
            if not wd.expected:
                print("\n" + report, file=sys.__stderr__, flush=True)


def _path(link):
    try:
        return os.readlink(link)
    except OSError as e:
        return f"({e.strerror})"


SAMPLER = _Sampler()


def watchdog_figures():
    """What the sampling has cost so far: samples, CPU seconds in all, the
    most of one sample, the most threads one sample read."""
    return {"samples": SAMPLER.samples, "cpu": SAMPLER.cpu, "max_cpu": SAMPLER.max_cpu,
            "max_tasks": SAMPLER.max_tasks}


class Watchdog:
    """A Mount's watchdog. reports: one text per hang seen; set expected =
    True in a test that provokes one (the teardown then leaves the reports
    to the test); fired: an Event set at the first report."""

    def __init__(self, path, daemon_pid, timeout):
        self.path, self.daemon_pid = path, daemon_pid
        self.limit = timeout + HANG_MARGIN
        self.conn = None
        self.reports = []
        self.expected = False
        self.aborted = False
        self.fired = threading.Event()
        self.live = False

    def start(self):
        self.conn = fuse_connection(self.path)
        self.live = True
        SAMPLER.add(self)

    def stop(self):
        if self.live:
            self.live = False
            SAMPLER.remove(self)

    def requests_in_flight(self):
        """The connection's requests waiting for an answer; -1 if unknown
        (no fusectl), which counts as some."""
        try:
            return int(_read(f"{FUSECTL}/{self.conn}/waiting"))
        except (OSError, ValueError, TypeError):
            return -1

    def daemon_report(self):
        pid = self.daemon_pid
        lines = [f"daemon pid {pid} ({self.path}, connection {self.conn}, "
                 f"{self.requests_in_flight()} requests in flight):"]
        try:
            tids = sorted(os.listdir(f"/proc/{pid}/task"), key=int)
        except OSError as e:
            return lines + [f"  ({e.strerror})"]
        for tid in tids:
            lines.append(f"  thread {tid} {_text(f'/proc/{pid}/task/{tid}/comm')!r} "
                         f"wchan {_text(f'/proc/{pid}/task/{tid}/wchan')}:")
            lines += ["    " + s for s in _text(f"/proc/{pid}/task/{tid}/stack", "(gone)").splitlines()]
        lines.append(f"  user stacks (gdb -batch -ex 'thread apply all bt' /proc/{pid}/exe -p {pid}):")
        try:
            # the program as /proc/PID/exe: the file may have been rebuilt
            # (replaced) since the daemon started
            gdb = subprocess.run(["gdb", "-batch", "-nx", "-iex", "set debuginfod enabled off",
                                  "-ex", "thread apply all bt", f"/proc/{pid}/exe", "-p", str(pid)],
                                 stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                 timeout=GDB_TIMEOUT)
            out = gdb.stdout + gdb.stderr
        except FileNotFoundError:
            out = "(gdb is not installed: scripts/install-deps)"
        except subprocess.TimeoutExpired:
            out = f"(gdb did not finish in {GDB_TIMEOUT} s)"
        lines += ["    " + s for s in out.splitlines()]
        return lines

    def abort(self):
        """Aborts the connection: every call blocked on it returns."""
        self.aborted = True
        self.fired.set()
        try:
            with open(f"{FUSECTL}/{self.conn}/abort", "w") as f:
                f.write("1")
            return f"aborted FUSE connection {self.conn} ({self.path})"
        except OSError as e:  # no fusectl: MNT_FORCE aborts a FUSE connection too
            r = subprocess.run(["umount", "-f", self.path], capture_output=True, text=True)
            return (f"{FUSECTL}/{self.conn}/abort: {e.strerror}; umount -f {self.path}: "
                    f"exit {r.returncode} {r.stderr.strip()}")

    def failure(self):
        """The teardown's failure text, or None."""
        if self.reports and not self.expected:
            return (f"watchdog: {len(self.reports)} call(s) on {self.path} hung\n"
                    + "\n\n".join(self.reports))
        return None


def output_file():
    """A temporary file for a child's output, read while it writes: the
    child writes at the end whatever the offset (O_APPEND, set here:
    TemporaryFile's mode "a+" seeks to the end only once), and output_text
    reads with pread, which leaves the offset alone; so a line written
    while a test polls never lands over an older one."""
    f = tempfile.TemporaryFile()
    fd = f.fileno()
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_APPEND)
    return f


def output_text(f):
    """All an output_file holds so far."""
    chunks, off = [], 0
    while chunk := os.pread(f.fileno(), 1 << 20, off):
        chunks.append(chunk)
        off += len(chunk)
    return b"".join(chunks).decode(errors="replace")


class Mount:
    def __init__(self, api, path, args, env, expect_stderr=(), wrapper=(), binary=None, deadline=DEADLINE):
        """wrapper: a command the daemon runs under (valgrind ...)."""
        self.api, self.path = api, path
        self.expected = [re.compile(p) for p in expect_stderr]
        self.errfile = output_file()
        self.proc = subprocess.Popen(list(wrapper) + [binary or BIN, "-f"] + args, env=env,
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=self.errfile)
        try:
            timeout = float(mount_option(args, "timeout", "30"))
        except ValueError:
            timeout = 30.0
        self.watchdog = Watchdog(path, self.proc.pid, timeout)
        wait_for(lambda: os.path.ismount(path), "the mount", proc=self.proc, deadline=deadline)
        self.watchdog.start()

    def p(self, *parts):
        return os.path.join(self.path, *parts)

    def expect(self, *patterns):
        self.expected += [re.compile(p) for p in patterns]

    def stderr(self):
        return output_text(self.errfile)

    def unexpected_lines(self):
        return [line for line in self.stderr().splitlines()
                if not any(p.search(line) for p in self.expected)]

    def mounted(self):
        """Whether the mount is there, even if its connection is aborted."""
        try:
            os.lstat(self.path)
        except OSError as e:
            return e.errno in (errno.ENOTCONN, errno.ECONNABORTED)
        return os.path.ismount(self.path)

    def umount(self, deadline=DEADLINE, check_watchdog=True):
        """Unmounts, stops the watchdog and waits for the daemon; returns
        its exit status. Fails the test if the watchdog saw a hang (unless
        check_watchdog is false: the mount fixture gathers the failures)."""
        try:
            if self.mounted():
                r = subprocess.run(["fusermount3", "-u", self.path], capture_output=True, text=True)
                if r.returncode != 0:
                    if not self.watchdog.aborted:
                        raise subprocess.CalledProcessError(r.returncode, r.args, r.stdout, r.stderr)
                    subprocess.run(["fusermount3", "-u", "-z", self.path], stderr=subprocess.DEVNULL)
        finally:
            self.watchdog.stop()
        try:
            rc = self.proc.wait(timeout=deadline)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail("mixpeekfs did not exit after fusermount3 -u")
        if check_watchdog and self.watchdog.failure():
            pytest.fail(self.watchdog.failure(), pytrace=False)
        return rc

    def kill(self):
        self.watchdog.stop()
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
    # the watchdog aborts a hung connection through fusectl (else umount -f)
    if os.path.isdir(FUSECTL) and not os.path.ismount(FUSECTL) and os.geteuid() == 0:
        subprocess.run(["mount", "-t", "fusectl", "fusectl", FUSECTL],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    yield
    if os.environ.get("MIXPEEKFS_WATCHDOG_FIGURES"):  # what the sampling cost
        with open(os.environ["MIXPEEKFS_WATCHDOG_FIGURES"], "w") as f:
            json.dump(watchdog_figures(), f)


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


@pytest.fixture(scope="module")
def long_api():
    api = _api("long")
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
        rc = m.umount(check_watchdog=False)
        if m.watchdog.failure():
            failures.append(m.watchdog.failure())
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
    """An id %-encoded: '/', '%', bytes below 0x20 and 0x7F as upper-case
    %XX; '.' and '..' encoded whole."""
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


def file_name(ident, suffix=".json"):
    """The name the tree gives an id: its encoding and suffix, or past 255
    bytes a prefix of the encoding (not cutting a %XX or a UTF-8
    character), "%~", 16 hex digits of the 64-bit FNV-1a hash of the id
    (with a final NUL byte) and the suffix."""
    enc = encode_name(ident).encode()
    if len(enc) + len(suffix) <= 255:
        return enc.decode() + suffix
    n = 255 - len(suffix) - 2 - 16
    if enc[n - 1:n] == b"%":
        n -= 1
    elif enc[n - 2:n - 1] == b"%":
        n -= 2
    while n > 0 and enc[n] & 0xC0 == 0x80:
        n -= 1
    h = 0xcbf29ce484222325
    for b in ident.encode() + b"\0":
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return enc[:n].decode() + "%~" + "%016x" % h + suffix


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
