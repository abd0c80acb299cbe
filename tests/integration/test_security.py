"""Issue 4, the key, TLS and the binary: the key file must be private, the
key goes over plain http only to loopback (unless -o allow_http), it lives
only in memory left out of core dumps, TLS is always verified (-o cacert=
adds a CA), and the binary is hardened."""
import os
import re
import subprocess

import pytest

from conftest import BIN, base_env, run, sanitized
from mockapi.server import MockAPI
from test_mount_errors import WRONG_KEY, env_with, mnt, refuse  # noqa: F401 (mnt is a fixture)
from tlsutil import make_ca


# ---- the key file

@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o620])
def test_a_key_file_open_to_others_is_refused(api, mnt, tmp_path, mode):
    keyfile = tmp_path / "key"
    keyfile.write_text(api.key + "\n")
    keyfile.chmod(mode)
    refuse(api, mnt, ["-o", "api_url=" + api.url, "-o", f"api_key_file={keyfile}", "ns_demo", mnt],
           env_with(api), rf"^mixpeekfs: key file '{re.escape(str(keyfile))}' is open to group or others "
                          rf"\(mode 0{mode:o}\): chmod 600 it$")
    assert api.log() == []


# ---- plain http

@pytest.mark.parametrize("url", ["http://example.com", "http://192.0.2.1:8080/", "http://[2001:db8::1]/",
                                 "http://127.0.0.1.example.com/"])
def test_the_key_is_not_sent_over_plain_http_to_another_host(api, mnt, url):
    host = re.match(r"http://(\[[^]]+\]|[^/:]+)", url).group(1)
    refuse(api, mnt, ["-o", "api_url=" + url, "ns_demo", mnt], env_with(api),
           rf"^mixpeekfs: option api_url={re.escape(url)}: the key would go to '{re.escape(host)}' "
           r"unencrypted; use https:// \(or -o allow_http\)$")


def test_allow_http_lets_it_through(api, mnt):
    # 192.0.2.1 (TEST-NET-1) is not routed: the check passes, the connect fails
    refuse(api, mnt, ["-o", "api_url=http://192.0.2.1:9", "-o", "allow_http", "-o", "connect_timeout=1",
                      "-o", "retries=0", "ns_demo", mnt], env_with(api),
           r"^mixpeekfs: cannot reach the API at http://192\.0\.2\.1:9: ")


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_plain_http_to_loopback_needs_no_option(api, mount, host):
    port = api.url.rsplit(":", 1)[1]
    m = mount(api, url=f"http://{host}:{port}")
    assert {"bkt_empty", "bkt_marketing", "bkt_support"} <= set(run("ls", m.p()).stdout.split())


# ---- the key in memory


def key_places(pid, key):
    """(start, end, dont_dump) of each mapping of pid that holds the key.
    The sanitizers' runtime keeps its own copy of the environment it started
    with (MIXPEEK_API_KEY=... before our code wiped it): in a sanitized
    build, that copy is not counted."""
    skip_env = sanitized()
    maps, flags = [], {}
    with open(f"/proc/{pid}/smaps") as f:
        cur = None
        for line in f:
            m = re.match(r"^([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
            if m:
                cur = (int(m.group(1), 16), int(m.group(2), 16), m.group(3))
                maps.append(cur)
            elif line.startswith("VmFlags:"):
                flags[cur] = line.split()[1:]
    found = []
    with open(f"/proc/{pid}/mem", "rb", 0) as mem:
        for start, end, perms in maps:
            if not perms.startswith("r") or end - start > 1 << 30:
                continue
            try:
                mem.seek(start)
                data = mem.read(end - start)
            except (OSError, ValueError):
                continue
            hits = [x.start() for x in re.finditer(re.escape(key.encode()), data)]
            if skip_env:
                hits = [i for i in hits if not data[:i].endswith(b"MIXPEEK_API_KEY=")]
            if hits:
                found.append((start, end, "dd" in flags.get((start, end, perms), [])))
    return found


def exercise(m, api):
    names = os.listdir(m.p("bkt_marketing", "all"))
    for n in names[:5]:
        with open(m.p("bkt_marketing", "all", n), "rb") as f:
            f.read()
    os.listdir(m.p("bkt_support", "by-status", "failed"))


@pytest.mark.parametrize("source", ["environment", "key-file"])
def test_the_key_lives_only_in_memory_left_out_of_core_dumps(api, mount, tmp_path, source):
    if source == "environment":
        m = mount(api)
    else:
        keyfile = tmp_path / "key"
        keyfile.write_text(api.key + "\n")
        keyfile.chmod(0o600)
        env = base_env(api)
        del env["MIXPEEK_API_KEY"]
        m = mount(api, f"api_key_file={keyfile}", env=env)
    exercise(m, api)
    places = key_places(m.proc.pid, api.key)
    assert places, "the key is not in the daemon's memory at all: is the scan broken?"
    assert all(dd for _, _, dd in places), places
    assert len(places) == 1


# ---- TLS

@pytest.fixture(scope="module")
def ca(tmp_path_factory):
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def tls_api(ca):
    _, cert, key = ca
    api = MockAPI("small", tls=(cert, key)).start()
    yield api
    api.stop()


def test_https_with_cacert_works(tls_api, ca, mount):
    tls_api.reset_log()
    m = mount(tls_api, f"cacert={ca[0]}")
    assert {"bkt_empty", "bkt_marketing", "bkt_support"} <= set(run("ls", m.p()).stdout.split())
    exercise(m, tls_api)
    # over TLS too, the key is nowhere but in its no-dump page
    places = key_places(m.proc.pid, tls_api.key)
    assert len(places) == 1 and places[0][2], places


def test_https_without_the_ca_fails_with_a_tls_message_and_mounts_nothing(tls_api, mnt):
    tls_api.reset_log()
    line = refuse(tls_api, mnt, ["-o", "api_url=" + tls_api.url, "ns_demo", mnt], env_with(tls_api),
                  r"^mixpeekfs: TLS: the certificate of https://127\.0\.0\.1:\d+ does not verify: "
                  r"SSL certificate problem: .*\(give its CA with -o cacert=PATH\)$")
    assert "after" not in line  # not retried: it would not verify next time either
    assert tls_api.log() == []  # no request went out


def test_a_cacert_that_cannot_be_read_is_refused(tls_api, mnt):
    refuse(tls_api, mnt, ["-o", "api_url=" + tls_api.url, "-o", "cacert=/nonexistent/ca.pem", "ns_demo", mnt],
           env_with(tls_api), r"^mixpeekfs: cannot read cacert '/nonexistent/ca.pem'")


# ---- the binary and the mount

def readelf(*args):
    return subprocess.run(["readelf", "-W", *args, BIN], capture_output=True, text=True, check=True).stdout


def test_the_binary_is_hardened():
    assert re.search(r"Type:\s+DYN \(Position-Independent Executable", readelf("-h"))
    dyn = readelf("-d")
    assert re.search(r"FLAGS_1\).*\bNOW\b", dyn) or "BIND_NOW" in dyn
    assert "GNU_RELRO" in readelf("-l")
    syms = readelf("--dyn-syms")
    assert "__stack_chk_fail" in syms
    if not sanitized():  # the sanitizers replace the fortified calls
        assert re.search(r"__\w+_chk\b", syms.replace("__stack_chk_fail", ""))


def test_no_allow_other_unless_asked(api, mount):
    m = mount(api)
    with open("/proc/mounts") as f:
        line = next(x for x in f if x.split()[1] == m.path)
    opts = line.split()[3].split(",")
    assert "allow_other" not in opts and "ro" in opts
    assert line.split()[2] == "fuse.mixpeekfs"
