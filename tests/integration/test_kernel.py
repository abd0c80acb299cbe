"""What the kernel keeps and is told (the low-level FUSE face): readdirplus
leaves every entry with its attributes, a listing's files are pushed into
the page cache, a version of a sync is one inode in every view and a new
version a new inode, so bytes that change show whatever their size and
mtime say, and a file open across a change reads one version whole. Round
trips are counted from stats.json's ops, never timed."""
import datetime
import errno
import json
import os
import signal
import time

import pytest

from conftest import links, pushed, render, run, stats, wait_for

BUCKET = "bkt_marketing"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def ops(m):
    return stats(m)["ops"]


def delta(before, after):
    return {k: after[k] - before[k] for k in before}


def test_files_of_a_listed_view_are_read_from_the_page_cache(api, mount):
    m = mount(api)
    view = m.p(BUCKET, "all")
    truth = api.store.syncs(BUCKET)
    names = [o["sync_config_id"] + ".json" for o in truth]
    assert sorted(os.listdir(view)) == sorted(names)
    got = pushed(m, len(truth))
    assert got["push"]["bytes"] == sum(len(render(o)) for o in truth)
    before = ops(m)
    out = run("cat", *[os.path.join(view, n) for n in names]).stdout.encode()
    assert out == b"".join(render(o) for o in truth)
    failed = run("grep", "-rl", '"status": "FAILED"', view).stdout.split()
    assert sorted(failed) == sorted(os.path.join(view, o["sync_config_id"] + ".json")
                                    for o in truth if o["status"] == "FAILED")
    used = delta(before, ops(m))
    print("cat and grep -r of", len(names), "files:", used)
    assert used["read"] == 0
    assert used["lookup"] == 0
    assert [r for r in api.log() if r["method"] == "GET"] == []


def test_prefetch_0_pushes_nothing(api, mount):
    m = mount(api, "prefetch=0")
    view = m.p(BUCKET, "all")
    truth = api.store.syncs(BUCKET)
    os.listdir(view)
    before = ops(m)
    out = run("cat", *[os.path.join(view, o["sync_config_id"] + ".json") for o in truth]).stdout
    assert out.encode() == b"".join(render(o) for o in truth)
    s = stats(m)
    assert s["push"]["files"] == 0 and s["push"]["bytes"] == 0
    assert delta(before, s["ops"])["read"] >= len(truth)  # each file read from the daemon


def test_prefetch_is_bounded_per_listing(api, mount):
    truth = api.store.syncs(BUCKET)
    sizes = [len(render(o)) for o in truth]
    m = mount(api, "prefetch=10K")
    os.listdir(m.p(BUCKET, "all"))
    s = pushed(m, 1)
    assert 0 < s["push"]["bytes"] <= 10 * 1024
    assert s["push"]["files"] < len(truth)
    assert s["push"]["bytes"] + max(sizes) > 10 * 1024 - max(sizes)  # it filled the budget


def test_ls_l_asks_two_xattrs_whatever_the_files(api, mount):
    """ls -l asks for security.selinux and system.posix_acl_access; told
    EOPNOTSUPP, it stops asking for the rest of its run (the kernel keeps
    no such answer, so a run costs two, not two for every file)."""
    m = mount(api)
    view = m.p(BUCKET, "all")
    os.listdir(view)
    before = ops(m)
    for _ in range(2):
        lines = run("ls", "-l", view).stdout.splitlines()
        assert len(lines) == 1 + len(api.store.syncs(BUCKET))
    used = delta(before, ops(m))
    print("ls -l twice over", len(lines) - 1, "files:", used)
    assert used["getxattr"] + used["listxattr"] <= 4


def test_opening_every_file_after_ls_f_looks_nothing_up(api, mount):
    m = mount(api)
    view = m.p(BUCKET, "by-status", "failed")
    names = run("ls", "-f", view).stdout.split()
    names = [n for n in names if n not in (".", "..")]
    assert len(names) == len(api.store.syncs(BUCKET, status="FAILED"))
    before = ops(m)
    for n in names:
        os.close(os.open(os.path.join(view, n), os.O_RDONLY))
    used = delta(before, ops(m))
    print("opening", len(names), "files after ls -f:", used)
    assert used["lookup"] == 0 and used["getattr"] == 0 and used["open"] == 0


def views_of(o):
    return ["all", "active" if o["is_active"] else "inactive", f"by-status/{o['status'].lower()}",
            f"by-connection/{o['connection_id']}"]


def same_size_change(o, updated_at):
    """Fields for update_sync that change the bytes but not their length."""
    path = o["source_path"]
    return {"source_path": path[:-1] + ("X" if path[-1] != "X" else "Y"), "updated_at": updated_at}


def later(ts, seconds=0, fraction=None):
    """ts ("...T12:00:00.123000Z") moved by whole seconds, or with another
    fraction in the same second."""
    head, frac = ts.rstrip("Z").split(".")
    if fraction is not None:
        return f"{head}.{fraction}Z"
    t = datetime.datetime.fromisoformat(head) + datetime.timedelta(seconds=seconds)
    return f"{t.isoformat()}.{frac}Z"


def other_fraction(ts):
    """Another fraction of a second, of the same length (so the same size)."""
    frac = ts.rstrip("Z").split(".")[1]
    return str((int(frac[0]) + 1) % 10) + frac[1:]


def ttl_passed(since, ttl):
    wait_for(lambda: time.monotonic() > since + ttl + 0.2, "ttl to pass", deadline=ttl + 5)


CHANGES = {
    "a second later": lambda ts: later(ts, seconds=1),
    "within its second": lambda ts: later(ts, fraction=other_fraction(ts)),
    "not moved": lambda ts: ts,
}


def change_in_place(api, o, how):
    new = api.store.update_sync(BUCKET, o["sync_config_id"], **same_size_change(o, CHANGES[how](o["updated_at"])))
    assert len(render(new)) == len(render(o)) and render(new) != render(o)
    return new


@pytest.mark.parametrize("prefetch", ["64M", "0"])  # new bytes pushed, or old ones dropped
@pytest.mark.parametrize("how", list(CHANGES))
def test_a_change_of_the_same_size_shows_through_a_new_listing(api, mount, how, prefetch):
    m = mount(api, "ttl=1", "prefetch=" + prefetch)
    o = api.store.syncs(BUCKET, status="FAILED")[0]
    paths = [m.p(BUCKET, v, o["sync_config_id"] + ".json") for v in views_of(o)]
    for p in paths:
        os.listdir(os.path.dirname(p))
        assert read(p) == render(o)
    assert len({os.stat(p).st_ino for p in paths}) == 1
    try:
        new = change_in_place(api, o, how)
        t = time.monotonic()
        ttl_passed(t, 1)
        for p in paths:  # each view listed anew, then read
            assert os.path.basename(p) in os.listdir(os.path.dirname(p))
            assert read(p) == render(new), (how, p)
            assert os.stat(p).st_size == len(render(new))
    finally:
        api.store.update_sync(BUCKET, o["sync_config_id"], source_path=o["source_path"],
                              updated_at=o["updated_at"])


@pytest.mark.parametrize("how", list(CHANGES))
def test_a_change_of_the_same_size_shows_through_a_direct_cat(api, mount, how):
    m = mount(api, "ttl=1")
    o = api.store.syncs(BUCKET, status="FAILED")[1]
    paths = [m.p(BUCKET, v, o["sync_config_id"] + ".json") for v in views_of(o)]
    os.listdir(m.p(BUCKET, "all"))  # pages pushed into the cache
    pushed(m, 1)
    for p in paths:
        assert read(p) == render(o)
    try:
        new = change_in_place(api, o, how)
        ttl_passed(time.monotonic(), 1)
        for p in paths:  # no listing: each view's file opened directly
            assert run("cat", p).stdout.encode() == render(new), (how, p)
    finally:
        api.store.update_sync(BUCKET, o["sync_config_id"], source_path=o["source_path"],
                              updated_at=o["updated_at"])


@pytest.mark.parametrize("cached", [True, False])  # its pages in the kernel, or dropped
def test_a_file_open_across_a_change_reads_the_version_it_opened(api, mount, cached):
    """Each version of a sync is an inode of its own, as a file replaced by
    rename(2) is: a file open when the sync changes reads the version it
    opened, whole, at that version's size, while its name shows the new
    one. With one inode for every version, the size the kernel holds and
    the bytes the daemon answers can be of two versions, and a read gets
    one cut at the other's size (the churn test caught it)."""
    m = mount(api, "ttl=1", "prefetch=0")
    o = api.store.syncs(BUCKET, status="FAILED")[3]
    p = m.p(BUCKET, "all", o["sync_config_id"] + ".json")
    os.listdir(m.p(BUCKET, "all"))
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.pread(fd, 1 << 16, 0) == render(o)
        new = api.store.update_sync(BUCKET, o["sync_config_id"], source_path=o["source_path"] + "/grown" * 20,
                                    last_error="grown")
        ttl_passed(time.monotonic(), 1)
        assert o["sync_config_id"] + ".json" in os.listdir(m.p(BUCKET, "all"))
        assert read(p) == render(new)
        if not cached:  # read from the daemon, not the page cache
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        assert os.fstat(fd).st_size == len(render(o))
        assert os.pread(fd, 1 << 16, 0) == render(o)
        assert os.pread(fd, 1 << 16, 700) == render(o)[700:]
        assert os.stat(p).st_ino != os.fstat(fd).st_ino
        # its extended attributes are its version's too
        assert os.getxattr(fd, "user.mixpeek.last_error") == o["last_error"].encode()
        assert os.getxattr(p, "user.mixpeek.last_error") == b"grown"
    finally:
        os.close(fd)
        api.store.update_sync(BUCKET, o["sync_config_id"], source_path=o["source_path"],
                              last_error=o["last_error"])


def test_a_version_whose_bytes_are_gone_is_estale_never_another(large_api, mount):
    """The one case where a file open across a change cannot be read: its
    version's bytes left the cache before the sync changed (here a cache of
    1 MiB, and another bucket's 11 MB listing through it). The read fails
    with ESTALE and one log line, never with another version's bytes."""
    api, bucket = large_api, "bkt_1k"
    m = mount(api, "ttl=1", "prefetch=0", "cache_size=1M", expect_stderr=[
        r"^mixpeekfs: error: read '/bkt_1k/all/sync_\w+\.json': the sync changed, and the bytes of the "
        r"version this file is are gone: open it again$"])
    o = api.store.syncs(bucket)[5]
    p = m.p(bucket, "all", o["sync_config_id"] + ".json")
    fd = os.open(p, os.O_RDONLY)
    try:
        assert os.pread(fd, 1 << 16, 0) == render(o)
        assert len(os.listdir(m.p("bkt_10k", "all"))) == 10000
        assert stats(m)["cache"]["evictions"] > 0
        new = api.store.update_sync(bucket, o["sync_config_id"], source_path=o["source_path"] + "/moved")
        ttl_passed(time.monotonic(), 1)
        assert read(p) == render(new)
        assert os.fstat(fd).st_size == len(render(o))
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        with pytest.raises(OSError) as e:
            os.pread(fd, 1 << 16, 0)
        assert e.value.errno == errno.ESTALE
    finally:
        os.close(fd)
        api.store.update_sync(bucket, o["sync_config_id"], source_path=o["source_path"])


def test_mtime_keeps_its_fraction(api, mount):
    m = mount(api)
    o = api.store.syncs(BUCKET)[0]
    st = os.stat(m.p(BUCKET, "all", o["sync_config_id"] + ".json"))
    frac = o["updated_at"].rstrip("Z").split(".")[1]
    assert st.st_mtime_ns % 10**9 == int((frac + "000000000")[:9])


def test_one_inode_with_a_link_per_view(api, mount):
    m = mount(api)
    for o in api.store.syncs(BUCKET)[:10]:
        sts = [os.stat(m.p(BUCKET, v, o["sync_config_id"] + ".json")) for v in views_of(o)]
        assert len({s.st_ino for s in sts}) == 1
        assert {s.st_nlink for s in sts} == {links(o)} == {4}


def test_du_of_a_bucket_counts_each_sync_once(api, mount):
    m = mount(api)
    b = m.p(BUCKET)

    def du(*paths):
        return int(run("du", "-s", "--apparent-size", "-B1", "-c", *paths).stdout.split()[-2])
    whole = du(b)
    own = [os.path.join(b, f) for f in ("bucket.json", "counts.json")]
    assert whole == du(os.path.join(b, "all"), *own)
    assert whole == sum(len(render(o)) for o in api.store.syncs(BUCKET)) + \
        sum(os.stat(f).st_size for f in own)


def test_lookups_are_forgotten(api, mount):
    """Every inode the kernel was handed is forgotten again: after SIGHUP
    takes back the root's entries, the kernel lets all below go."""
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: sighup: "])
    for v in ("all", "by-status/failed", "by-connection"):
        for n in os.listdir(m.p(BUCKET, v)):
            os.stat(m.p(BUCKET, v, n))
    held = stats(m)["inodes"]
    assert held["held"] > len(api.store.syncs(BUCKET))
    m.proc.send_signal(signal.SIGHUP)
    # what is left: /.mixpeekfs and its stats.json, which this reads
    wait_for(lambda: stats(m)["inodes"]["held"] <= 2, "the kernel to forget", proc=m.proc)
    assert stats(m)["ops"]["forget"] > 0


def test_stats_json_counts_ops_but_its_own(api, mount):
    m = mount(api)
    first = stats(m)
    for _ in range(5):
        stats(m)
    again = stats(m)
    assert delta(first["ops"], again["ops"]) == {k: 0 for k in first["ops"]}
    os.stat(m.p(BUCKET, "all"))
    assert json.dumps(delta(again["ops"], stats(m)["ops"])) != json.dumps({k: 0 for k in first["ops"]})


def test_a_sync_gone_from_a_refreshed_listing_is_taken_back(api, mount):
    """A sync deleted upstream goes as soon as a refreshed listing lacks it,
    in every view that shows it, not when the kernel's entries of it time
    out: here its entry in by-status/failed, handed out 3 s after all/'s
    listing, is valid until 3 s after all/ is listed anew. Once the
    notifications that relisting made are done, the kernel has let it go
    (the check is made then, without waiting: a kernel that still held the
    entry would answer from it)."""
    m = mount(api, "ttl=6", expect_stderr=[
        r"^mixpeekfs: info: stat '/bkt_marketing/all/sync_\w+\.json': GET .+: http 404: "])
    o = api.store.syncs(BUCKET, status="FAILED")[2]
    name = o["sync_config_id"] + ".json"
    failed = m.p(BUCKET, "by-status", "failed", name)
    listed = time.monotonic()
    assert name in os.listdir(m.p(BUCKET, "all"))
    wait_for(lambda: time.monotonic() > listed + 3, "3 s")
    assert name in os.listdir(m.p(BUCKET, "by-status", "failed"))  # entry valid 6 s more
    api.store.delete_sync(BUCKET, o["sync_config_id"])
    try:
        ttl_passed(listed, 6)
        assert name not in os.listdir(m.p(BUCKET, "all"))
        wait_for(lambda: stats(m)["push"]["pending"] == 0, "the notifications to be made")
        assert not os.path.exists(failed)
        assert run("cat", failed, check=False).returncode != 0
    finally:
        api.store.add_sync(BUCKET, o)
