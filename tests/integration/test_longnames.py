"""Names at most 255 bytes (NAME_MAX): an id whose name would be longer is
shown under a short, stable, unique form (a prefix, "%~", a hash of the
id), which can be looked up, read and copied out with cp, tar and rsync;
the full id is in the file and its attributes."""
import filecmp
import os

import pytest

from conftest import file_name, render, run
from mockapi.datasets import LONG_BUCKET, LONG_CONN, LONG_IDS

BUCKET_NAME = file_name(LONG_BUCKET, "")


@pytest.fixture
def api(long_api):
    long_api.clear_faults()
    long_api.reset_log()
    return long_api


def test_every_name_fits_and_is_the_short_form(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/\S+%~0123456789abcdef(\.json)?': no such name$"])
    assert len(LONG_BUCKET) == 309 and len(BUCKET_NAME.encode()) <= 255
    assert run("ls", m.p()).stdout.split() == sorted([BUCKET_NAME, "long-bucket"])
    assert os.readlink(m.p("long-bucket")) == BUCKET_NAME
    syncs = api.store.syncs(LONG_BUCKET)
    want = {file_name(o["sync_config_id"]): o for o in syncs}
    assert len(want) == len(syncs) == 10  # the two that share 294 bytes differ
    shown = os.listdir(m.p(BUCKET_NAME, "all"))
    assert sorted(shown) == sorted(want)
    for name in shown:
        assert len(name.encode()) <= 255, name
    for sid in LONG_IDS:
        name = file_name(sid)
        assert len(name.encode()) <= 255 and (len(sid.encode()) < 245 or "%~" in name)
        path = m.p(BUCKET_NAME, "all", name)
        assert open(path, "rb").read() == render(want[name])
        assert os.getxattr(path, "user.mixpeek.sync_config_id").decode() == sid
        # found in a view listed for the first time, by its short form
        status = want[name]["status"].lower()
        assert open(m.p(BUCKET_NAME, "by-status", status, name), "rb").read() == render(want[name])
        assert os.stat(path).st_ino == os.stat(m.p(BUCKET_NAME, "by-status", status, name)).st_ino
    # a connection id longer than a name: by-connection/ shows the short form
    conn = file_name(LONG_CONN, "")
    assert conn in os.listdir(m.p(BUCKET_NAME, "by-connection"))
    assert os.listdir(m.p(BUCKET_NAME, "by-connection", conn)) == [file_name(LONG_IDS[1])]
    # a short form that stands for no id does not exist
    assert not os.path.exists(m.p(BUCKET_NAME, "all", "s" * 200 + "%~0123456789abcdef.json"))
    assert not os.path.exists(m.p("b" * 200 + "%~0123456789abcdef"))


def test_the_names_are_the_same_after_a_remount(api, mount):
    m = mount(api)
    first = sorted(os.listdir(m.p(BUCKET_NAME, "all")))
    m.umount()
    m = mount(api)
    assert sorted(os.listdir(m.p(BUCKET_NAME, "all"))) == first
    assert BUCKET_NAME in os.listdir(m.p())


@pytest.mark.parametrize("tool", ["cp", "tar", "rsync"])
def test_a_bucket_copies_out_whole(api, mount, tmp_path, tool):
    """cp -a, tar c | tar x and rsync -a of the bucket copy every file, and
    the copies are the API's objects."""
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: .*"])
    src = m.p(BUCKET_NAME)
    dst = tmp_path / "copy"
    dst.mkdir()
    if tool == "cp":
        run("cp", "-a", src, str(dst))
    elif tool == "tar":
        run("sh", "-c", f'tar -C "{m.p()}" -cf - "{BUCKET_NAME}" | tar -C "{dst}" -xf -')
    else:
        run("rsync", "-a", src, str(dst))
    copied = dst / BUCKET_NAME
    files = sorted(os.path.relpath(os.path.join(d, f), src) for d, _, fs in os.walk(src) for f in fs)
    assert sorted(os.path.relpath(os.path.join(d, f), copied) for d, _, fs in os.walk(copied) for f in fs) == files
    for rel in files:
        assert filecmp.cmp(os.path.join(src, rel), copied / rel, shallow=False), rel
    for o in api.store.syncs(LONG_BUCKET):
        assert (copied / "all" / file_name(o["sync_config_id"])).read_bytes() == render(o)
