"""A running mount, debugged without a remount: SIGHUP drops every cache
(the kernel's too) and says so; SIGUSR2 steps the log level; at debug, one
line per request with method, path, status, bytes and milliseconds."""
import os
import re
import signal

from conftest import list_requests, wait_for

BUCKET = "bkt_marketing"
HUP = r"^mixpeekfs: info: sighup: dropped every cache \(\d+ paths\); the kernel dropped \d+ root entries"
REQ = re.compile(r"^mixpeekfs: debug: (GET|POST) (/v1/\S+): (\d{3}), (\d+) bytes, (\d+) ms$")


def said(m, pattern):
    return lambda: any(re.search(pattern, line) for line in m.stderr().splitlines())


def test_sighup_makes_the_next_listing_refetch(api, mount):
    m = mount(api, "ttl=3600", expect_stderr=[HUP])
    victim = api.store.syncs(BUCKET)[0]
    path = m.p(BUCKET, "all", victim["sync_config_id"] + ".json")
    os.listdir(m.p(BUCKET, "all"))
    with open(path) as f:
        old = f.read()
    stat_before = os.stat(path)
    api.reset_log()
    os.listdir(m.p(BUCKET, "all"))          # within ttl: cached
    with open(path) as f:
        assert f.read() == old
    assert list_requests(api) == []

    api.store.update_sync(BUCKET, victim["sync_config_id"], status="COMPLETED", last_error=None)
    new = api.store.sync(BUCKET, victim["sync_config_id"])
    m.proc.send_signal(signal.SIGHUP)
    wait_for(said(m, HUP), "the sighup log line", proc=m.proc)

    os.listdir(m.p(BUCKET, "all"))
    assert len(list_requests(api, BUCKET)) == 1
    # the kernel's entry for the bucket went too: its lookup asked again
    assert api.count("POST", r"^/v1/buckets/list$") == 1
    with open(path) as f:
        text = f.read()
    assert '"status": "COMPLETED"' in text and text != old
    assert os.stat(path).st_mtime > stat_before.st_mtime
    assert os.getxattr(path, "user.mixpeek.status") == b"COMPLETED"
    assert os.getxattr(path, "user.mixpeek.updated_at") == new["updated_at"].encode()


def test_sigusr2_steps_the_log_level(api, mount):
    m = mount(api, "log_level=warn",
              expect_stderr=[r"^mixpeekfs: info: sigusr2: log level is now (info|debug|error|warn)$", REQ.pattern])
    os.listdir(m.p(BUCKET, "active"))
    assert m.stderr() == ""                                   # warn: quiet
    steps = ("info", "debug", "error", "warn", "info", "debug")
    for n, level in enumerate(steps, 1):
        m.proc.send_signal(signal.SIGUSR2)
        wait_for(lambda: len(re.findall(r"log level is now", m.stderr())) == n, f"step {n}", proc=m.proc)
    assert re.findall(r"log level is now (\w+)", m.stderr()) == list(steps)
    api.reset_log()
    os.listdir(m.p(BUCKET, "inactive"))
    wait_for(lambda: len([ln for ln in m.stderr().splitlines() if REQ.match(ln)]) >= 1, "a request line")


def test_debug_logs_one_line_per_request(api, mount):
    m = mount(api, "log_level=debug", "page_size=10", expect_stderr=[REQ.pattern])
    m.stderr()
    api.reset_log()
    start = len(m.stderr().splitlines())
    os.listdir(m.p(BUCKET, "all"))
    with open(m.p(BUCKET, "bucket.json")) as f:
        f.read()
    log = api.log()
    lines = [REQ.match(ln) for ln in m.stderr().splitlines()[start:]]
    assert all(lines)
    assert [(x[1], x[2].split("?")[0]) for x in lines] == [(r["method"], r["raw_path"]) for r in log]
    assert [int(x[3]) for x in lines] == [r["status"] for r in log]
    assert all(int(x[4]) > 0 for x in lines)
    assert "/v1/buckets/bkt_marketing/syncs/list?limit=10&offset=0" in [x[2] for x in lines]
    assert api.key not in m.stderr()
