"""Messages that say what is wrong: each problem its own line, exactly as a
user sees it. At mount: an api_url with a path, a query, a fragment, a port
outside 1-65535 or credentials (never printed back), a key file that is a
directory, https:// to a plain-HTTP server (one try, not five). While
serving: duplicate ids within one page said once per listing, a stable
mtime for a sync without timestamps, one log line per rejected name."""
import datetime
import os
import re
import socket
import subprocess
import threading

import pytest

from conftest import BIN, DEADLINE, run
from mockapi.datasets import iso_ms, parse_ts
from mockapi.server import MockAPI
from test_mount_errors import env_with, mnt  # noqa: F401 (mnt is a fixture)

ALONE = "give the server alone, as https://api.mixpeek.com (mixpeekfs adds the /v1/... paths)"
SECRET = "s3cr3t-pw"


def refused(api, mnt, args, env=None):
    """Runs mixpeekfs expecting it to refuse to mount: exit 1, nothing
    mounted, nothing asked of the API, one line on stderr; returns it."""
    proc = subprocess.run([BIN, "-f", *args, "ns_demo", mnt], env=env or env_with(api),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=DEADLINE * 2)
    assert proc.returncode == 1, proc.stderr
    assert not os.path.ismount(mnt)
    assert api.log() == []
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert api.key not in proc.stderr
    return lines[0]


# ---- 1, 2: api_url: path, query, fragment, port


@pytest.mark.parametrize("suffix,line", [
    ("/v1", "has a path (/v1): " + ALONE),
    ("/v1/", "has a path (/v1/): " + ALONE),
    ("?x=1", "has a query (?x=1): " + ALONE),
    ("/?x=1", "has a query (?x=1): " + ALONE),
    ("#frag", "has a fragment (#frag): " + ALONE),
    ("#", "has a fragment (#): " + ALONE),
], ids=["path", "path/", "query", "/query", "fragment", "empty-fragment"])
def test_api_url_with_more_than_the_server_is_refused(api, mnt, suffix, line):
    url = api.url + suffix
    assert refused(api, mnt, ["-o", "api_url=" + url]) == f"mixpeekfs: option api_url={url}: {line}"


@pytest.mark.parametrize("port,what", [("99999", "port 99999 is outside 1-65535"),
                                       ("65536", "port 65536 is outside 1-65535"),
                                       ("0", "port 0 is outside 1-65535"),
                                       ("http", "port 'http' is not a number from 1 to 65535")])
def test_a_port_outside_the_range_is_named(api, mnt, port, what):
    url = f"http://127.0.0.1:{port}"
    assert refused(api, mnt, ["-o", "api_url=" + url]) == f"mixpeekfs: option api_url={url}: {what}"


def test_a_trailing_slash_is_no_path(api, mount):
    m = mount(api, url=api.url + "/")
    assert "bkt_marketing" in os.listdir(m.p())


# ---- 3: credentials in api_url


@pytest.mark.parametrize("how", ["option", "environment"])
def test_credentials_in_api_url_are_refused_and_never_printed(api, mnt, how):
    url = api.url.replace("http://", f"http://mixuser:{SECRET}@")
    if how == "option":
        line = refused(api, mnt, ["-o", "api_url=" + url])
    else:
        line = refused(api, mnt, [], env_with(api, MIXPEEK_API_URL=url))
    assert line == "mixpeekfs: api_url must not hold credentials: give the key with api_key_file"


def test_credentials_are_not_printed_with_another_problem(api, mnt):
    url = f"https://mixuser:{SECRET}@127.0.0.1:99999/v1"
    line = refused(api, mnt, ["-o", "api_url=" + url])
    assert line == "mixpeekfs: option api_url=https://***@127.0.0.1:99999/v1: port 99999 is outside 1-65535"
    line = refused(api, mnt, ["-o", f"api_url=ftp://mixuser:{SECRET}@example.com"])
    assert line == "mixpeekfs: option api_url=ftp://***@example.com: not an http:// or https:// URL"


# ---- 4: a key file that is a directory


def test_a_key_file_that_is_a_directory_says_so(api, mnt, tmp_path):
    d = tmp_path / "keys"
    d.mkdir()
    d.chmod(0o1777)  # as /tmp: the mode is not the problem
    line = refused(api, mnt, ["-o", "api_url=" + api.url, "-o", f"api_key_file={d}"])
    assert line == f"mixpeekfs: key file '{d}' is a directory"


# ---- 5: https:// to a plain-HTTP server


class PlainServer:
    """A plain-HTTP server on loopback that answers anything with 400 and
    counts the connections made to it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def close(self):
        self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def test_https_to_a_plain_http_port_is_one_try_and_says_why(api, mnt):
    srv = PlainServer()
    try:
        url = f"https://127.0.0.1:{srv.port}"
        line = refused(api, mnt, ["-o", "api_url=" + url, "-o", "retries=4"])
        assert line == (f"mixpeekfs: TLS handshake failed: the server at {url} does not speak TLS "
                        "(is it http://?)")
        assert srv.connections == 1  # not retried: it will not speak TLS next time
    finally:
        srv.close()


# ---- 6: duplicate ids within one page


@pytest.fixture
def own_api():
    """A small API of this test's own, free to be changed."""
    api = MockAPI("small").start()
    yield api
    api.stop()


def add_pair(api, bucket, sync_id, created_ms):
    """The same sync twice, created at created_ms: side by side in the API
    order."""
    t = iso_ms(created_ms)
    for _ in range(2):
        api.store.add_sync(bucket, {"sync_config_id": sync_id, "created_at": t, "updated_at": t})


def test_a_duplicate_within_a_page_is_said_once(own_api, mount):
    api = own_api
    add_pair(api, "bkt_support", "sync_dup", parse_ts(api.truth("bkt_support")[0]["created_at"]) // 1000 + 1000)
    warning = ("mixpeekfs: warn: list syncs of 'bkt_support' all: the API sent sync_dup twice; "
               "showing it once")
    m = mount(api, expect_stderr=["^" + re.escape(warning) + "$"])
    names = os.listdir(m.p("bkt_support", "all"))
    assert names.count("sync_dup.json") == 1
    assert len(names) == len({o["sync_config_id"] for o in api.truth("bkt_support")})
    os.listdir(m.p("bkt_support", "all"))  # within ttl: the same listing
    assert m.stderr().splitlines() == [warning]


def test_pages_that_overlap_are_no_duplicates_and_a_pair_in_the_overlap_is_said_once(own_api, mount):
    # page_size=16: pages [0,16), [14,30), [28,44), ...: each fetched ahead
    # reaches 2 items into the one before. A pair at 14 and 15 is on the
    # first two pages.
    api = own_api
    truth = api.truth("bkt_marketing")
    newer, older = (parse_ts(truth[i]["created_at"]) // 1000 for i in (13, 14))
    assert newer - older >= 2
    add_pair(api, "bkt_marketing", "sync_seam", (newer + older) // 2)
    assert [o["sync_config_id"] for o in api.truth("bkt_marketing")[14:16]] == ["sync_seam"] * 2
    warning = ("mixpeekfs: warn: list syncs of 'bkt_marketing' all: the API sent sync_seam twice; "
               "showing it once")
    m = mount(api, "page_size=16", expect_stderr=["^" + re.escape(warning) + "$"])
    names = run("ls", m.p("bkt_marketing", "all")).stdout.split()
    assert len(names) == len(truth) + 1 and names.count("sync_seam.json") == 1
    pages = [r for r in api.log() if r["path"].endswith("/syncs/list")]
    offsets = sorted(int(r["query"]["offset"]) for r in pages)
    assert offsets[:3] == [0, 14, 28]
    # other views, paged the same way, overlap too: no warning
    assert len(run("ls", m.p("bkt_marketing", "by-status", "failed")).stdout.split()) > 0
    assert m.stderr().splitlines() == [warning]


# ---- 7: a sync without timestamps


def without_times(api, bucket):
    """A sync of bucket with no usable timestamp: created_at and updated_at
    null (it comes last in the API's order)."""
    return api.store.add_sync(bucket, {"sync_config_id": "sync_timeless", "created_at": None,
                                       "updated_at": None})


def utc_seconds(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


@pytest.mark.parametrize("opts", [(), ("buckets=bkt_support",)], ids=["bucket-list", "buckets-option"])
def test_a_sync_without_times_has_its_buckets_created_at_at_every_mount(own_api, mount, opts):
    api = own_api
    without_times(api, "bkt_support")
    created = utc_seconds(api.store.bucket("bkt_support")["created_at"])
    path = ("bkt_support", "all", "sync_timeless.json")
    mtimes = []
    for _ in range(2):
        m = mount(api, *opts)
        os.listdir(m.p("bkt_support", "all"))
        mtimes.append(os.stat(m.p(*path)).st_mtime_ns)
        m.umount()
        # never listed: had by a GET
        m = mount(api, *opts)
        mtimes.append(os.stat(m.p(*path)).st_mtime_ns)
        assert [r["method"] for r in api.log() if r["path"].endswith("/sync_timeless")] == ["GET"]
        m.umount()
    assert mtimes == [created * 10**9] * 4


def test_without_the_buckets_created_at_the_mtime_is_0(own_api, mount):
    api = own_api
    without_times(api, "bkt_support")
    del api.store.bucket("bkt_support")["created_at"]
    m = mount(api)
    os.listdir(m.p("bkt_support", "all"))
    assert os.stat(m.p("bkt_support", "all", "sync_timeless.json")).st_mtime_ns == 0


# ---- 8: one log line per rejected name


@pytest.mark.parametrize("ttl", ["0", "30"])
def test_a_rejected_name_is_one_line(api, mount, ttl):
    m = mount(api, f"ttl={ttl}", expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/"])
    os.listdir(m.p("bkt_marketing"))
    for name, why in (("where/color=red", "no such filter: an unknown key (status, connection_id, is_active)"),
                      ("where/status=failed,status=paused", "no such filter: a key given twice"),
                      ("nosuch", "no such path")):
        before = len(m.stderr().splitlines())
        r = run("ls", m.p("bkt_marketing", name), check=False)
        assert r.returncode != 0 and "No such file or directory" in r.stderr
        assert m.stderr().splitlines()[before:] == [f"mixpeekfs: info: stat '/bkt_marketing/{name}': {why}"]
    # through the bucket's name, the same line once
    before = len(m.stderr().splitlines())
    run("ls", m.p("marketing-assets", "where", "is_active=yes"), check=False)
    assert m.stderr().splitlines()[before:] == [
        "mixpeekfs: info: stat '/bkt_marketing/where/is_active=yes': no such filter: is_active is neither true "
        "nor false"]
