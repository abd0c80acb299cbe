"""An independent check of the API client: Stoplight Prism, serving the
OpenAPI document of tests/mockapi/openapi-subset.json in dynamic mode
(schema-valid random data), validates every request mixpeekfs makes.

A logging proxy in this process sits between the daemon and Prism: it
records each request's method, path, headers and body, forwards it and
returns Prism's answer. The test drives every view with the tools users use
(ls, cat, jq, getfattr, stat), then checks: Prism's log has no `Violation:
request` line; every request carried `Authorization: Bearer <key>`, and every
bucket or sync request `X-Namespace: <namespace>`; no command saw EIO (Prism's
random data may make a read fail otherwise: ENOENT and the like are allowed);
the daemon is alive at the end and exits 0 on unmount. It prints the requests
by path template (pytest -s shows it).

Prism comes from scripts/install-deps (npm, into .deps/prism/); without it the
test fails, naming that command.
"""
import http.client
import json
import os
import re
import shlex
import socket
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import ROOT, output_file, output_text, run, wait_for

PRISM = os.path.join(ROOT, ".deps", "prism", "node_modules", ".bin", "prism")
SPEC = os.path.join(ROOT, "tests", "mockapi", "openapi-subset.json")
KEY = "sk_test_prism_9f3c2a"
NAMESPACE = "ns_prism"
BUCKET = "bkt_prism"  # -o buckets=: Prism's random bucket lists often lack bucket_id
PRISM_DEADLINE = 60.0  # node's start on a busy 2-core machine
EIO_TEXT = os.strerror(5)  # "Input/output error", as every tool prints it
GONE_TEXTS = (os.strerror(107), os.strerror(103))  # ENOTCONN, ECONNABORTED: the daemon died
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
       "proxy-authorization", "proxy-authenticate", "content-length"}


def templates():
    """(method, template, regex) of each operation of the OpenAPI document."""
    with open(SPEC) as f:
        paths = json.load(f)["paths"]
    out = []
    for tpl, ops in paths.items():
        rx = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(tpl)) + "$")
        for method in ops:
            out.append((method.upper(), tpl, rx))
    # literal segments first: POST /v1/buckets/list is not a bucket's GET
    out.sort(key=lambda t: t[1].count("{"))
    return out


def template_of(method, path, tpls):
    bare = path.split("?", 1)[0]
    for m, tpl, rx in tpls:
        if m == method and rx.match(bare):
            return f"{m} {tpl}"
    return f"{method} {bare} (not in the document)"


class Proxy:
    """A logging HTTP proxy: loopback, one thread per connection, keep-alive
    towards the daemon, a new connection to Prism for each request."""

    def __init__(self, upstream_port):
        self.records = []
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def handle_any(self):
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0], 16)
                        chunk = self.rfile.read(size + 2)[:size]
                        if size == 0:
                            break
                        body += chunk
                else:
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with proxy.lock:
                    proxy.records.append({"method": self.command, "path": self.path,
                                          "headers": list(self.headers.items()), "body": body})
                up = http.client.HTTPConnection("127.0.0.1", upstream_port, timeout=30)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                    up.request(self.command, self.path, body=body if body else None, headers=headers)
                    resp = up.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP:
                            self.send_header(k, v)
                except OSError as e:  # Prism gone: the daemon sees a 502, the test a record
                    data = f"proxy: {e}".encode()
                    with proxy.lock:
                        proxy.records[-1]["proxy_error"] = str(e)
                    self.send_response(502)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                up.close()

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = handle_any

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="prism-proxy", daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class PrismAPI:
    """What the mount fixture wants of an API: url, key, namespace, log().
    Every request is kept (reset_log does nothing): the test checks them all."""

    def __init__(self, proxy, prism_log, prism_port):
        self.url, self.key, self.namespace = proxy.url, KEY, NAMESPACE
        self.proxy, self.prism_log, self.prism_port = proxy, prism_log, prism_port

    def log(self):
        with self.proxy.lock:
            return list(self.proxy.records)

    def reset_log(self):
        pass

    def prism_lines(self):
        """Prism's log, once it has logged a request sent after all others
        (straight to Prism, not through the proxy): it logs in order."""
        mark = f"/_flush_{time.monotonic_ns()}"
        answers(self.prism_port, mark)
        lines = []

        def logged():
            lines[:] = output_text(self.prism_log).splitlines()
            return any(mark in line for line in lines)
        wait_for(logged, "Prism to log a request")
        return lines


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def answers(port, path="/"):
    """Whether anything answers HTTP on the port (Prism's 404 for / will do)."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        c.getresponse().read()
        c.close()
        return True
    except OSError:
        return False


@pytest.fixture
def prism():
    """prism() -> PrismAPI: starts Prism and the proxy (stopped at teardown).
    Called in the test, so that a missing Prism fails the test itself."""
    started = []

    def start():
        if not os.access(PRISM, os.X_OK):
            pytest.fail(f"Stoplight Prism is not installed ({os.path.relpath(PRISM, ROOT)} is missing): "
                        "run scripts/install-deps", pytrace=False)
        log = output_file()
        port = free_port()
        # dynamic mode (-d): schema-valid random answers; no --errors
        proc = subprocess.Popen([PRISM, "mock", "-d", "-h", "127.0.0.1", "-p", str(port), SPEC],
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log, None))
        end = time.monotonic() + PRISM_DEADLINE
        while not answers(port):
            if proc.poll() is not None or time.monotonic() > end:
                tail = output_text(log)[-3000:]
                what = (f"exited with {proc.returncode}" if proc.poll() is not None
                        else f"did not answer within {PRISM_DEADLINE:g} s")
                pytest.fail(f"prism mock {what}; its output:\n{tail}", pytrace=False)
            time.sleep(0.05)
        proxy = Proxy(port)
        started[-1] = (proc, log, proxy)
        return PrismAPI(proxy, log, port)

    yield start
    for proc, log, proxy in started:
        if proxy is not None:
            proxy.stop()
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Session:
    """Runs user tools on the mount, keeping what each did."""

    def __init__(self, m):
        self.m = m
        self.done = []  # (command line, returncode, stderr)

    def __call__(self, *cmd):
        r = run(*cmd, check=False)
        line = " ".join(shlex.quote(os.path.relpath(c, self.m.path) if c.startswith(self.m.path) else c)
                        for c in cmd)
        self.done.append((line, r.returncode, r.stderr.strip()))
        gone = [t for t in GONE_TEXTS if t in r.stderr]
        assert not gone, (f"{line}: {r.stderr.strip()} (the daemon is gone: exit "
                          f"{self.m.proc.poll()})\ndaemon stderr:\n{self.m.stderr()}")
        return r

    def names(self, *parts):
        """ls of a directory: its names, [] if ls failed."""
        r = self("ls", "-a", self.m.p(*parts))
        return [n for n in r.stdout.splitlines() if n not in (".", "..")] if r.returncode == 0 else []

    def eio(self):
        return [(c, rc, err) for c, rc, err in self.done if EIO_TEXT in err]

    def failures(self):
        return [(c, rc, err) for c, rc, err in self.done if rc != 0]


# A daemon fed random data says so: lines it may write about what the API
# sent (info and warnings: items without id, odd paging, odd fields). An
# error line, or anything else, fails the test.
PRISM_STDERR = [r"^mixpeekfs: (info|warn): "]


def test_prism_validates_every_request(prism, mount):
    api = prism()
    m = mount(api, f"buckets={BUCKET}", expect_stderr=PRISM_STDERR)
    s = Session(m)
    b = BUCKET

    # first, a direct read by id: a name no listing has brought, so a GET
    # of that one sync (after all/ is listed, its absence there would answer)
    direct = s("cat", m.p(b, "all", "sync_prism_direct.json"))
    s("ls", "-l", m.p())
    s("ls", "-a", m.p())
    top = s.names(b)
    sizes = {}
    for view in ("all", "active", "inactive"):
        s("ls", "-l", m.p(b, view))
        sizes[view] = len(s.names(b, view))
    statuses = s.names(b, "by-status")
    for st in statuses:
        s("ls", "-l", m.p(b, "by-status", st))
        sizes["by-status/" + st] = len(s.names(b, "by-status", st))
    conns = s.names(b, "by-connection")
    for c in (conns[:3] or ["conn_x"]):
        s("ls", "-l", m.p(b, "by-connection", c))
        sizes["by-connection/" + c] = len(s.names(b, "by-connection", c))
    s.names(b, "where")
    for f in ("connection_id=conn_x,is_active=true,status=failed",
              "status=completed", "is_active=false", "connection_id=conn_x"):
        s("ls", "-l", m.p(b, "where", f))
    s("cat", m.p(b, "bucket.json"))
    s("jq", ".", m.p(b, "bucket.json"))
    # counts.json: a file of the bucket (new; a build without it has no such
    # name, which is all that is tolerated of it beyond the rule for reads)
    counts_kind = s("stat", "-c", "%F", m.p(b, "counts.json")).stdout.strip()
    counts = s("cat", m.p(b, "counts.json"))
    counts_jq = s("jq", ".", m.p(b, "counts.json"))

    # files: some of each listed view, read, stat'ed, their attributes
    files = [m.p(b, "all", n) for n in s.names(b, "all")[:4]]
    for st in statuses:
        files += [m.p(b, "by-status", st, n) for n in s.names(b, "by-status", st)[:1]]
    if direct.returncode == 0:
        files.append(m.p(b, "all", "sync_prism_direct.json"))
    for f in files:
        s("cat", f)
        s("jq", "-r", ".sync_config_id", f)
        s("stat", "-c", "%n %s %Y %h %i", f)
        s("getfattr", "-d", f)
    s("stat", m.p(b))
    s("jq", "-c", ".requests", m.p(".mixpeekfs", "stats.json"))
    stats = s("cat", m.p(".mixpeekfs", "stats.json"))

    alive = m.proc.poll() is None
    records = api.log()
    tpls = templates()
    by_tpl = Counter(template_of(r["method"], r["path"], tpls) for r in records)
    violations = [line for line in api.prism_lines() if "Violation: request" in line]

    def header(r, name):
        return [v for k, v in r["headers"] if k.lower() == name.lower()]

    no_auth = [(r["method"], r["path"], header(r, "Authorization")) for r in records
               if header(r, "Authorization") != [f"Bearer {KEY}"]]
    no_ns = [(r["method"], r["path"], header(r, "X-Namespace")) for r in records
             if r["path"].startswith("/v1/buckets") and header(r, "X-Namespace") != [NAMESPACE]]
    proxy_errors = [(r["method"], r["path"], r["proxy_error"]) for r in records if "proxy_error" in r]
    eio = s.eio()

    print(f"\nprism: {len(records)} requests through the proxy, by path template:")
    for tpl, n in sorted(by_tpl.items()):
        print(f"  {n:4d}  {tpl}")
    print(f"prism: violations: {len(violations)}")
    print("prism: entries per view: " + ", ".join(f"{v} {n}" for v, n in sizes.items()))
    print(f"prism: {len(files)} files read (cat, jq, stat, getfattr -d)")
    failed = s.failures()
    print(f"prism: {len(s.done)} commands, {len(failed)} failed (allowed unless EIO):")
    for c, rc, err in failed:
        print(f"  {c}: exit {rc}: {err.splitlines()[-1] if err else ''}")
    if direct.returncode == 0:
        try:
            served = json.loads(direct.stdout).get("sync_config_id")
        except ValueError:
            served = "(not JSON)"
        print(f"prism: direct read of {b}/all/sync_prism_direct.json: served sync_config_id {served!r}")
    if "counts.json" not in top:
        print(f"prism: {b}/counts.json is not in the tree of this build (cat: {counts.stderr.strip()})")
    elif counts.returncode == 0:
        print(f"prism: {b}/counts.json: " + " ".join(counts.stdout.split()))
    lines = m.stderr().splitlines()
    print(f"prism: daemon stderr, {len(lines)} lines" + (":" if lines else ""))
    for line in lines[:40]:
        print("  " + line)
    if stats.returncode == 0:
        print("prism: stats.json .requests: " + json.dumps(json.loads(stats.stdout)["requests"]))

    assert not violations, "Prism found requests against the document:\n" + "\n".join(violations)
    assert records, "no request reached the proxy"
    assert not no_auth, f"requests without 'Authorization: Bearer <key>': {no_auth}"
    assert not no_ns, f"bucket/sync requests without 'X-Namespace: {NAMESPACE}': {no_ns}"
    assert not proxy_errors, f"the proxy could not reach Prism: {proxy_errors}"
    if "counts.json" in top:
        assert counts_kind == "regular file", f"{b}/counts.json is a {counts_kind!r}: {counts.stderr.strip()}"
        assert counts.returncode != 0 or counts_jq.returncode == 0, \
            f"{b}/counts.json is not JSON: {counts_jq.stderr.strip()}\n{counts.stdout}"
    else:
        assert os.strerror(2) in counts.stderr, f"{b}/counts.json, not listed: {counts.stderr.strip()}"
    # where/ with three keys is one list call with all three in its body
    def body(r):
        try:
            return json.loads(r["body"] or b"{}")
        except ValueError:
            return None
    where3 = [r for r in records if r["method"] == "POST" and r["path"].startswith(f"/v1/buckets/{b}/syncs/list")
              and body(r) == {"status": "FAILED", "connection_id": "conn_x", "is_active": True}]
    assert where3, "no list request with the body of where/connection_id=conn_x,is_active=true,status=failed"
    assert not eio, "EIO seen:\n" + "\n".join(f"{c}: {err}" for c, _, err in eio) + \
        "\ndaemon stderr:\n" + m.stderr()
    assert alive, f"the daemon exited ({m.proc.returncode}); stderr:\n{m.stderr()}"
    rc = m.umount()
    assert rc == 0, f"mixpeekfs exited {rc} on unmount; stderr:\n{m.stderr()}"
