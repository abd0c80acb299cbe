"""The tree of a bucket as users see it: every view lists exactly what the
API holds for its filter, files hold the objects, stat tells the truth, and
tools that walk a listed view cost no further requests."""
import datetime
import glob
import os
import stat

import pytest

from conftest import assert_offsets_cover, epoch_ns, links, list_requests, pages_needed, render, run

BUCKET = "bkt_marketing"
STATUSES = ("pending", "in_progress", "processing", "completed", "completed_with_errors",
            "failed", "canceled", "unknown", "skipped", "draft", "active", "archived", "suspended")


def views(store):
    """(view path under the bucket, filter body the API must get, ground truth)."""
    out = [("all", {}, store.syncs(BUCKET)),
           ("active", {"is_active": True}, store.syncs(BUCKET, is_active=True)),
           ("inactive", {"is_active": False}, store.syncs(BUCKET, is_active=False))]
    for s in STATUSES:
        out.append((f"by-status/{s}", {"status": s.upper()}, store.syncs(BUCKET, status=s.upper())))
    for c in connections_used(store):
        out.append((f"by-connection/{c}", {"connection_id": c}, store.syncs(BUCKET, connection_id=c)))
    return out


def connections_used(store, bucket=BUCKET):
    return sorted({o["connection_id"] for o in store.syncs(bucket)})


def names(objs):
    return {o["sync_config_id"] + ".json" for o in objs}


def ls_f(path):
    """The entries `ls -f` shows (unsorted, as read), '.' and '..' left out
    (test_ls_a_shows_dot_and_dot_dot checks those)."""
    return [n for n in run("ls", "-f", path).stdout.splitlines() if n not in (".", "..")]


def epoch(ts):
    dt = datetime.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=datetime.timezone.utc)
    return int(dt.timestamp())


def test_root_shows_the_buckets(api, mount):
    m = mount(api)
    # the bucket directories, and each bucket name as a link to its directory
    assert run("ls", m.p()).stdout.split() == ["bkt_empty", "bkt_marketing", "bkt_support",
                                               "empty-bucket", "marketing-assets", "support-archive"]


def test_ls_a_shows_dot_and_dot_dot(api, mount):
    m = mount(api)
    for where in ("", BUCKET, f"{BUCKET}/by-status", f"{BUCKET}/all"):
        shown = run("ls", "-a", m.p(where)).stdout.splitlines()
        assert shown[:2] == [".", ".."], where
        assert shown.count(".") == 1 and shown.count("..") == 1, where


def test_bucket_shows_the_six_views(api, mount):
    m = mount(api)
    assert run("ls", m.p(BUCKET)).stdout.split() == ["active", "all", "bucket.json", "by-connection", "by-status",
                                                     "counts.json", "inactive", "where"]
    assert list_requests(api) == []
    assert [r for r in api.log() if r["method"] == "GET"] == []  # bucket.json is fetched when read


def test_by_status_lists_the_thirteen_statuses_in_lower_case(api, mount):
    m = mount(api)
    assert ls_f(m.p(BUCKET, "by-status")) == list(STATUSES)
    assert sorted(run("ls", m.p(BUCKET, "by-status")).stdout.split()) == sorted(STATUSES)
    assert list_requests(api) == []


def test_by_connection_lists_the_connections_the_bucket_uses(api, mount):
    m = mount(api)
    for bucket in ("bkt_marketing", "bkt_support"):
        shown = run("ls", m.p(bucket, "by-connection")).stdout.split()
        assert shown == connections_used(api.store, bucket)
    assert "conn_unused" not in shown


def test_empty_bucket_lists_nothing(api, mount):
    m = mount(api)
    assert ls_f(m.p("bkt_empty", "all")) == []
    assert os.listdir(m.p("bkt_empty", "by-status", "failed")) == []
    assert run("ls", m.p("bkt_empty", "by-connection")).stdout == ""
    reqs = list_requests(api, "bkt_empty")
    assert [r["body"] for r in reqs] == [{}, {"status": "FAILED"}]


@pytest.mark.parametrize("page_size", [None, 7], ids=["default-paging", "page_size=7"])
def test_every_view_lists_its_ground_truth(api, mount, page_size):
    opts = [f"page_size={page_size}"] if page_size else []
    first, later = (page_size, page_size) if page_size else (100, 1000)
    m = mount(api, *opts)
    os.stat(m.p(BUCKET))  # the bucket check happens here, outside the counts below
    for view, body, truth in views(api.store):
        api.reset_log()
        shown = ls_f(m.p(BUCKET, view))
        assert len(shown) == len(set(shown)), f"{view}: duplicate names"
        assert set(shown) == names(truth), view
        reqs = api.log()
        # a view's listing is its pages, nothing else (connections in
        # by-connection are known from the listing of all, listed first)
        assert all(r["method"] == "POST" and r["path"] == f"/v1/buckets/{BUCKET}/syncs/list"
                   for r in reqs), (view, reqs)
        assert len(reqs) == pages_needed(len(truth), first, later), view
        assert [r["body"] for r in reqs] == [body] * len(reqs), view
        assert_offsets_cover(reqs)
        if page_size:
            assert {r["query"]["limit"] for r in reqs} == {str(page_size)}
    if page_size:  # this bucket needs several pages for several views
        assert pages_needed(len(api.store.syncs(BUCKET)), 7, 7) == 10


def test_cat_and_jq_show_each_object_pretty_printed(api, mount):
    m = mount(api)
    for view, _, truth in views(api.store)[:4]:  # all, active, inactive, by-status/pending
        ls_f(m.p(BUCKET, view))
        files = [m.p(BUCKET, view, o["sync_config_id"] + ".json") for o in truth]
        expected = b"".join(render(o) for o in truth)
        for f, o in zip(files, truth):
            with open(f, "rb") as fh:
                assert fh.read() == render(o), f
        assert run("cat", *files).stdout.encode() == expected, view
        assert run("jq", ".", *files).stdout.encode() == expected, view


def test_grep_finds_the_syncs_of_a_connection(api, mount):
    m = mount(api)
    files = sorted(glob.glob(m.p(BUCKET, "all", "*.json")))
    assert len(files) == len(api.store.syncs(BUCKET))
    out = run("grep", "-l", '"connection_id": "conn_s3_prod"', *files).stdout.splitlines()
    assert {os.path.basename(f) for f in out} == names(api.store.syncs(BUCKET, connection_id="conn_s3_prod"))
    out = run("grep", "-l", '"status": "FAILED"', *files).stdout.splitlines()
    assert {os.path.basename(f) for f in out} == names(api.store.syncs(BUCKET, status="FAILED"))


def test_jq_reads_last_error_of_failed_syncs(api, mount):
    m = mount(api)
    failed = sorted(api.store.syncs(BUCKET, status="FAILED"), key=lambda o: o["sync_config_id"])
    assert len(failed) >= 5
    files = sorted(glob.glob(m.p(BUCKET, "by-status", "failed", "*.json")))
    assert [os.path.basename(f) for f in files] == [o["sync_config_id"] + ".json" for o in failed]
    out = run("jq", "-r", ".last_error", *files).stdout.splitlines()
    assert out == [o["last_error"] for o in failed]
    assert all(out)


def test_stat_of_files_and_directories(api, mount):
    m = mount(api)
    truth = api.store.syncs(BUCKET)
    listed = os.listdir(m.p(BUCKET, "all"))
    assert set(listed) == names(truth)
    for o in truth:
        st = os.stat(m.p(BUCKET, "all", o["sync_config_id"] + ".json"))
        assert st.st_mode == stat.S_IFREG | 0o444
        assert st.st_nlink == links(o)
        assert st.st_size == len(render(o))
        assert st.st_mtime_ns == epoch_ns(o["updated_at"])
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    for d in ("", BUCKET, f"{BUCKET}/all", f"{BUCKET}/by-status", f"{BUCKET}/by-status/failed",
              f"{BUCKET}/by-connection", f"{BUCKET}/by-connection/conn_s3_prod"):
        st = os.stat(m.p(d))
        assert st.st_mode == stat.S_IFDIR | 0o555, d
        assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid()), d


def test_ls_l_shows_mode_and_size(api, mount):
    m = mount(api)
    truth = {o["sync_config_id"] + ".json": o for o in api.store.syncs(BUCKET, status="COMPLETED")}
    lines = run("ls", "-l", "--time-style=+%s", m.p(BUCKET, "by-status", "completed")).stdout.splitlines()
    assert lines[0].startswith("total ")
    seen = {}
    for line in lines[1:]:
        mode, nlink, _, _, size, mtime, name = line.split()
        seen[name] = (mode, int(nlink), int(size), int(mtime))
    assert seen == {n: ("-r--r--r--", links(o), len(render(o)), epoch(o["updated_at"]))
                    for n, o in truth.items()}


@pytest.mark.parametrize("view", ["all", "by-status/failed", "by-connection/conn_s3_prod"])
def test_tools_walking_a_listed_view_make_no_requests(api, mount, view):
    m = mount(api)
    path = m.p(BUCKET, view)
    listed = ls_f(path)
    api.reset_log()
    files = [os.path.join(path, n) for n in listed]
    run("ls", "-l", path)
    found = run("find", path, "-type", "f").stdout.splitlines()
    assert sorted(found) == sorted(files)
    sizes = run("stat", "-c", "%s", *files).stdout.split()
    assert len(sizes) == len(files) and all(int(s) > 0 for s in sizes)
    for f in files:
        os.stat(f)
    assert api.log() == []


def test_df_shows_a_non_zero_size(api, mount):
    m = mount(api)
    out = run("df", "-P", m.path).stdout.splitlines()
    assert len(out) == 2
    fields = out[1].split()
    assert int(fields[1]) > 0
    assert fields[-1] == m.path
    assert os.statvfs(m.path).f_blocks > 0
    assert api.log() == []


def test_every_spelling_of_a_status_is_one_listing(api, mount):
    """by-status/FAILED, by-status/Failed and where/status=Failed are the
    failed syncs: one list request within ttl, with the enum's upper-case
    value, whatever the spelling; each spelling is a directory of its own
    (its own inode: the kernel never sees one directory under two names)."""
    m = mount(api, "ttl=60")
    want = sorted(names(api.store.syncs(BUCKET, status="FAILED")))
    assert want
    shown = {}
    for where in ("by-status/FAILED", "by-status/Failed", "where/status=Failed", "by-status/failed",
                  "where/status=fAiLeD"):
        shown[where] = sorted(run("ls", m.p(BUCKET, where)).stdout.split())
        assert shown[where] == want, where
    reqs = list_requests(api, BUCKET)
    assert [r["body"] for r in reqs] == [{"status": "FAILED"}] * len(reqs)
    assert len(reqs) == pages_needed(len(want))
    inodes = {os.stat(m.p(BUCKET, w)).st_ino for w in shown}
    assert len(inodes) == len(shown)
    # a file is one inode whatever the spelling of the view it is found in
    f = want[0]
    assert os.stat(m.p(BUCKET, "by-status/Failed", f)).st_ino == os.stat(m.p(BUCKET, "all", f)).st_ino


def test_a_connections_name_is_a_link_to_its_id(api, mount):
    """by-connection/ holds connection ids; a connection's name (the API's
    connection GET takes either) is a symbolic link to the id's directory,
    as bucket names are at the root; a name that is neither does not exist."""
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/by-connection/No Such Drive': .*$",
                                  r"^mixpeekfs: info: stat '/bkt_marketing/where/connection_id=Production S3 Bucket'"
                                  r": no such connection id$"])
    conns = m.p(BUCKET, "by-connection")
    link = os.path.join(conns, "Marketing Google Drive")
    st = os.lstat(link)
    assert stat.S_ISLNK(st.st_mode)
    assert os.readlink(link) == "conn_gdrive_mkt"
    assert run("ls", link + "/").stdout.split() == sorted(names(api.store.syncs(BUCKET, connection_id="conn_gdrive_mkt")))
    assert os.path.samefile(link, os.path.join(conns, "conn_gdrive_mkt"))
    # the list calls went out with the id, never the name
    assert {r["body"].get("connection_id") for r in list_requests(api, BUCKET)} <= {None, "conn_gdrive_mkt"}
    assert not os.path.lexists(os.path.join(conns, "No Such Drive"))
    # an id stays a directory; where/ takes ids only
    assert stat.S_ISDIR(os.lstat(os.path.join(conns, "conn_s3_prod")).st_mode)
    assert not os.path.exists(m.p(BUCKET, "where", "connection_id=Production S3 Bucket"))
