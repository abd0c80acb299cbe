"""The options users pass to every FUSE filesystem keep working on the
low-level face: ownership and modes (uid=, gid=, umask=), the access
options (allow_other, allow_root, default_permissions), the serving loop
(-s, -d, max_threads=, max_idle_threads=, clone_fd) and auto_unmount; and
--help lists only options that exist."""
import os
import re
import stat

import pytest

from conftest import BIN, render, run

BUCKET = "bkt_marketing"


def works(m, api):
    """A listing and a file read through the mount, exact."""
    o = api.store.syncs(BUCKET)[0]
    names = os.listdir(m.p(BUCKET, "all"))
    assert len(names) == len(api.store.syncs(BUCKET))
    with open(m.p(BUCKET, "all", o["sync_config_id"] + ".json"), "rb") as f:
        assert f.read() == render(o)


def test_uid_gid_umask(api, mount):
    m = mount(api, "uid=1234", "gid=5678", "umask=027")
    works(m, api)
    o = api.store.syncs(BUCKET)[0]
    for path, mode in ((m.p(BUCKET, "all", o["sync_config_id"] + ".json"), stat.S_IFREG | 0o440),
                       (m.p(BUCKET, "all"), stat.S_IFDIR | 0o550), (m.p(BUCKET), stat.S_IFDIR | 0o550),
                       (m.p(BUCKET, "bucket.json"), stat.S_IFREG | 0o440)):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, st.st_mode) == (1234, 5678, mode), path
    # listed entries carry the same attributes (readdirplus)
    out = run("ls", "-ln", m.p(BUCKET, "all")).stdout.splitlines()[1:]
    assert {tuple(line.split()[2:4]) for line in out} == {("1234", "5678")}
    assert {line.split()[0] for line in out} == {"-r--r-----"}


@pytest.mark.parametrize("bad", ["uid=x", "gid=-1", "umask=8", "umask=01000"])
def test_bad_ownership_options_are_refused(api, tmp_path, bad):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run(BIN, "-f", "-o", "api_url=" + api.url, "-o", bad, api.namespace, str(mnt), check=False)
    assert r.returncode != 0
    assert re.match(r"^mixpeekfs: option " + re.escape(bad) + ": ", r.stderr), r.stderr
    assert not os.path.ismount(mnt)


@pytest.mark.parametrize("opts", [("-s",), ("max_threads=2",), ("max_idle_threads=1",), ("clone_fd",),
                                  ("allow_other",), ("allow_root",), ("default_permissions",),
                                  ("auto_unmount",)], ids=lambda o: o[0])
def test_fuse_options(api, mount, opts):
    m = mount(api, *opts)
    works(m, api)
    line = next(x for x in open("/proc/mounts") if x.split()[1] == m.path)
    if opts[0] in ("allow_other", "default_permissions"):
        assert opts[0] in line.split()[3].split(","), line
    assert "ro" in line.split()[3].split(",")


def test_debug_output(api, mount):
    m = mount(api, "-d", expect_stderr=[r".*"])
    works(m, api)
    text = m.stderr()
    assert re.search(r"^unique: \d+, opcode: READDIRPLUS", text, re.M), text[-2000:]
    assert re.search(r"^unique: \d+, opcode: LOOKUP", text, re.M)
    assert api.key not in text


def test_help_lists_only_options_that_exist(api, mount):
    text = run(BIN, "--help").stdout
    fuse = text[text.index("FUSE options:"):]
    listed = set(re.findall(r"-o (\w+)", fuse))
    assert listed == {"debug", "clone_fd", "max_idle_threads", "max_threads", "allow_other",
                      "allow_root", "auto_unmount"}
    # none of the high-level library's options, which do not exist here
    for gone in ("kernel_cache", "auto_cache", "entry_timeout", "attr_timeout", "hard_remove",
                 "use_ino", "readdir_ino", "direct_io", "modules"):
        assert gone not in text, gone
    ours = text[text.index("mixpeekfs options:"):text.index("FUSE options:")]
    for o in ("uid=", "gid=", "umask=", "prefetch="):
        assert "-o " + o in ours, o
