"""Every write is refused with EROFS, and none of them sends anything to the
API: mixpeekfs only ever lists and gets."""
import errno
import os

import pytest

from conftest import run

BUCKET = "bkt_marketing"


@pytest.fixture
def ro(api, mount):
    """A mount whose root, bucket and `all` view are listed (so the writes
    below find their targets in the cache); returns (mount, an existing file)."""
    m = mount(api, expect_stderr=[
        # lookups of the new names a write would create
        r"^mixpeekfs: info: stat '/bkt_marketing/(all/|by-status/)?new[^']*': no such path$",
        r"^mixpeekfs: info: stat '/bkt_new': (POST /v1/buckets/list: http 200: )?no such bucket$",
        # answered from the listing of all/
        r"^mixpeekfs: info: stat '/bkt_marketing/all/sync_new\.json': no such sync in this view$",
    ])
    os.listdir(m.p())
    names = sorted(os.listdir(m.p(BUCKET, "all")))
    os.listdir(m.p(BUCKET, "by-status"))
    api.reset_log()
    yield m, m.p(BUCKET, "all", names[0])
    # whatever happened, only list and get calls ever reached the API
    for r in m.mount_requests + api.log():
        assert (r["method"] == "GET" or (r["method"] == "POST" and r["path"].endswith("/list"))), r


def refused(*cmd):
    r = run(*cmd, check=False)
    assert r.returncode != 0, cmd
    assert "Read-only file system" in r.stderr, (cmd, r.stderr)


def erofs(fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == errno.EROFS, e.value


def test_tools_that_write_are_refused(api, ro):
    m, existing = ro
    all_dir = m.p(BUCKET, "all")
    before = open(existing, "rb").read()
    refused("touch", os.path.join(all_dir, "new.txt"))
    refused("touch", existing)
    refused("sh", "-c", 'echo x > "$1"', "sh", existing)
    refused("sh", "-c", 'echo x >> "$1"', "sh", existing)
    refused("rm", "-f", existing)
    refused("mkdir", os.path.join(all_dir, "newdir"))
    refused("mkdir", m.p("bkt_new"))
    refused("rmdir", m.p(BUCKET, "by-status", "failed"))
    refused("rmdir", all_dir)
    refused("mv", existing, os.path.join(all_dir, "new-name"))
    refused("mv", all_dir, m.p(BUCKET, "new-view"))
    refused("ln", existing, os.path.join(all_dir, "new-link"))
    refused("ln", "-s", existing, os.path.join(all_dir, "new-symlink"))
    refused("chmod", "644", existing)
    refused("chmod", "755", all_dir)
    refused("chown", f"{os.getuid() + 1}:{os.getgid() + 1}", existing)
    refused("truncate", "-s", "0", existing)
    refused("setfattr", "-n", "user.note", "-v", "1", existing)
    refused("setfattr", "-x", "user.note", existing)
    assert api.log() == []
    assert open(existing, "rb").read() == before
    assert os.stat(existing).st_mode & 0o777 == 0o444


def test_syscalls_that_write_are_refused(api, ro):
    m, existing = ro
    all_dir = m.p(BUCKET, "all")
    for mode in ("w", "a", "r+", "x"):
        erofs(open, existing if mode != "x" else os.path.join(all_dir, "new.txt"), mode)
    erofs(os.open, existing, os.O_RDONLY | os.O_TRUNC)
    erofs(os.utime, existing)
    erofs(os.utime, existing, (0, 0))
    erofs(os.unlink, existing)
    erofs(os.mkdir, os.path.join(all_dir, "newdir"))
    erofs(os.rmdir, m.p(BUCKET, "by-status", "failed"))
    erofs(os.rename, existing, os.path.join(all_dir, "new.json.txt"))
    erofs(os.link, existing, os.path.join(all_dir, "new-link"))
    erofs(os.symlink, existing, os.path.join(all_dir, "new-symlink"))
    erofs(os.chmod, existing, 0o600)
    erofs(os.chown, existing, os.getuid() + 1, -1)
    erofs(os.truncate, existing, 0)
    erofs(os.setxattr, existing, "user.note", b"1")
    erofs(os.mknod, os.path.join(all_dir, "new-fifo"), 0o600 | 0o010000)
    assert api.log() == []


def test_creating_a_sync_named_file_is_refused(api, ro):
    """A new name that could be a sync may be looked up (answered from the
    listing of all/); the create itself sends nothing."""
    m, _ = ro
    new = m.p(BUCKET, "all", "sync_new.json")
    refused("touch", new)
    erofs(open, new, "w")
    erofs(open, new, "x")
    assert not os.path.exists(new)
    assert api.log() == []
