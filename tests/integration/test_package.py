"""The Debian package as users install it: scripts/package builds it from
this tree (and fails unless lintian finds no error and no warning), apt-get
installs it, mount(8) mounts the local API through the /usr/bin/mixpeekfs it
installed, as the shipped fstab line and systemd mount unit say, and apt-get
purge leaves nothing of it behind.

Runs as root (it installs a package and mounts with mount(8)) and leaves
the machine as it found it, even when a test fails: the package purged; the
meson install of test_mount_tool.py (/usr/local/bin/mixpeekfs and its man
page, which the shell's default PATH and man's would find first) moved
aside for this module and put back after. The package is built once per
module. A machine that has mixpeekfs installed as a package already fails
the module: it never skips."""
import configparser
import glob
import json
import os
import re
import signal
import subprocess

import pytest

from conftest import ROOT, render, run, wait_for

BIN = "/usr/bin/mixpeekfs"
MAN = "/usr/share/man/man1/mixpeekfs.1.gz"
DOC = "/usr/share/doc/mixpeekfs"
EXAMPLES = DOC + "/examples"
# what the package installs besides its directories: nothing else
FILES = {BIN, MAN, DOC + "/README.md.gz", DOC + "/changelog.gz", DOC + "/copyright",
         EXAMPLES + "/fstab", EXAMPLES + "/mnt-mixpeek.mount"}
# what a meson install (test_mount_tool.py) leaves where mount(8) and man look first
LOCAL = ("/usr/local/bin/mixpeekfs", "/usr/local/share/man/man1/mixpeekfs.1")
ASIDE = ".test_package-aside"
BUCKET = "bkt_marketing"
# the examples' namespace, mount point and key file, replaced by the test's
EXAMPLE_NAMESPACE, EXAMPLE_WHERE, EXAMPLE_KEY = "prod", "/mnt/mixpeek", "/etc/mixpeekfs/key"


def status():
    """The package's dpkg status: installed, config-files, ..., not-installed."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${db:Status-Status}", "mixpeekfs"],
                       capture_output=True, text=True)
    return r.stdout.strip() if r.returncode == 0 and r.stdout.strip() else "not-installed"


def apt_get(*args):
    """apt-get -y, waiting for the dpkg lock another apt may hold."""
    r = subprocess.run(["apt-get", "-y", "-o", "DPkg::Lock::Timeout=300", *args],
                       env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"apt-get {' '.join(args)} failed:\n{r.stdout}\n{r.stderr}"
    return r


def meson_version():
    return json.loads(run("meson", "introspect", "--projectinfo", os.path.join(ROOT, "meson.build"))
                      .stdout)["version"]


@pytest.fixture(scope="module")
def package():
    """scripts/package's .deb in dist/ and the script's output."""
    assert os.geteuid() == 0, "installing a package and mount(8) need root"
    assert status() == "not-installed", (
        f"mixpeekfs is installed as a package already ({status()}): this test installs and purges "
        "it, so it refuses to run here; apt-get purge mixpeekfs first")
    r = subprocess.run([os.path.join(ROOT, "scripts", "package")], capture_output=True, text=True,
                       timeout=900)
    out = r.stdout + r.stderr
    assert r.returncode == 0, f"scripts/package failed (exit {r.returncode}):\n{out}"
    debs = glob.glob(os.path.join(ROOT, "dist", "mixpeekfs_*.deb"))
    assert len(debs) == 1, debs
    return debs[0], out


def _put_back(path):
    os.rename(path + ASIDE, path)


@pytest.fixture(scope="module")
def installed(package):
    """The package installed (apt-get install ./dist/...deb); its dpkg -L.
    Purged at the end if a test has not purged it."""
    deb, _ = package
    aside = []
    try:
        for path in LOCAL:
            if os.path.lexists(path + ASIDE) and not os.path.lexists(path):
                _put_back(path)  # left aside by a run killed before its teardown
            if os.path.lexists(path):
                os.rename(path, path + ASIDE)
                aside.append(path)
        apt_get("install", "--no-install-recommends", deb)
        assert status() == "installed"
        yield run("dpkg", "-L", "mixpeekfs").stdout.splitlines()
    finally:
        try:
            if status() != "not-installed":
                apt_get("purge", "mixpeekfs")
        finally:
            for path in aside:
                _put_back(path)


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


@pytest.fixture
def mnt(tmp_path):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    yield path
    if os.path.ismount(path):
        subprocess.run(["umount", "-l", path])
    for pid in daemons(path):
        os.kill(pid, signal.SIGKILL)


def fstype(mnt):
    with open("/proc/mounts") as f:
        for line in f:
            dev, where, kind = line.split()[:3]
            if where == mnt:
                return dev, kind
    return None


def local(text, keyfile, mnt):
    """An example's text with this test's key file and mount point in
    place of the example's."""
    return text.replace(EXAMPLE_KEY, keyfile).replace(EXAMPLE_WHERE, mnt)


def check_mount(api, mnt):
    """The mount is the installed binary's and serves the API: a view lists
    the bucket's syncs, a file holds its object. Unmounts it."""
    assert fstype(mnt) == (f"mixpeek:{api.namespace}", "fuse.mixpeekfs")
    (pid,) = daemons(mnt)
    assert os.readlink(f"/proc/{pid}/exe") == BIN
    truth = api.store.syncs(BUCKET)
    listed = run("ls", os.path.join(mnt, BUCKET, "all")).stdout.split()
    assert sorted(listed) == sorted(o["sync_config_id"] + ".json" for o in truth)
    one = truth[len(truth) // 2]
    cat = run("cat", os.path.join(mnt, BUCKET, "all", one["sync_config_id"] + ".json")).stdout
    assert cat.encode() == render(one)
    run("umount", mnt)
    wait_for(lambda: gone(pid), "the daemon to exit after umount")
    assert not os.path.ismount(mnt)


def test_lintian_finds_no_error_or_warning(package):
    _, out = package
    assert "lintian-clean" in out
    assert not re.search(r"^[EW]: ", out, re.M), out


def test_installs_the_binary_the_man_page_and_the_docs_and_nothing_else(installed):
    files = {p for p in installed if not os.path.isdir(p)}
    assert files == FILES
    assert all(os.path.exists(p) for p in installed)
    # no maintainer scripts, no conffiles: nothing runs at install time
    info = sorted(os.path.basename(p) for p in glob.glob("/var/lib/dpkg/info/mixpeekfs.*"))
    assert info == ["mixpeekfs.list", "mixpeekfs.md5sums"]
    version = meson_version()
    assert run("dpkg-query", "-W", "-f=${Version}", "mixpeekfs").stdout == version
    assert run(BIN, "--version").stdout.splitlines()[0] == f"mixpeekfs {version}"
    # what mount.fuse3's /bin/sh, run without PATH, and man find
    assert run("env", "-i", "/bin/sh", "-c", "command -v mixpeekfs").stdout.strip() == BIN
    assert run("man", "-w", "mixpeekfs").stdout.strip() == MAN
    page = run("man", "mixpeekfs", env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "80"}).stdout
    assert "api_key_file" in page


def test_mount_t_fuse_mixpeekfs_as_the_example_unit_does(installed, api, keyfile, mnt):
    unit = configparser.ConfigParser(interpolation=None, strict=True)
    unit.optionxform = str
    path = os.path.join(EXAMPLES, "mnt-mixpeek.mount")
    with open(path) as f:
        unit.read_file(f)
    m = unit["Mount"]
    # systemd wants the unit named after its mount point
    assert m["Where"] == EXAMPLE_WHERE
    assert os.path.basename(path) == EXAMPLE_WHERE.strip("/").replace("/", "-") + ".mount"
    assert m["Type"] == "fuse.mixpeekfs" and m["What"] == EXAMPLE_NAMESPACE
    assert EXAMPLE_KEY in m["Options"] and "_netdev" in m["Options"]
    # what systemd runs for it: mount -t Type What Where -o Options
    options = local(m["Options"], keyfile, mnt) + ",api_url=" + api.url
    run("mount", "-t", m["Type"], api.namespace, mnt, "-o", options)
    check_mount(api, mnt)


def test_the_example_fstab_line_mounts(installed, api, keyfile, mnt, tmp_path):
    with open(os.path.join(EXAMPLES, "fstab")) as f:
        (line,) = [x for x in f.read().splitlines() if x.strip() and not x.lstrip().startswith("#")]
    spec, where, kind, options, freq, passno = line.split()
    assert (spec, where, kind) == (EXAMPLE_NAMESPACE, EXAMPLE_WHERE, "fuse.mixpeekfs")
    assert EXAMPLE_KEY in options and "x-systemd.automount" in options
    fstab = tmp_path / "fstab"
    fstab.write_text(" ".join([api.namespace, mnt, kind,
                               local(options, keyfile, mnt) + ",api_url=" + api.url,
                               freq, passno]) + "\n")
    run("mount", "-T", str(fstab), mnt)
    check_mount(api, mnt)


def test_purge_leaves_nothing_behind(installed):
    apt_get("purge", "mixpeekfs")
    assert status() == "not-installed"
    for path in installed:
        if path == "/." or not os.path.lexists(path):
            continue
        # still there: only a directory another package owns
        assert os.path.isdir(path) and not os.path.islink(path), f"{path} is left"
        owners = subprocess.run(["dpkg-query", "-S", path], capture_output=True, text=True)
        assert owners.returncode == 0, f"{path} is left, and no other package owns it"
    assert not os.path.exists(DOC)
    assert glob.glob("/var/lib/dpkg/info/mixpeekfs.*") == []
    assert run("env", "-i", "/bin/sh", "-c", "command -v mixpeekfs", check=False).stdout == ""
    assert run("man", "-w", "mixpeekfs", check=False).returncode != 0
