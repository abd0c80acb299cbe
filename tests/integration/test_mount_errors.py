"""The mount command line: what refuses to mount says so in one line on
stderr (never the key), exits non-zero and leaves nothing mounted; and the
ways of giving the key and namespace that must work."""
import errno
import os
import re
import socket
import subprocess

import pytest

from conftest import BIN, DEADLINE, Mount, base_env, run
from mockapi.server import FORBIDDEN_KEY

WRONG_KEY = "sk_live_wrong_0123456789abcdef"


@pytest.fixture
def mnt(tmp_path):
    path = tmp_path / "mnt"
    path.mkdir()
    return str(path)


def closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def refuse(api, mnt, args, env, problem):
    """Runs mixpeekfs in the foreground expecting it to refuse to mount."""
    proc = subprocess.Popen([BIN, "-f", *args], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=DEADLINE * 2)
    except subprocess.TimeoutExpired:
        subprocess.run(["fusermount3", "-u", "-z", mnt], stderr=subprocess.DEVNULL)
        proc.kill()
        proc.communicate()
        pytest.fail(f"mixpeekfs {args} did not exit (mounted: {os.path.ismount(mnt)})")
    assert proc.returncode != 0
    assert not os.path.ismount(mnt)
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert re.search(problem, lines[0]), lines[0]
    for key in (api.key, WRONG_KEY, FORBIDDEN_KEY):
        assert key not in err and key not in out
    return lines[0]


def env_with(api, **changes):
    env = base_env(api)
    for k, v in changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    return env


# (id, extra -o options, environment changes, namespace argument, the problem named)
LOCAL_ERRORS = [
    ("no-key", [], {"MIXPEEK_API_KEY": None}, "ns_demo", r"^mixpeekfs: no API key"),
    ("empty-key", [], {"MIXPEEK_API_KEY": ""}, "ns_demo", r"^mixpeekfs: no API key"),
    ("no-namespace", [], {}, None, r"^mixpeekfs: no namespace"),
    ("key-file-missing", ["api_key_file=/nonexistent/key"], {}, "ns_demo",
     r"^mixpeekfs: cannot read key file '/nonexistent/key': No such file or directory$"),
    ("page_size=0", ["page_size=0"], {}, "ns_demo", r"^mixpeekfs: option page_size=0: .*1 to 1000"),
    ("page_size=1001", ["page_size=1001"], {}, "ns_demo", r"^mixpeekfs: option page_size=1001: .*1 to 1000"),
    ("ttl=-1", ["ttl=-1"], {}, "ns_demo", r"^mixpeekfs: option ttl=-1: "),
    ("ttl=abc", ["ttl=abc"], {}, "ns_demo", r"^mixpeekfs: option ttl=abc: "),
    ("timeout=0", ["timeout=0"], {}, "ns_demo", r"^mixpeekfs: option timeout=0: "),
    ("unknown-option", ["bogus=1"], {}, "ns_demo", r"unknown option.*bogus=1"),
    ("api_url-not-http", ["api_url=ftp://example.com"], {}, "ns_demo", r"^mixpeekfs: option api_url=ftp://"),
    ("retries=21", ["retries=21"], {}, "ns_demo", r"^mixpeekfs: option retries=21: .*0 to 20"),
    ("retries=-1", ["retries=-1"], {}, "ns_demo", r"^mixpeekfs: option retries=-1: "),
    ("max_rps=x", ["max_rps=x"], {}, "ns_demo", r"^mixpeekfs: option max_rps=x: "),
    ("max_response=1", ["max_response=1"], {}, "ns_demo", r"^mixpeekfs: option max_response=1: .*1024 to"),
    ("max_response=2T", ["max_response=2T"], {}, "ns_demo", r"^mixpeekfs: option max_response=2T: "),
    ("max_response=2G", ["max_response=2G"], {}, "ns_demo", r"^mixpeekfs: option max_response=2G: "),
    ("connect_timeout=0", ["connect_timeout=0"], {}, "ns_demo", r"^mixpeekfs: option connect_timeout=0: "),
]


@pytest.mark.parametrize("opts,env,namespace,problem", [c[1:] for c in LOCAL_ERRORS],
                         ids=[c[0] for c in LOCAL_ERRORS])
def test_refused_before_asking_the_api(api, mnt, opts, env, namespace, problem):
    args = ["-o", "api_url=" + api.url]
    for o in opts:
        args += ["-o", o]
    args += ([namespace] if namespace else []) + [mnt]
    refuse(api, mnt, args, env_with(api, **env), problem)
    assert api.log() == []


def test_a_mountpoint_that_is_a_file_is_refused(api, tmp_path):
    path = tmp_path / "file"
    path.write_text("not a directory\n")
    line = refuse(api, str(path), ["-o", "api_url=" + api.url, api.namespace, str(path)], base_env(api),
                  r"^mixpeekfs: mountpoint '.*/file' is not a directory$")
    assert api.key not in line
    assert path.read_text() == "not a directory\n"
    assert api.log() == []  # refused before the probe


def test_empty_key_file_is_refused(api, mnt, tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_text(" \n\t\n")
    keyfile.chmod(0o600)
    refuse(api, mnt, ["-o", "api_url=" + api.url, "-o", f"api_key_file={keyfile}", "ns_demo", mnt],
           env_with(api), rf"^mixpeekfs: key file '{re.escape(str(keyfile))}' holds no key$")
    assert api.log() == []


@pytest.mark.parametrize("key,status", [(WRONG_KEY, 401), (FORBIDDEN_KEY, 403)], ids=["401", "403"])
def test_key_rejected_by_the_api(api, mnt, key, status):
    line = refuse(api, mnt, ["-o", "api_url=" + api.url, "ns_demo", mnt],
                  env_with(api, MIXPEEK_API_KEY=key), rf"rejected the key \(http {status}\)")
    assert api.url in line
    assert [(r["method"], r["path"], r["status"]) for r in api.log()] == [("POST", "/v1/buckets/list", status)]


def test_unknown_namespace(api, mnt):
    refuse(api, mnt, ["-o", "api_url=" + api.url, "ns_nope", mnt], env_with(api),
           r"^mixpeekfs: namespace 'ns_nope' not found")
    assert [(r["namespace"], r["status"]) for r in api.log()] == [("ns_nope", 404)]


def test_unknown_bucket_in_buckets_option(api, mnt):
    refuse(api, mnt, ["-o", "api_url=" + api.url, "-o", "buckets=bkt_marketing:bkt_typo", "ns_demo", mnt],
           env_with(api), r"^mixpeekfs: no bucket 'bkt_typo' in namespace 'ns_demo'")
    assert [(r["method"], r["path"], r["status"]) for r in api.log()] == [
        ("GET", "/v1/buckets/bkt_marketing", 200), ("GET", "/v1/buckets/bkt_typo", 404)]


def test_api_unreachable(api, mnt):
    url = f"http://127.0.0.1:{closed_port()}"
    refuse(api, mnt, ["-o", "api_url=" + url, "ns_demo", mnt], env_with(api),
           rf"^mixpeekfs: cannot reach the API at {re.escape(url)}")


# ---- what must work


@pytest.fixture
def spawn(api, tmp_path):
    """Mounts with exactly the arguments given (no namespace added), checked
    at teardown as the mount fixture does."""
    made = []

    def make(args, env, expect_stderr=()):
        path = str(tmp_path / f"spawned{len(made)}")
        os.mkdir(path)
        m = Mount(api, path, args + [path], env, expect_stderr)
        made.append(m)
        m.mount_requests = api.log()
        api.reset_log()
        return m

    yield make
    for m in made:
        rc = m.umount()
        assert rc == 0, m.stderr()
        assert api.key not in m.stderr()
        assert m.unexpected_lines() == []


def test_key_file_wins_over_the_environment(api, mount, tmp_path):
    keyfile = tmp_path / "key"
    keyfile.write_text(api.key + "\n")
    keyfile.chmod(0o600)
    m = mount(api, f"api_key_file={keyfile}", env=env_with(api, MIXPEEK_API_KEY=WRONG_KEY))
    assert run("ls", m.p()).stdout.split() == ["bkt_empty", "bkt_marketing", "bkt_support", "empty-bucket", "marketing-assets", "support-archive"]  # ids, then names' links
    assert all(r["auth"] == "ok" for r in m.mount_requests + api.log())


@pytest.mark.parametrize("how", ["option", "environment"])
def test_namespace_without_the_argument(api, spawn, how):
    if how == "option":
        m = spawn(["-o", "api_url=" + api.url, "-o", "namespace=demo"], env_with(api))
    else:
        m = spawn(["-o", "api_url=" + api.url], env_with(api, MIXPEEK_NAMESPACE="demo"))
    assert run("ls", m.p()).stdout.split() == ["bkt_empty", "bkt_marketing", "bkt_support", "empty-bucket", "marketing-assets", "support-archive"]  # ids, then names' links
    assert {r["namespace"] for r in m.mount_requests + api.log()} == {"demo"}


def test_the_key_is_not_in_the_daemons_argv_or_environment(api, mount):
    m = mount(api)
    for what in ("cmdline", "environ"):
        with open(f"/proc/{m.proc.pid}/{what}", "rb") as f:
            assert api.key.encode() not in f.read(), what


def test_buckets_option_shows_only_those_buckets(api, mount):
    m = mount(api, "buckets=bkt_marketing",
              expect_stderr=[r"^mixpeekfs: info: stat '/bkt_support': no such bucket$"])
    assert [(r["method"], r["path"]) for r in m.mount_requests] == [("GET", "/v1/buckets/bkt_marketing")]
    assert run("ls", m.p()).stdout.split() == ["bkt_marketing", "marketing-assets"]
    with pytest.raises(OSError) as e:
        os.stat(m.p("bkt_support"))
    assert e.value.errno == errno.ENOENT
    assert len(os.listdir(m.p("bkt_marketing", "all"))) == len(api.store.syncs("bkt_marketing"))
    assert not [r for r in m.mount_requests + api.log() if r["path"] == "/v1/buckets/list"]


def test_version(api):
    r = run(BIN, "-V")
    lines = r.stdout.splitlines()
    assert re.match(r"^mixpeekfs \S+$", lines[0])
    assert any(re.match(r"^libfuse 3\.\d+", x) for x in lines)
    assert any("libcurl/" in x for x in lines)
    assert any(re.match(r"^jansson \d", x) for x in lines)


def test_help_lists_every_option(api):
    r = run(BIN, "-h")
    text = r.stdout + r.stderr
    # the options table of SPEC.md
    for opt in ("-o namespace=", "-o api_url=", "-o api_key_file=", "-o ttl=", "-o page_size=",
                "-o buckets=", "-o timeout=", "-o cacert=", "-o connect_timeout=", "-o retries=",
                "-o max_rps=", "-o max_response=", "-o allow_http", "-f", "-d", "-s", "-h", "-V",
                "--help", "--version", "MIXPEEK_NAMESPACE", "MIXPEEK_API_URL", "MIXPEEK_API_KEY"):
        assert re.search(r"(^|\s)" + re.escape(opt), text), opt
    assert "NAMESPACE MOUNTPOINT" in text
