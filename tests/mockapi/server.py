"""Local Mixpeek API server for mixpeekfs tests, demos and benchmarks.

This module owns the HTTP side: the six endpoints of openapi-subset.json
(bucket list/get, sync list/get, connection list/get) with their auth,
X-Namespace, parameter bounds, status codes and error bodies; cursor and offset
paging; the request log; fault injection; and the /_mock/* control endpoints.
The data itself lives in datasets.py.

Run:     /usr/bin/python3 tests/mockapi/server.py --dataset small|large|weird|many|heavy|long
             [--host 127.0.0.1] [--port 0] [--latency SECONDS]
             [--tls-cert CERT.pem --tls-key KEY.pem] [--churn BUCKET[:SEED]]
         prints "listening on http(s)://HOST:PORT", serves until SIGTERM/SIGINT.
Import:  from mockapi.server import MockAPI   (with tests/ on sys.path)
         api = MockAPI("small").start(); ...; api.stop()
"""

import argparse
import base64
import copy
import hmac
import json
import random
import re
import signal
import socket
import ssl
import socketserver
import struct
import sys
import threading
import time
import traceback
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

try:
    from . import datasets
except ImportError:  # run as a script: tests/mockapi is sys.path[0]
    import datasets

API_KEY = "sk_test_mixpeekfs"
FORBIDDEN_KEY = "sk_test_forbidden"
KEY_ENV = "MIXPEEK_API_KEY"
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000
MAX_OFFSET = 10000
FAULT_KINDS = ("latency", "status", "reset", "truncate", "hang", "garbage", "wrong_type", "huge",
               "repeat_cursor", "ignore_paging")

_ERROR_TYPES = {400: "BadRequestError", 401: "AuthenticationError", 403: "AuthorizationError",
                404: "NotFoundError", 405: "MethodNotAllowedError", 409: "ConflictError",
                429: "RateLimitError", 500: "InternalServerError", 502: "BadGatewayError",
                503: "ServiceUnavailableError", 504: "GatewayTimeoutError"}
_TRUE = {"1", "on", "t", "true", "y", "yes"}
_FALSE = {"0", "off", "f", "false", "n", "no"}

# method, path pattern (None = a path parameter), handler, needs X-Namespace
_ROUTES = (
    ("POST", ("v1", "buckets", "list"), "_list_buckets", True),
    ("GET", ("v1", "buckets", None), "_get_bucket", True),
    ("POST", ("v1", "buckets", None, "syncs", "list"), "_list_syncs", True),
    ("GET", ("v1", "buckets", None, "syncs", None), "_get_sync", True),
    ("POST", ("v1", "organizations", "connections", "list"), "_list_connections", False),
    ("GET", ("v1", "organizations", "connections", None), "_get_connection", False),
)


class ApiError(Exception):
    """An ErrorResponse answer (400/401/403/404/405/500...)."""

    def __init__(self, status, message, type_=None, details=None, headers=None):
        super().__init__(message)
        self.status, self.message, self.details = status, message, details
        self.type = type_ or _ERROR_TYPES.get(status, "HTTPError")
        self.headers = headers or {}

    def body(self):
        return error_body(self.status, self.message, self.type, self.details)


class Invalid(Exception):
    """A 422 HTTPValidationError answer; errors is the `detail` list."""

    def __init__(self, errors):
        super().__init__("validation failed")
        self.errors = errors


def error_body(status, message, type_, details=None):
    return {"success": False, "status": status,
            "error": {"message": message, "type": type_, "details": details}}


def _verr(loc, type_, msg, value=None, ctx=None):
    err = {"type": type_, "loc": list(loc), "msg": msg, "input": value}
    if ctx:
        err["ctx"] = ctx
    return err


# ---------------------------------------------------------------- cursors

def encode_cursor(key):
    """Opaque cursor for a sort position (see datasets.sort_key)."""
    raw = json.dumps(["c1"] + list(key), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(text):
    """The sort position a cursor encodes, or None if it is not ours."""
    if not re.fullmatch(r"[A-Za-z0-9_-]+", text or ""):
        return None
    try:
        v = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except ValueError:
        return None
    if (isinstance(v, list) and len(v) == 5 and v[0] == "c1" and v[1] in (0, 1)
            and type(v[1]) is int and type(v[2]) is int and isinstance(v[3], str) and type(v[4]) is int):
        return tuple(v[1:])
    return None


def _fake_cursor(results, id_field, n):
    """A cursor just after the last of results (or after everything), unlike
    every other: its tie-breaker is -n, below any real one, so it still
    decodes to the right position if it is sent back."""
    last = results[-1] if results and isinstance(results[-1], dict) else None
    key = datasets.sort_key(last, id_field, -n) if last is not None else (0, 0, "", -n)
    return encode_cursor(key)


def _after(entries, key):
    """Index of the first entry strictly after `key` in a newest-first list."""
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if entries[mid][0] < key:
            hi = mid
        else:
            lo = mid + 1
    return lo


# ---------------------------------------------------------------- validation

def _query_int(query, name, lo, hi, default, errors):
    if name not in query:
        return default
    raw = query[name]
    if not re.fullmatch(r"\s*[+-]?\d+\s*", raw):
        errors.append(_verr(("query", name), "int_parsing",
                            "Input should be a valid integer, unable to parse string as an integer", raw))
        return default
    return _bounded(int(raw), lo, hi, ("query", name), raw, errors, default)


def _body_int(body, name, lo, hi, default, errors):
    value = body.get(name, default)
    if type(value) is not int:
        errors.append(_verr(("body", name), "int_type", "Input should be a valid integer", value))
        return default
    return _bounded(value, lo, hi, ("body", name), value, errors, default)


def _bounded(value, lo, hi, loc, raw, errors, default):
    if value < lo:
        errors.append(_verr(loc, "greater_than_equal", "Input should be greater than or equal to %d" % lo,
                            raw, {"ge": lo}))
        return default
    if hi is not None and value > hi:
        errors.append(_verr(loc, "less_than_equal", "Input should be less than or equal to %d" % hi,
                            raw, {"le": hi}))
        return default
    return value


def _query_bool(query, name, errors):
    raw = query.get(name)
    if raw is None or raw.strip().lower() in _FALSE:
        return False
    if raw.strip().lower() in _TRUE:
        return True
    errors.append(_verr(("query", name), "bool_parsing",
                        "Input should be a valid boolean, unable to interpret input", raw))
    return False


def _body_object(body, errors):
    if body is None:
        return {}
    if not isinstance(body, dict):
        errors.append(_verr(("body",), "model_attributes_type",
                            "Input should be a valid dictionary or object to extract fields from", body))
        return {}
    return body


def _filter(body, name, kind, errors, choices=None):
    """An optional filter: None, or a value of `kind` ('str', 'bool', 'enum')."""
    value = body.get(name)
    if value is None:
        return None
    loc = ("body", name)
    if kind == "bool":
        if isinstance(value, bool):
            return value
        errors.append(_verr(loc, "bool_type", "Input should be a valid boolean", value))
    elif kind == "str":
        if isinstance(value, str):
            return value
        errors.append(_verr(loc, "string_type", "Input should be a valid string", value))
    else:
        folded = {c.upper(): c for c in choices}
        if isinstance(value, str) and value.upper() in folded:
            return folded[value.upper()]
        expected = ", ".join("'%s'" % c for c in choices[:-1]) + " or '%s'" % choices[-1]
        errors.append(_verr(loc, "enum", "Input should be " + expected, value, {"expected": expected}))
    return None


def _paging(query, errors):
    limit = _query_int(query, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, errors)
    offset = _query_int(query, "offset", 0, MAX_OFFSET, 0, errors)
    include_total = _query_bool(query, "include_total", errors)
    cursor = None
    if "cursor" in query:
        cursor = decode_cursor(query["cursor"])
        if cursor is None:
            errors.append(_verr(("query", "cursor"), "value_error", "Value error, invalid cursor",
                                query["cursor"]))
    return limit, offset, cursor, include_total


def _page(entries, limit, offset, cursor, include_total):
    """A SyncListResponse/StorageConnectionListResponse over newest-first entries."""
    total = len(entries)
    start = offset if cursor is None else _after(entries, cursor)
    page = entries[start:start + limit]
    more = start + len(page) < total
    pagination = {"limit": limit, "offset": start,
                  "next_cursor": encode_cursor(page[-1][0]) if page and more else None}
    if include_total:
        pagination.update(total=total, page=start // limit + 1, page_size=limit,
                          total_pages=-(-total // limit))
    return {"results": [obj for _, obj in page], "pagination": pagination, "total": total}


def auth_state(header):
    """'ok', 'missing', 'bad' or 'forbidden' for an Authorization header value."""
    if not header:
        return "missing"
    parts = header.split()
    if len(parts) != 2 or parts[0].lower() != "bearer":
        return "bad"
    token = parts[1].encode()
    if hmac.compare_digest(token, API_KEY.encode()):
        return "ok"
    if hmac.compare_digest(token, FORBIDDEN_KEY.encode()):
        return "forbidden"
    return "bad"


def _decode(text):
    """Percent-decode one path segment (raw bytes arrive as latin-1 characters)."""
    return urllib.parse.unquote_to_bytes(text.encode("latin-1", "replace")).decode("utf-8", "replace")


def _dumps_plain(payload):
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "replace")


# Stored objects are immutable snapshots (an update replaces the dict), so
# each is encoded once and list pages are joined from the encodings: a page
# of 1,000 syncs then costs the server about a millisecond, not twenty, and
# concurrent clients are not serialised behind its encoder. The cache keeps
# the objects it encoded alive (so an id is not reused), including versions
# the store replaced since; churn makes many, so it is emptied when it holds
# more than _ENCODED_MAX_BYTES of encodings or _ENCODED_MAX_ITEMS objects.
_encoded = {}
_encoded_lock = threading.Lock()
_encoded_bytes = 0
_ENCODED_MAX_BYTES = 256 << 20
_ENCODED_MAX_ITEMS = 250000


def _encode_obj(obj):
    global _encoded_bytes
    hit = _encoded.get(id(obj))
    if hit is None or hit[0] is not obj:
        hit = (obj, _dumps_plain(obj))
        with _encoded_lock:
            if _encoded_bytes > _ENCODED_MAX_BYTES or len(_encoded) >= _ENCODED_MAX_ITEMS:
                _encoded.clear()
                _encoded_bytes = 0
            _encoded[id(obj)] = hit
            _encoded_bytes += len(hit[1])
    return hit[1]


def _dumps(payload):
    results = payload.get("results") if isinstance(payload, dict) else None
    if not isinstance(results, list) or next(iter(payload)) != "results":
        return _dumps_plain(payload)
    rest = _dumps_plain({k: v for k, v in payload.items() if k != "results"})
    return (b'{"results":[' + b",".join(_encode_obj(o) for o in results) + b"]"
            + (b"," + rest[1:] if len(rest) > 2 else b"}"))


# ---------------------------------------------------------------- the API

class MockAPI:
    """The mock Mixpeek API, served from daemon threads.

    api = MockAPI("small").start(); api.url, api.key, api.namespace, api.store;
    api.log(), api.reset_log(), api.count(...), api.add_fault(...), api.clear_faults();
    api.start_churn(bucket, seed), api.stop_churn(); api.served_versions(bucket, id),
    api.served_ids(bucket), api.truth(bucket, **filters);
    api.stop().  Also a context manager (start on enter, stop on exit)."""

    def __init__(self, dataset="small", host="127.0.0.1", port=0, latency=0.0, tls=None, keep_alive=True,
                 record_versions=False):
        """tls: (certfile, keyfile) to serve HTTPS instead of HTTP;
        keep_alive=False: close every connection after its answer;
        record_versions=True: record every sync object served (see
        served_versions; start_churn switches it on too)."""
        self.keep_alive = keep_alive
        self.record_versions = bool(record_versions)
        self.store = dataset if isinstance(dataset, datasets.Store) else datasets.load(dataset)
        self.dataset = self.store.name
        self.latency = float(latency)
        self._addr = (host, int(port))
        self._tls = None
        if tls:
            self._tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._tls.load_cert_chain(*tls)
        self._lock = threading.Lock()
        self._log, self._seq = [], 0
        self._faults, self._fault_seq = [], 0
        self._stopping = threading.Event()
        self._conns = set()
        self._httpd = self._thread = None
        self._fake_cursors = 0  # ignore_paging cursors handed out
        self._churn = None  # (datasets.Churn, stop Event, thread) while churning
        self._churn_counts = dict.fromkeys(datasets.CHURN_COUNTS, 0)  # of the last churn stopped
        self._vlock = threading.Lock()
        self._versions = {}  # (bucket_id, sync id) -> [deep copies], in the order first served
        self._version_keys = set()  # ((bucket_id, sync id), canonical JSON) recorded
        self._version_seen = {}  # id(obj) -> obj: store objects recorded already

    # -- life cycle
    def start(self):
        self._stopping.clear()
        cls = _Server6 if ":" in self._addr[0] else _Server
        self._httpd = cls(self._addr, _Handler)
        self._httpd.api = self
        self._httpd.tls = self._tls
        # a restart (stop, then start) serves on the same port
        self._addr = self._httpd.server_address[:2]
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1},
                                        name="mockapi", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        """Stop serving (and churning): unblocks hanging/delayed requests,
        closes open connections."""
        self.stop_churn()
        self._stopping.set()
        if self._httpd is None:
            return
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(5)
        self._httpd = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        if self._httpd is None:
            raise RuntimeError("MockAPI is not running: call start() first")
        host, port = self._httpd.server_address[:2]
        return "%s://%s:%d" % ("https" if self._tls else "http", "[%s]" % host if ":" in host else host, port)

    @property
    def key(self):
        return API_KEY

    @property
    def namespace(self):
        return self.store.namespace_id

    def info(self):
        return {"key_env": KEY_ENV, "namespace": self.store.namespace_id,
                "namespace_name": self.store.namespace_name, "dataset": self.dataset,
                "buckets": [b["bucket_id"] for b in self.store.buckets()]}

    # -- churn, served versions, ground truth
    def start_churn(self, bucket, seed=0, min_period=0.05, max_period=0.10):
        """Change a bucket of self.store continuously from a daemon thread:
        every min_period..max_period seconds (drawn from an rng seeded from
        seed) one datasets.Churn(self.store, bucket, seed) step. Its changes
        are the same as those of that Churn stepped by hand, whatever the
        timing. Switches record_versions on. A churn already running is
        stopped first. KeyError for an unknown bucket. Returns the Churn."""
        if not 0 <= float(min_period) <= float(max_period):
            raise ValueError("need 0 <= min_period <= max_period")
        self.stop_churn()
        churn = datasets.Churn(self.store, bucket, seed)
        timing = random.Random("churn-period:%r" % (seed,))
        stop = threading.Event()

        def loop():
            while not stop.wait(timing.uniform(min_period, max_period)):
                try:
                    churn.step()
                except Exception:
                    traceback.print_exc()

        self.record_versions = True
        thread = threading.Thread(target=loop, name="mockapi-churn", daemon=True)
        with self._lock:
            self._churn = (churn, stop, thread)
        thread.start()
        return churn

    def stop_churn(self):
        """Stop the churn thread (waits for it) and return the counts of what
        it changed: {"steps", "status_flips", "resizes", "deletes", "creates",
        "moves"}. Without a churn running: the counts of the last one (zeros
        if none ran). record_versions stays as it is."""
        with self._lock:
            running, self._churn = self._churn, None
        if running is not None:
            churn, stop, thread = running
            stop.set()
            thread.join()
            counts = churn.snapshot()
            with self._lock:
                self._churn_counts = counts
        with self._lock:
            return dict(self._churn_counts)

    def churn_counts(self):
        """The counts of the running churn so far (else as stop_churn)."""
        with self._lock:
            running = self._churn
            if running is None:
                return dict(self._churn_counts)
        return running[0].snapshot()

    def served_versions(self, bucket_id, sync_id):
        """The distinct versions of a sync the API served (in a syncs list
        answer or a GET of it) while record_versions was on, in the order
        first served: a list of deep copies."""
        with self._vlock:
            return copy.deepcopy(self._versions.get((bucket_id, sync_id), []))

    def served_ids(self, bucket_id):
        """The sync ids of a bucket with at least one served version, in the
        order first served."""
        with self._vlock:
            return [sid for (bid, sid) in self._versions if bid == bucket_id]

    def clear_versions(self):
        """Forget the recorded versions."""
        with self._vlock:
            self._versions.clear()
            self._version_keys.clear()
            self._version_seen.clear()

    def truth(self, bucket_id, status=None, connection_id=None, is_active=None):
        """The syncs the list endpoint would answer now with these filters,
        all of them, in its order (taken under the store's lock). KeyError
        for an unknown bucket."""
        with self.store._lock:
            return self.store.syncs(bucket_id, status=status, connection_id=connection_id,
                                    is_active=is_active)

    def _record_served(self, method, segments, payload):
        """Record the sync objects of a 200 answer (record_versions is on)."""
        if len(segments) != 5 or segments[:2] != ["v1", "buckets"] or segments[3] != "syncs":
            return
        if method == "POST" and segments[4] == "list":
            objs = payload.get("results") if isinstance(payload, dict) else None
            if not isinstance(objs, list):
                return
        elif method == "GET" and isinstance(payload, dict):
            objs = [payload]
        else:
            return
        seen = self._version_seen
        fresh = [o for o in objs if isinstance(o, dict) and seen.get(id(o)) is not o]
        if not fresh:
            return
        bucket_id = segments[2]
        canon = [(o, json.dumps(o, sort_keys=True, ensure_ascii=False, separators=(",", ":"))) for o in fresh]
        with self._vlock:
            for obj, text in canon:
                seen[id(obj)] = obj
                key = (bucket_id, obj.get("sync_config_id"))
                if (key, text) in self._version_keys:
                    continue
                self._version_keys.add((key, text))
                self._versions.setdefault(key, []).append(json.loads(_encode_obj(obj)))  # a deep copy

    # -- request log
    def log(self):
        """A copy of the request records, oldest first."""
        with self._lock:
            return copy.deepcopy(self._log)

    def reset_log(self):
        with self._lock:
            self._log.clear()

    def count(self, method=None, path_re=None):
        """How many logged requests match the method and the path regex (re.search)."""
        with self._lock:
            return sum(1 for r in self._log
                       if (method is None or r["method"] == method.upper())
                       and (path_re is None or re.search(path_re, r["path"])))

    def _record(self, **fields):
        with self._lock:
            self._seq += 1
            rec = dict(seq=self._seq, **fields, status=None, fault=None, time=time.monotonic())
            self._log.append(rec)
            return rec

    def _set(self, rec, **fields):
        with self._lock:
            rec.update(fields)

    # -- faults
    def add_fault(self, kind, path_re=".*", method=None, count=None, **params):
        """Inject a fault into matching /v1 requests (path_re searched in the
        decoded or raw path); count = times to apply (None = forever).
        kinds: latency(seconds), status(status=503, retry_after=None), reset,
        truncate, hang(seconds=120), garbage, wrong_type, huge(size=100 MiB,
        declare=True: a 200 of `size` bytes, with or without Content-Length),
        repeat_cursor (a list answer whose next_cursor is the cursor asked
        with), ignore_paging(total=True: a list answer that is always the
        first `limit` items, whatever the offset or cursor, with a new
        next_cursor each time; total=False leaves out every total field).
        Returns its description."""
        if kind not in FAULT_KINDS:
            raise ValueError("unknown fault kind %r (choose from %s)" % (kind, ", ".join(FAULT_KINDS)))
        if method is not None and not isinstance(method, str):
            raise ValueError("method must be a string or None")
        if count is not None and (type(count) is not int or count < 0):
            raise ValueError("count must be a non-negative integer or None")
        if kind == "status":
            params.setdefault("status", 503)
            if type(params["status"]) is not int or not 100 <= params["status"] <= 599:
                raise ValueError("status must be an HTTP status code")
        if kind in ("latency", "hang"):
            params.setdefault("seconds", 1.0 if kind == "latency" else 120.0)
            float(params["seconds"])
        if kind == "ignore_paging":
            params.setdefault("total", True)
            if not isinstance(params["total"], bool):
                raise ValueError("total must be true or false")
        fault = {"id": 0, "kind": kind, "path_re": path_re, "method": method.upper() if method else None,
                 "count": count, "params": params, "re": re.compile(path_re)}
        with self._lock:
            self._fault_seq += 1
            fault["id"] = self._fault_seq
            if count != 0:
                self._faults.append(fault)
        return _describe(fault)

    def faults(self):
        """The active faults (with remaining counts)."""
        with self._lock:
            return [_describe(f) for f in self._faults]

    def clear_faults(self):
        with self._lock:
            self._faults.clear()

    def _take_faults(self, method, path, raw_path):
        """Total latency and the first terminal fault for a request; uses them up."""
        with self._lock:
            latency, chosen = self.latency, None
            for f in list(self._faults):
                if f["method"] not in (None, method):
                    continue
                if not (f["re"].search(path) or f["re"].search(raw_path)):
                    continue
                if f["kind"] == "latency":
                    latency += float(f["params"]["seconds"])
                elif chosen is None:
                    chosen = _describe(f)
                else:
                    continue
                if f["count"] is not None:
                    f["count"] -= 1
                    if f["count"] <= 0:
                        self._faults.remove(f)
            return latency, chosen

    # -- endpoints
    def respond(self, method, segments, query, body, body_error, headers):
        """(status, payload, extra headers) for a /v1 request, faults aside."""
        try:
            handler, args, needs_ns = _route(method, segments)
            state = auth_state(headers.get("Authorization"))
            if state == "missing":
                raise ApiError(401, "Missing Authorization header: expected 'Bearer <api key>'",
                               "AuthenticationError", {"header": "Authorization"}, {"WWW-Authenticate": "Bearer"})
            if state == "bad":
                raise ApiError(401, "Invalid API key", "AuthenticationError", {"header": "Authorization"},
                               {"WWW-Authenticate": "Bearer"})
            if state == "forbidden":
                raise ApiError(403, "This API key is not allowed to access this resource", "AuthorizationError")
            if needs_ns:
                ns = headers.get("X-Namespace")
                if not ns:
                    raise ApiError(400, "Missing X-Namespace header", "ValidationError", {"header": "X-Namespace"})
                if not self.store.has_namespace(ns):
                    raise ApiError(404, "Namespace not found", "NotFoundError", {"resource": "namespace", "id": ns})
            errors = [body_error] if body_error else []
            result = getattr(self, handler)(*args, query=query, body=body, errors=errors)
            return 200, result, {}
        except ApiError as e:
            return e.status, e.body(), e.headers
        except Invalid as e:
            return 422, {"detail": e.errors}, {}
        except Exception:
            traceback.print_exc()
            return 500, error_body(500, "Internal server error", "InternalServerError"), {}

    def _ignore_paging(self, method, segments, query, body, body_error, headers, params):
        """The answer of the ignore_paging fault: a list answer's pagination
        as asked, but the results and totals of the first page (offset and
        cursor removed), and a next_cursor unlike any other."""
        honest = self.respond(method, segments, query, body, body_error, headers)
        if segments[-1:] != ["list"] or honest[0] != 200 or not isinstance(honest[1], dict) \
                or not isinstance(honest[1].get("pagination"), dict):
            return honest
        query = {k: v for k, v in query.items() if k not in ("offset", "cursor")}
        if isinstance(body, dict):
            body = {k: v for k, v in body.items() if k not in ("offset", "cursor")}
        status, first, hdrs = self.respond(method, segments, query, body, body_error, headers)
        if status != 200:
            return honest
        pagination = dict(honest[1]["pagination"])
        for name in ("total", "total_pages"):
            if name in first["pagination"]:
                pagination[name] = first["pagination"][name]
        with self._lock:
            self._fake_cursors += 1
            n = self._fake_cursors
        id_field = {"buckets": "bucket_id", "connections": "connection_id"}.get(segments[-2], "sync_config_id")
        pagination["next_cursor"] = _fake_cursor(first["results"], id_field, n)
        payload = dict(first, pagination=pagination)
        if not params.get("total", True):
            for name in ("total", "total_count"):
                payload.pop(name, None)
            for name in ("total", "total_pages"):
                pagination.pop(name, None)
        return status, payload, hdrs

    def _list_buckets(self, query, body, errors):
        body = _body_object(body, errors)
        limit = _body_int(body, "limit", 1, MAX_LIMIT, DEFAULT_LIMIT, errors)
        offset = _body_int(body, "offset", 0, None, 0, errors)
        for name, kind, err, what in (("search", str, "string_type", "string"),
                                      ("filters", dict, "dict_type", "dictionary"),
                                      ("sort", dict, "dict_type", "dictionary"),
                                      ("case_sensitive", bool, "bool_type", "boolean")):
            value = body.get(name)
            if value is not None and not isinstance(value, kind):  # accepted, not applied
                errors.append(_verr(("body", name), err, "Input should be a valid " + what, value))
        if errors:
            raise Invalid(errors)
        buckets = self.store.buckets()
        return {"results": buckets[offset:offset + limit], "total_count": len(buckets),
                "pagination": {"limit": limit, "offset": offset, "total": len(buckets), "next_cursor": None}}

    def _get_bucket(self, ident, query, body, errors):
        bucket = self.store.bucket(ident)
        if bucket is None:
            raise ApiError(404, "Bucket not found", "NotFoundError", {"resource": "bucket", "id": ident})
        return bucket

    def _list_syncs(self, bucket_id, query, body, errors):
        paging = _paging(query, errors)
        body = _body_object(body, errors)
        filters = {"status": _filter(body, "status", "enum", errors, datasets.STATUSES),
                   "connection_id": _filter(body, "connection_id", "str", errors),
                   "is_active": _filter(body, "is_active", "bool", errors)}
        if errors:
            raise Invalid(errors)
        try:
            entries = self.store.sync_entries(bucket_id, **filters)
        except KeyError:
            raise ApiError(404, "Bucket not found", "NotFoundError", {"resource": "bucket", "id": bucket_id})
        return _page(entries, *paging)

    def _get_sync(self, bucket_id, sync_id, query, body, errors):
        try:
            obj = self.store.sync(bucket_id, sync_id)
        except KeyError:
            raise ApiError(404, "Bucket not found", "NotFoundError", {"resource": "bucket", "id": bucket_id})
        if obj is None:
            raise ApiError(404, "Sync configuration not found", "NotFoundError",
                           {"resource": "sync_configuration", "id": sync_id})
        return obj

    def _list_connections(self, query, body, errors):
        paging = _paging(query, errors)
        body = _body_object(body, errors)
        filters = {"provider_type": _filter(body, "provider_type", "enum", errors, datasets.PROVIDERS),
                   "status": _filter(body, "status", "enum", errors, datasets.STATUSES),
                   "is_active": _filter(body, "is_active", "bool", errors)}
        if errors:
            raise Invalid(errors)
        return _page(self.store.connection_entries(**filters), *paging)

    def _get_connection(self, ident, query, body, errors):
        conn = self.store.connection(ident)
        if conn is None:
            raise ApiError(404, "Storage connection not found", "NotFoundError",
                           {"resource": "connection", "id": ident})
        return conn


def _describe(fault):
    return {k: copy.deepcopy(v) for k, v in fault.items() if k != "re"}


def _route(method, segments):
    allowed = []
    for m, pattern, handler, needs_ns in _ROUTES:
        if len(pattern) == len(segments) and all(p is None or p == s for p, s in zip(pattern, segments)):
            if m == method:
                return handler, [s for p, s in zip(pattern, segments) if p is None], needs_ns
            allowed.append(m)
    if allowed:
        raise ApiError(405, "Method not allowed", "MethodNotAllowedError", {"allowed": allowed},
                       {"Allow": ", ".join(allowed)})
    raise ApiError(404, "Not found", "NotFoundError", {"resource": "route", "id": "/" + "/".join(segments)})


# ---------------------------------------------------------------- HTTP

class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128
    allow_reuse_address = True
    tls = None  # an ssl.SSLContext to serve HTTPS

    def server_bind(self):  # skip HTTPServer's getfqdn() (a DNS lookup)
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def get_request(self):
        sock, addr = self.socket.accept()
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], OSError):  # a client going away is no news
            traceback.print_exc()


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def version_string(self):
        return "mixpeek-mock/1.0"

    def log_message(self, format, *args):  # quiet
        pass

    def setup(self):
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()  # a client refusing our certificate ends here
            self.request.settimeout(None)
        super().setup()
        with self.server.api._lock:
            self.server.api._conns.add(self.connection)

    def finish(self):
        try:
            super().finish()
        finally:
            with self.server.api._lock:
                self.server.api._conns.discard(self.connection)

    def _any(self):
        try:
            raw = self._read_body()
        except ValueError:
            self.close_connection = True
            return self._send(400, _dumps(error_body(400, "Malformed request body framing", "BadRequestError")))
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path == "/_mock" or raw_path.startswith("/_mock/"):
            return self._control(raw_path, raw)
        self._api(raw_path, raw_query, raw)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _any

    def _read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline(65537).split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        if length < 0:
            raise ValueError("negative Content-Length")
        return self.rfile.read(length) if length else b""

    def _api(self, raw_path, raw_query, raw):
        api = self.server.api
        segments = [_decode(s) for s in raw_path.split("/")[1:]]
        path = _decode(raw_path)
        query_text = raw_query.encode("latin-1", "replace").decode("utf-8", "replace")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(query_text, keep_blank_values=True).items()}
        body, body_error = None, None
        if raw.strip():
            try:
                body = json.loads(raw)
            except ValueError as e:
                pos = getattr(e, "pos", 0)
                body_error = _verr(("body", pos), "json_invalid", "JSON decode error", {},
                                   {"error": getattr(e, "msg", str(e))})
        rec = api._record(method=self.command, path=path, raw_path=raw_path, query=query, body=body,
                          namespace=self.headers.get("X-Namespace"),
                          auth=auth_state(self.headers.get("Authorization")))
        latency, fault = api._take_faults(self.command, path, raw_path)
        kind = fault and fault["kind"]
        api._set(rec, fault=kind)
        if latency > 0 and api._stopping.wait(latency):
            self.close_connection = True
            return

        def normal():
            return api.respond(self.command, segments, query, body, body_error, self.headers)

        if kind == "reset":
            self.close_connection = True
            try:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()  # the fd closes (RST) once rfile is closed in finish()
            except OSError:
                pass
            return
        if kind == "hang":
            api._stopping.wait(float(fault["params"]["seconds"]))
            self.close_connection = True
            return
        if kind == "status":
            status = fault["params"]["status"]
            if status == 422:
                payload = {"detail": [_verr(("body",), "value_error", "Injected fault")]}
            else:
                payload = error_body(status, "Injected fault: HTTP %d" % status,
                                     _ERROR_TYPES.get(status, "HTTPError"))
            retry = fault["params"].get("retry_after")
            headers = {} if retry is None else {"Retry-After": str(retry)}
            api._set(rec, status=status)
            return self._send(status, _dumps(payload), headers)
        if kind == "huge":
            api._set(rec, status=200)
            return self._send_huge(int(fault["params"].get("size", 100 << 20)),
                                   fault["params"].get("declare", True))
        if kind == "garbage":
            api._set(rec, status=200)
            return self._send(200, b"<html>oops</html>", content_type="text/html")
        if kind == "ignore_paging":
            status, payload, headers = api._ignore_paging(self.command, segments, query, body, body_error,
                                                          self.headers, fault["params"])
        else:
            status, payload, headers = normal()
        if kind == "repeat_cursor" and status == 200 and isinstance(payload, dict) \
                and isinstance(payload.get("pagination"), dict) and "cursor" in query:
            payload["pagination"]["next_cursor"] = query["cursor"]
        if kind == "wrong_type":
            status, headers = 200, {}
            if segments[-1:] == ["list"]:
                if not (isinstance(payload, dict) and "results" in payload):
                    payload = {"results": None, "pagination": {"limit": DEFAULT_LIMIT, "offset": 0,
                                                               "next_cursor": None}, "total": 0}
                payload["results"] = "oops: results is a string"
            else:
                payload = "oops: not an object"
        elif status == 200 and api.record_versions:
            api._record_served(self.command, segments, payload)
        api._set(rec, status=status)
        self._send(status, _dumps(payload), headers, truncate=kind == "truncate")

    def _control(self, raw_path, raw):
        api, route = self.server.api, (self.command, raw_path.rstrip("/"))
        status, payload = 200, {"ok": True}
        try:
            if route == ("GET", "/_mock/log"):
                payload = {"requests": api.log()}
            elif route == ("DELETE", "/_mock/log"):
                api.reset_log()
            elif route == ("GET", "/_mock/faults"):
                payload = {"faults": api.faults()}
            elif route == ("POST", "/_mock/faults"):
                spec = json.loads(raw or b"{}")
                if not isinstance(spec, dict):
                    raise ValueError("expected a JSON object")
                payload = {"ok": True, "fault": api.add_fault(**spec)}
            elif route == ("DELETE", "/_mock/faults"):
                api.clear_faults()
            elif route == ("GET", "/_mock/info"):
                payload = api.info()
            else:
                status, payload = 404, error_body(404, "Not found", "NotFoundError",
                                                  {"resource": "route", "id": raw_path})
        except (TypeError, ValueError, re.error) as e:
            status, payload = 400, error_body(400, "Bad fault: %s" % e, "BadRequestError")
        self._send(status, _dumps(payload))

    def _send_huge(self, size, declare):
        """A 200 of size bytes: a JSON object padded with spaces."""
        self.close_connection = True
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        if declare:
            self.send_header("Content-Length", str(size))
        self.send_header("Connection", "close")
        self.end_headers()
        head, tail = b'{"results": [', b"]}"
        pad, sent = b" " * 65536, 0
        try:
            self.wfile.write(head)
            sent = len(head)
            while sent < size - len(tail):
                chunk = pad[:size - len(tail) - sent]
                self.wfile.write(chunk)
                sent += len(chunk)
            self.wfile.write(tail)
        except OSError:
            pass  # the client gave up: what it should do

    def _send(self, status, data, headers=None, content_type="application/json", truncate=False):
        if not self.server.api.keep_alive:
            headers = dict(headers or {}, Connection="close")
            self.close_connection = True
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if truncate:
            self.close_connection = True
            data = data[:len(data) // 2]
        self.wfile.write(data)


# ---------------------------------------------------------------- script

class _Stop(Exception):
    pass


def _raise_stop(signum, frame):
    raise _Stop()


def _churn_arg(text):
    """'BUCKET[:SEED]' -> (bucket, seed): SEED is an integer after the last
    colon (default 0); otherwise the whole text is the bucket id."""
    bucket, sep, seed = text.rpartition(":")
    if sep and re.fullmatch(r"[+-]?\d+", seed):
        return bucket, int(seed)
    return text, 0


def main(argv=None):
    parser = argparse.ArgumentParser(description="Local Mixpeek API for mixpeekfs tests.")
    parser.add_argument("--dataset", choices=datasets.DATASETS, default="small")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every /v1 request")
    parser.add_argument("--tls-cert", help="serve HTTPS with this certificate (PEM)")
    parser.add_argument("--tls-key", help="the certificate's private key (PEM)")
    parser.add_argument("--churn", metavar="BUCKET[:SEED]",
                        help="change that bucket's syncs continuously (MockAPI.start_churn; seed 0 by default)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    if bool(args.tls_cert) != bool(args.tls_key):
        parser.error("--tls-cert and --tls-key go together")
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    api = MockAPI(args.dataset, args.host, args.port, args.latency, tls=tls)
    churn = None
    if args.churn is not None:
        churn = _churn_arg(args.churn)
        if churn[0] not in [b["bucket_id"] for b in api.store.buckets()]:
            parser.error("--churn: no bucket %r in the %s data set" % (churn[0], args.dataset))
    try:
        api.start()
        if churn is not None:
            api.start_churn(*churn)
        print("listening on " + api.url, flush=True)
        while True:
            time.sleep(3600)
    except _Stop:
        pass
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
