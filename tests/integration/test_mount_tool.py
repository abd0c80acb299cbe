"""mixpeekfs as operators mount it: meson install, then mount(8) with
-t fuse.mixpeekfs and an fstab entry (through mount.fuse3), which run the
installed binary as a daemon that logs to syslog. The key comes from a
0600 key file.

mount(8) runs its helpers with no PATH at all, so mount.fuse3's /bin/sh
finds mixpeekfs only on the shell's default path (/usr/local/bin among it):
these tests install the build there, as a user would."""
import hashlib
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BIN, ROOT, run, wait_for

PREFIX_BIN = "/usr/local/bin/mixpeekfs"


@pytest.fixture(scope="module")
def installed():
    assert os.geteuid() == 0, "mount(8) and meson install into /usr/local need root"
    # the build under test: build/, or build-asan/ in the sanitized run
    run("meson", "install", "-C", os.path.dirname(BIN), "--quiet")
    # where mount.fuse3's /bin/sh, run without PATH, finds it
    found = run("env", "-i", "/bin/sh", "-c", "command -v mixpeekfs").stdout.strip()
    assert found == PREFIX_BIN
    with open(BIN, "rb") as a, open(found, "rb") as b:
        same = hashlib.sha256(a.read()).digest() == hashlib.sha256(b.read()).digest()
    assert same, "the installed binary is not this build"
    return found


@pytest.fixture
def keyfile(api, tmp_path):
    path = tmp_path / "key"
    path.write_text(api.key + "\n")
    path.chmod(0o600)
    return str(path)


def daemons(mnt):
    """PIDs of mixpeekfs processes serving mnt."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) == b"mixpeekfs" and mnt.encode() in argv:
            out.append(int(pid))
    return out


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(")")[-1].split()[0] == "Z"


def fstype(mnt):
    with open("/proc/mounts") as f:
        for line in f:
            dev, where, kind = line.split()[:3]
            if where == mnt:
                return dev, kind
    return None


@pytest.fixture
def mnt(tmp_path):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    yield path
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", path])
    for pid in daemons(path):
        os.kill(pid, signal.SIGKILL)


def check_mounted(api, mnt, keyfile):
    assert fstype(mnt) == (f"mixpeek:{api.namespace}", "fuse.mixpeekfs")
    assert sorted(os.listdir(mnt)) == [".mixpeekfs", "bkt_empty", "bkt_marketing", "bkt_support",
                                       "empty-bucket", "marketing-assets", "support-archive"]
    (pid,) = daemons(mnt)
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        assert api.key.encode() not in f.read()
    with open(f"/proc/{pid}/environ", "rb") as f:
        assert api.key.encode() not in f.read()
    return pid


def unmount(mnt, pid):
    run("umount", mnt)
    wait_for(lambda: gone(pid), "the daemon to exit after umount")
    assert not os.path.ismount(mnt)


def test_installed_binary_and_man_page(installed):
    page = os.path.realpath(run("man", "-w", "mixpeekfs").stdout.strip())
    assert page == "/usr/local/share/man/man1/mixpeekfs.1"
    assert "api_key_file" in run("man", "mixpeekfs", env={**os.environ, "MANPAGER": "cat"}).stdout


def test_mount_t_fuse_mixpeekfs(installed, api, keyfile, mnt):
    run("mount", "-t", "fuse.mixpeekfs", api.namespace, mnt,
        "-o", f"api_key_file={keyfile},api_url={api.url},_netdev,nofail")
    pid = check_mounted(api, mnt, keyfile)
    with open(os.path.join(mnt, "marketing-assets", "bucket.json")) as f:
        assert '"bucket_id": "bkt_marketing"' in f.read()
    unmount(mnt, pid)


def test_fstab_entry(installed, api, keyfile, mnt, tmp_path):
    fstab = tmp_path / "fstab"
    fstab.write_text(
        "# a comment, as fstab has\n"
        f"{api.namespace}  {mnt}  fuse.mixpeekfs  api_key_file={keyfile},api_url={api.url},"
        "_netdev,noauto,x-systemd.automount,x-systemd.idle-timeout=60,nofail,defaults  0  0\n")
    run("mount", "-T", str(fstab), mnt)
    pid = check_mounted(api, mnt, keyfile)
    unmount(mnt, pid)


def test_fstab_entry_with_a_bad_key_file_mounts_nothing(installed, api, mnt, tmp_path):
    fstab = tmp_path / "fstab"
    fstab.write_text(f"{api.namespace} {mnt} fuse.mixpeekfs "
                     f"api_key_file={tmp_path}/missing,api_url={api.url},_netdev 0 0\n")
    r = run("mount", "-T", str(fstab), mnt, check=False)
    assert r.returncode != 0
    assert re.search(r"mixpeekfs: cannot read key file '.*missing': No such file", r.stderr)
    assert not os.path.ismount(mnt)


def test_fstab_only_options_are_accepted_when_run_directly(api, mount):
    m = mount(api, "_netdev", "noauto", "nofail", "defaults", "x-systemd.automount",
              "x-systemd.idle-timeout=60")
    assert "bkt_marketing" in os.listdir(m.p())


def test_help_lists_every_option_with_its_default():
    out = run(BIN, "--help").stdout
    out = out[out.index("mixpeekfs options:"):out.index("FUSE options:")]
    for opt, default in (("namespace=", "MIXPEEK_NAMESPACE"), ("api_url=", "https://api.mixpeek.com"),
                         ("api_key_file=", "MIXPEEK_API_KEY"), ("ttl=", "default 30"),
                         ("page_size=", "100 growing to 1000"), ("buckets=", "all buckets"),
                         ("timeout=", "default 30"), ("cacert=", "system store"),
                         ("log_level=", "default info")):
        block = out[out.index("    -o " + opt):]
        block = block[:block.find("\n    -o ", 1)]
        assert default in block, (opt, block)


def test_version_names_the_libraries():
    out = run(BIN, "--version").stdout
    assert re.search(r"^mixpeekfs \d+\.\d+\.\d+$", out, re.M)
    assert re.search(r"^libfuse 3\.\d+", out, re.M)
    assert re.search(r"^libcurl/\d+\.\d+", out, re.M)
    assert re.search(r"^jansson \d+\.\d+", out, re.M)
