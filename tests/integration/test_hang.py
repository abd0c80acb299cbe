"""Calls that must return: the watchdog that fails a test whose call on the
mount blocks for good, and the read that hung the mount.

The read: a file opened without reading, the same sync then looked up
through another view just before the daemon's copy of the listing expires
(the kernel keeps those attributes for a whole ttl from then, so they
outlive the daemon's copy), the sync changed upstream (its size too), then
a read of the open file. It must return, with the old bytes or the new.
"""
import errno
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from conftest import render, run, stop_daemon, wait_for

BUCKET = "bkt_1k"


# ---- the watchdog itself


@pytest.mark.parametrize("caller", ["tool", "thread"])
def test_the_watchdog_reports_a_hung_call_and_frees_it(api, mount, caller):
    """With the daemon stopped (SIGSTOP), a stat through the mount (by stat,
    a child process, or a thread of pytest) blocks. The watchdog reports it
    once it has waited longer than timeout + 5 s, with the daemon's kernel
    and user stacks, and aborts the connection: the stat returns."""
    m = mount(api, "timeout=2", "retries=0")
    m.watchdog.expected = True  # this test reads the report; the teardown does not fail on it
    assert m.watchdog.limit == 7
    target = m.p("bkt_marketing", "all")  # not looked up yet: a LOOKUP the daemon must answer
    result = {}

    def in_thread():
        try:
            os.stat(target)
            result["error"] = None
        except OSError as e:
            result["error"] = e
    stop_daemon(m.proc.pid)
    try:
        started = time.monotonic()
        if caller == "tool":
            blocked = subprocess.Popen(["stat", target], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       text=True)
        else:
            blocked = threading.Thread(target=in_thread, name="blocked-stat")
            blocked.start()
        # a fail-safe for the poll, not a bound the test checks: the limit,
        # gdb's own timeout, and room for a loaded machine
        wait_for(m.watchdog.fired.is_set, "the watchdog to fire", deadline=m.watchdog.limit + 120)
        fired_after = time.monotonic() - started
        if caller == "tool":
            out, err = blocked.communicate(timeout=60)
            assert blocked.returncode != 0, out
            assert ("Software caused connection abort" in err
                    or "Transport endpoint is not connected" in err), err
        else:
            blocked.join(60)
            assert not blocked.is_alive(), "the stat still blocks after the abort"
            assert isinstance(result["error"], OSError), result
    finally:
        os.kill(m.proc.pid, signal.SIGCONT)
    assert fired_after >= m.watchdog.limit  # never early
    assert len(m.watchdog.reports) == 1
    report = m.watchdog.reports[0]
    print(report)
    # the hung task, its kernel stack in the fuse module
    if caller == "tool":
        assert f"pid {blocked.pid} tid {blocked.pid} comm 'stat'" in report, report
    else:
        assert f"tid {blocked.native_id} " in report and "(Python thread 'blocked-stat')" in report, report
    assert "request_wait_answer" in report and "fuse_lookup" in report, report
    waited = float(report.split("has not returned after ", 1)[1].split(" s", 1)[0])
    assert waited >= m.watchdog.limit  # (rounded to 0.1 s)
    # every daemon thread: its kernel stack (stopped) and gdb's user stacks
    tids = report.split(f"daemon pid {m.proc.pid} ", 1)[1]
    assert tids.count("do_signal_stop") >= 2, report
    assert "thread apply all bt" in report and "#0 " in report, report
    assert re.search(r"^ +#\d+ .*\bmain \(", report, re.M), report  # symbols: the daemon's main
    assert f"aborted FUSE connection {m.watchdog.conn} " in report, report
    # the teardown's failure, had the hang not been expected
    m.watchdog.expected = False
    assert m.watchdog.failure().startswith("watchdog: 1 call(s) on ")
    m.watchdog.expected = True
    # the daemon, continued, finds its connection gone and ends
    m.proc.wait(timeout=30)


def test_the_watchdog_stays_quiet_for_a_slow_answer(api, mount):
    """A call the daemon answers within its timeout is not a hang, however
    long it takes: here the API holds a lookup's request for 3 s, under a
    timeout of 4 s (limit 9 s)."""
    m = mount(api, "timeout=4", "retries=0")
    api.add_fault("latency", path_re=r"/syncs/list$", seconds=3, count=1)
    names = os.listdir(m.p("bkt_marketing", "all"))
    assert names
    assert m.watchdog.reports == []
    assert m.watchdog.live


def in_syscall(tid, numbers):
    """Whether thread tid of this process is blocked in one of the system
    calls numbered (x86-64) in numbers."""
    try:
        with open(f"/proc/self/task/{tid}/syscall") as f:
            first = f.read().split()[0]
    except (OSError, IndexError):
        return False
    return first.isdigit() and int(first) in numbers


OPENAT, GETDENTS64 = 257, 217


def test_readers_waiting_on_a_page_leave_threads_for_other_calls(api, mount):
    """24 readers, more than libfuse's default of 10 threads, wait on one
    page that the API holds. A read that needs no API call (stats.json) is
    answered while every one of them still waits: a reader waiting on a
    page must not hold a call that has nothing to do with it in the
    kernel's queue, behind that page's fetch. (With 10 threads the read
    returned only once the fetch had timed out and the readers had their
    EIO.)"""
    m = mount(api, "timeout=10", "retries=0", "prefetch=0")
    view = m.p("bkt_marketing", "all")
    m.expect(r"^mixpeekfs: error: \w+ '/bkt_marketing/all': .*timed out")
    os.stat(view)  # the bucket and its view looked up: the readers wait on its first page only
    api.add_fault("hang", path_re=r"/buckets/bkt_marketing/syncs/list$", count=1, seconds=60)
    results = {}

    def reader(n):
        try:
            results[n] = len(os.listdir(view))
        except OSError as e:
            results[n] = e
    readers = [threading.Thread(target=reader, args=(n,), name=f"reader{n}") for n in range(24)]
    for t in readers:
        t.start()
    wait_for(lambda: api.count("POST", r"/bkt_marketing/syncs/list$") == 1, "the held request")
    wait_for(lambda: all(in_syscall(t.native_id, (OPENAT, GETDENTS64)) for t in readers),
             "every reader to wait in the kernel")
    with open(m.p(".mixpeekfs", "stats.json")) as f:
        assert json.load(f)["requests"]
    still_waiting = [t.name for t in readers if t.is_alive()]
    assert still_waiting == [t.name for t in readers], f"answered before stats.json: {sorted(results)}"
    for t in readers:
        t.join()
    assert all(isinstance(r, OSError) and r.errno == errno.EIO for r in results.values()), results
    assert api.count("POST", r"/bkt_marketing/syncs/list$") == 1  # one fetch, its error shared


# ---- the read that hung the mount


def status_dir(obj):
    return obj["status"].lower()


def changed_fields(obj):
    """A change that makes the file longer: a longer last_error."""
    return {"last_error": (obj.get("last_error") or "") + " - changed upstream while the file was open"}


def open_unread(api, m, names, picks):
    """Opens the picked files of all/ (indexes into names) without reading;
    returns their fds and the objects they show now."""
    fds, olds = [], []
    try:
        for i in picks:
            name = names[i]
            olds.append((name, api.store.sync(BUCKET, name[:-len(".json")])))
            fds.append(os.open(m.p(BUCKET, "all", name), os.O_RDONLY))
        return fds, olds
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise


def one_try(api, m, picks, ttl=3.0, lead=0.5, after=0.5):
    """One try: an ls of all/; the picked files (indexes in ls order)
    opened without reading; each stat'ed through by-status/ lead seconds
    before the daemon's copy of the listing expires (the kernel then keeps
    those attributes until about ttl - lead after that copy expired); each
    changed upstream (longer); then, after seconds past the expiry (the
    kernel's attributes still valid, the daemon's copy gone; None: at
    once), each open fd read with pread: it must return, with the old bytes
    or the new."""
    listed_at = time.monotonic()
    names = run("ls", m.p(BUCKET, "all")).stdout.split()
    listed = time.monotonic()
    assert len(names) == 1000
    fds, olds = open_unread(api, m, names, picks)
    out = []
    try:
        wait_for(lambda: time.monotonic() >= listed_at + ttl - lead, "the moment before the ttl ends",
                 deadline=ttl + 5)
        stat_at = time.monotonic()
        for name, old in olds:
            st = os.stat(m.p(BUCKET, "by-status", status_dir(old), name))
            assert st.st_size == len(render(old))
        news = [api.store.update_sync(BUCKET, old["sync_config_id"], **changed_fields(old))
                for _, old in olds]
        # the daemon's copy (fetched during the ls) has expired; the
        # kernel's attributes from the stat have not (unless the machine
        # was too slow for this try: then the try proves less, but it is
        # still a read that must return)
        if after is not None:  # (None: at once, the daemon's copy still fresh)
            wait_for(lambda: time.monotonic() >= listed + ttl + after, "the daemon's copy to expire",
                     deadline=ttl + after + 5)
        late = time.monotonic() - stat_at >= ttl
        for fd, (name, old), new in zip(fds, olds, news):
            assert len(render(new)) > len(render(old))
            got = os.pread(fd, 1 << 20, 0)
            out.append((name, old, new, got))
    finally:
        for fd in fds:
            os.close(fd)
    for name, old, new, got in out:
        assert got in (render(old), render(new)), (
            f"{name}: read {len(got)} bytes, neither the old version ({len(render(old))} bytes) "
            f"nor the new ({len(render(new))} bytes):\n{got[:300]!r}...{got[-300:]!r}")
    return out, late


def when(after):
    return "at once" if after is None else f"{after} s after the expiry"


@pytest.fixture
def large(large_api):
    large_api.clear_faults()
    large_api.reset_log()
    return large_api


def test_a_read_of_an_open_file_after_a_stat_through_another_view_returns(large, mount):
    """The reported reproduction: the 600th file of ls all/."""
    m = mount(large, "ttl=3", "prefetch=0", "timeout=5")
    one_try(large, m, [599])


def test_the_read_returns_in_every_try(large, mount):
    """The same, a few times over, with other files and with several files
    open at once, in case the race needs tries."""
    m = mount(large, "ttl=3", "prefetch=0", "timeout=5")
    late, failed = 0, []
    for picks, after in (([599], 0.2), ([600], 1.0), ([0], 0.5), ([999], 0.5), ([300, 301, 302], 0.5),
                         ([100, 500, 900, 950], 1.5), ([599], 2.0), ([601], 0.0), ([602], 0.05),
                         ([603], None), ([604, 605], None)):
        try:  # every try, so that a failure shows which of them fail
            late += one_try(large, m, picks, after=after)[1]
        except AssertionError as e:
            failed.append(f"picks {picks}, read {when(after)}: {str(e).splitlines()[0]}")
        except OSError as e:  # the watchdog aborted the mount: no more tries
            failed.append(f"picks {picks}, read {when(after)}: {e!r}")
            break
    print(f"{late} tries read after the kernel's attributes had expired too (a slow machine)")
    assert not failed, "\n".join(failed)


HUNG_TEST = '''
import os, signal, sys
sys.path[:0] = [{integration!r}, {tests!r}]  # this conftest, not tests/conftest.py
from conftest import *  # the fixtures: api, mount, ...


def test_hung(api, mount):
    m = mount(api, "timeout=1", "retries=0")
    stop_daemon(m.proc.pid)
    try:
        os.stat(m.p("bkt_marketing", "all"))
    except OSError as e:
        print("the stat returned:", e)
    finally:
        os.kill(m.proc.pid, signal.SIGCONT)
'''


def test_a_hang_nobody_expected_fails_the_test_at_teardown(tmp_path):
    """The wiring: a test whose call hangs (and that does not say it
    expects so) fails, with the watchdog's report, though its own code
    went on once the call was freed."""
    here = os.path.dirname(os.path.abspath(__file__))
    (tmp_path / "test_generated.py").write_text(
        HUNG_TEST.format(tests=os.path.dirname(here), integration=here))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                        "--rootdir", str(tmp_path), str(tmp_path / "test_generated.py")],
                       cwd=tmp_path, capture_output=True, text=True, timeout=600)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out
    assert "the stat returned: [Errno 103] Software caused connection abort" in out, out
    assert re.search(r"^ERROR \S*test_generated.py::test_hung - Failed: watchdog: 1 call", out, re.M), out
    assert re.search(r"Failed: watchdog: 1 call\(s\) on \S+ hung$", out, re.M), out
    assert "1 passed, 1 error" in out, out
    for part in ("request_wait_answer", "fuse_lookup", "do_signal_stop", "thread apply all bt",
                 "aborted FUSE connection"):
        assert part in out, (part, out)
