"""<bucket>/counts.json: how many syncs each view holds, keyed as the tree
names the views, each the total of one list call with limit=1; fetched
when the file is read, never by ls, and cached for ttl."""
import json
import os
import subprocess
import threading

from conftest import list_requests, run, wait_for

BUCKET = "bkt_marketing"
STATUSES = ("pending", "in_progress", "processing", "completed", "completed_with_errors",
            "failed", "canceled", "unknown", "skipped", "draft", "active", "archived", "suspended")


def truth(store, bucket):
    syncs = store.syncs(bucket)
    conns = sorted({o["connection_id"] for o in syncs if o.get("connection_id")})
    return {
        "all": len(syncs),
        "active": len(store.syncs(bucket, is_active=True)),
        "inactive": len(store.syncs(bucket, is_active=False)),
        "by-status": {s: len(store.syncs(bucket, status=s.upper())) for s in STATUSES},
        "by-connection": {c: len(store.syncs(bucket, connection_id=c)) for c in conns},
    }


def count_requests(api):
    return [r for r in api.log()
            if r["path"].endswith("/syncs/list") and r["query"].get("limit") == "1"
            or r["path"] == "/v1/organizations/connections/list"]


def test_counts_are_the_apis_totals(api, mount):
    m = mount(api, "ttl=60")
    path = m.p(BUCKET, "counts.json")
    # ls and ls -l of the bucket show it, with a size, and send none of its requests
    assert "counts.json" in run("ls", m.p(BUCKET)).stdout.split()
    line = next(l for l in run("ls", "-l", m.p(BUCKET)).stdout.splitlines() if l.endswith(" counts.json"))
    assert line.startswith("-r--r--r-- 1 ") and " 4096 " in line, line
    run("stat", path)
    assert count_requests(api) == []
    assert list_requests(api) == []

    shown = json.loads(run("jq", ".", path).stdout)
    assert shown == truth(api.store, BUCKET)
    assert list(shown) == ["all", "active", "inactive", "by-status", "by-connection"]
    assert list(shown["by-status"]) == list(STATUSES)
    reqs = list_requests(api, BUCKET)
    # one call per view, limit=1, the filter in the body as the views send it
    assert all(r["query"] == {"limit": "1", "offset": "0"} for r in reqs), reqs
    bodies = sorted(json.dumps(r["body"], sort_keys=True) for r in reqs)
    want = [{}, {"is_active": True}, {"is_active": False}] + \
        [{"status": s.upper()} for s in STATUSES] + \
        [{"connection_id": c} for c in sorted({o["connection_id"] for o in api.store.connections()})]
    assert bodies == sorted(json.dumps(b, sort_keys=True) for b in want)

    # a second read within ttl: nothing sent
    api.reset_log()
    assert json.loads(run("cat", path).stdout) == shown
    assert api.log() == []
    # the requests are counted in stats.json as any other
    stats = json.loads(run("cat", m.p(".mixpeekfs", "stats.json")).stdout)
    assert stats["requests"]["total"] >= len(want) + 1, stats["requests"]


def test_an_empty_bucket_counts_zero(api, mount):
    m = mount(api)
    shown = json.loads(run("cat", m.p("bkt_empty", "counts.json")).stdout)
    assert shown == {"all": 0, "active": 0, "inactive": 0, "by-status": {s: 0 for s in STATUSES},
                     "by-connection": {}}


def test_no_counts_for_a_bucket_that_is_not(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_nope': no such bucket$"])
    r = run("cat", m.p("bkt_nope", "counts.json"), check=False)
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    assert count_requests(api) == []


def test_one_buckets_counts_do_not_wait_for_anothers(api, mount):
    """While the API holds a request of bkt_marketing's counts, reading
    bkt_support's counts.json is answered: each bucket's counts are fetched
    on their own (one fetch at a time for the whole mount made the second
    reader wait for the first fetch, up to its timeout, then for its own)."""
    m = mount(api, "timeout=10", "retries=0",
              expect_stderr=[r"^mixpeekfs: error: read '/bkt_marketing/counts.json': .*timed out"])
    for b in (BUCKET, "bkt_support"):
        os.stat(m.p(b, "counts.json"))  # looked up: what follows is the reads
    api.add_fault("hang", path_re=rf"^/v1/buckets/{BUCKET}/syncs/list$", count=1, seconds=60)
    held = {}

    def read_held():
        try:
            held["text"] = run("cat", m.p(BUCKET, "counts.json")).stdout
        except subprocess.CalledProcessError as e:
            held["error"] = e
    t = threading.Thread(target=read_held, name="held-counts")
    t.start()
    wait_for(lambda: any(r["path"] == f"/v1/buckets/{BUCKET}/syncs/list" and r.get("fault") == "hang"
                         for r in api.log()), "the held request")
    shown = json.loads(run("cat", m.p("bkt_support", "counts.json")).stdout)
    assert t.is_alive(), "bkt_support's counts came only after bkt_marketing's fetch ended"
    assert shown == truth(api.store, "bkt_support")
    t.join()
    assert "error" in held  # EIO: the timeout, once (test_faults)
