"""Tests of the local Mixpeek API (server.py) and its data (datasets.py).

The server runs in-process on a free port and is spoken to over HTTP (urllib,
or http.client where the raw connection matters). Every JSON answer is checked
against the schema openapi-subset.json names for that operation and status.
"""

import http.client
import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

import jsonschema
import pytest

from mockapi import datasets
from mockapi.server import API_KEY, FORBIDDEN_KEY, MAX_OFFSET, MockAPI, decode_cursor

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "openapi-subset.json"), encoding="utf-8") as f:
    DOC = json.load(f)
NS = "ns_demo"


# ---------------------------------------------------------------- schema checks

_validators = {}
_seen_items = set()  # (schema, canonical JSON) of list items already validated


def validator(name):
    if name not in _validators:
        _validators[name] = jsonschema.Draft202012Validator(
            {"$ref": "#/components/schemas/" + name, "components": DOC["components"]})
    return _validators[name]


def schema_name(method, path, status):
    """The response schema the document names for this call, by path template."""
    segs = path.split("?")[0].strip("/").split("/")
    best = None
    for template, ops in DOC["paths"].items():
        parts = template.strip("/").split("/")
        if len(parts) != len(segs) or method.lower() not in ops:
            continue
        if all(p.startswith("{") or p == s for p, s in zip(parts, segs)):
            literal = sum(not p.startswith("{") for p in parts)
            if best is None or literal > best[0]:
                best = (literal, ops[method.lower()])
    responses = best[1]["responses"] if best else {}
    if str(status) in responses:
        return responses[str(status)]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return "HTTPValidationError" if status == 422 else "ErrorResponse"


def check(name, body):
    """Validate body; list items already seen valid are not validated again."""
    if isinstance(body, dict) and isinstance(body.get("results"), list):
        fresh = [r for r in body["results"] if (name, json.dumps(r, sort_keys=True)) not in _seen_items]
        validator(name).validate(dict(body, results=fresh))
        _seen_items.update((name, json.dumps(r, sort_keys=True)) for r in fresh)
    else:
        validator(name).validate(body)


# ---------------------------------------------------------------- clients

def call(api, method, path, body=None, query=None, key=API_KEY, ns=NS, raw_body=None, headers=None):
    """One request via urllib; returns (status, parsed JSON, headers), schema-checked."""
    url = api.url + path + ("?" + urllib.parse.urlencode(query) if query else "")
    hdrs = dict(headers or {})
    if key is not None:
        hdrs["Authorization"] = "Bearer " + key
    if ns is not None:
        hdrs["X-Namespace"] = ns
    data = raw_body if raw_body is not None else None if body is None else json.dumps(body).encode()
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw, rhdrs = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, raw, rhdrs = e.code, e.read(), e.headers
    assert rhdrs["Content-Type"] == "application/json"
    assert int(rhdrs["Content-Length"]) == len(raw)
    assert API_KEY.encode() not in raw and FORBIDDEN_KEY.encode() not in raw
    obj = json.loads(raw)
    check(schema_name(method, path, status), obj)
    return status, obj, rhdrs


def q(ident):
    return urllib.parse.quote(ident, safe="")


def list_syncs(api, bucket, body=None, **query):
    status, obj, _ = call(api, "POST", "/v1/buckets/%s/syncs/list" % q(bucket), body or {}, query)
    assert status == 200, obj
    return obj


def ids(objs):
    return [o.get("sync_config_id") for o in objs]


def raw_request(api, method, path, body=None, timeout=5, key=API_KEY):
    """A request on a fresh http.client connection; returns (conn, response)."""
    host, port = api.url[len("http://"):].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    hdrs = {"Authorization": "Bearer " + key, "X-Namespace": NS}
    data = None if body is None else json.dumps(body).encode()
    if data is not None:
        hdrs["Content-Type"] = "application/json"
    conn.request(method, path, body=data, headers=hdrs)
    return conn, conn.getresponse()


def error_of(status, obj):
    assert obj["success"] is False and obj["status"] == status
    return obj["error"]


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def small():
    with MockAPI("small") as api:
        yield api


@pytest.fixture(scope="module")
def large():
    with MockAPI("large") as api:
        yield api


@pytest.fixture(scope="module")
def weird():
    with MockAPI("weird") as api:
        yield api


@pytest.fixture
def fresh():
    """A small server of its own, for tests that change data or inject faults."""
    with MockAPI("small") as api:
        yield api


# ---------------------------------------------------------------- data sets

def test_datasets_are_deterministic_and_as_described():
    a, b = datasets.load("small"), datasets.load("small")
    assert a.syncs("bkt_marketing") == b.syncs("bkt_marketing")
    assert [x["bucket_id"] for x in a.buckets()] == ["bkt_marketing", "bkt_support", "bkt_empty"]
    assert [x["bucket_name"] for x in a.buckets()] == ["marketing-assets", "support-archive", "empty-bucket"]
    assert [len(a.syncs(x)) for x in ("bkt_marketing", "bkt_support", "bkt_empty")] == [60, 7, 0]
    m = a.syncs("bkt_marketing")
    assert {o["status"] for o in m} == set(datasets.STATUSES)
    assert {o["is_active"] for o in m} == {True, False}
    assert {o["connection_id"] for o in m} == set(datasets.USED_CONNECTIONS)
    failed = [o for o in m if o["status"] == "FAILED"]
    assert len(failed) >= 5 and all(o["last_error"] for o in failed)
    assert any("AccessDenied: s3:ListBucket" in o["last_error"] for o in failed)
    assert all(o["last_error"] is None for o in m if o["status"] not in ("FAILED", "COMPLETED_WITH_ERRORS"))
    assert a.connection("conn_unused") and not a.syncs("bkt_marketing", connection_id="conn_unused")
    assert list(m[0]) == ["sync_config_id", "bucket_id", "connection_id", "internal_id", "namespace_id",
                          "source_path", "file_filters", "schema_mapping", "sync_mode",
                          "polling_interval_seconds", "batch_size", "create_object_on_confirm",
                          "skip_duplicates", "skip_batch_submission", "status", "is_active",
                          "total_files_discovered", "total_files_synced", "total_files_failed",
                          "total_bytes_synced", "created_at", "updated_at", "last_sync_at", "next_sync_at",
                          "created_by_user_id", "last_error", "consecutive_failures", "metadata", "paused",
                          "pause_reason", "paused_at", "max_objects_per_run", "batch_chunk_size",
                          "sync_run_counter", "batch_ids", "task_ids"]
    for obj in m + a.syncs("bkt_support"):
        check("SyncConfigurationModel", obj)
    for conn in a.connections():
        check("StorageConnectionModel", conn)
    for bucket in a.buckets():
        check("BucketResponse", bucket)


def test_large_dataset_sizes():
    store = datasets.load("large")
    assert [len(store.syncs(b)) for b in ("bkt_1k", "bkt_10k", "bkt_12k")] == [1000, 10000, 12345]
    assert len(set(ids(store.syncs("bkt_12k")))) == 12345


def test_heavy_dataset_is_nested_schema_valid_at_least_2k_and_deterministic():
    def compact(obj):
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()  # as served

    a, b = datasets.load("heavy"), datasets.load("heavy")
    assert [x["bucket_id"] for x in a.buckets()] == ["bkt_heavy"]
    objs = a.syncs("bkt_heavy")
    assert len(objs) == 12345 and len(set(ids(objs))) == 12345
    texts = [compact(o) for o in objs]
    assert texts == [compact(o) for o in b.syncs("bkt_heavy")]  # same seed, same bytes
    assert min(map(len, texts)) >= 2048
    assert 2048 <= sum(map(len, texts)) / len(texts) <= 2300  # about 2.1 KB
    sources, transforms = set(), set()
    for obj in objs:
        filters, mappings, meta = obj["file_filters"], obj["schema_mapping"]["mappings"], obj["metadata"]
        assert len(filters["include_patterns"]) >= 2 and len(filters["mime_types"]) >= 2
        assert len(mappings) >= 3 and mappings["content"]["target_type"] == "blob"
        assert {"team", "cost_center", "owner", "labels", "notes"} <= set(meta)
        sources.update(m["source"]["type"] for m in mappings.values())
        transforms.update(m.get("transform") for m in mappings.values())
        check("SyncConfigurationModel", obj)
    assert sources == {"file", "tag", "metadata", "filename_regex", "column", "drive_property",
                       "folder_path", "constant"}
    assert {"lowercase", "uppercase", "trim", None} <= transforms
    check("BucketResponse", a.bucket("bkt_heavy"))


def test_weird_dataset():
    store = datasets.load("weird")
    got = ids(store.syncs("bkt_weird"))
    for ident in ("sync/with/slash", "100%done", ".", "..", "tab\there", "del\x7fchar", "nl\nname",
                  "ünïcödé-sync", "space name", "", None):
        assert ident in got
    objs = store.syncs("bkt_weird")
    assert objs[-1]["sync_config_id"] == "sync_no_times" and "created_at" not in objs[-1]
    assert "updated_at" not in store.sync("bkt_weird", "sync_no_updated")
    assert store.syncs("bkt_weird", connection_id="conn/odd")
    assert store.connection("conn/odd") and len(store.syncs("bkt/slash")) == 2
    for obj in objs:
        check("SyncConfigurationModel", obj)


def test_store_mutations():
    store = datasets.load("small")
    before = store.syncs("bkt_support")
    new = store.add_sync("bkt_support")
    assert store.syncs("bkt_support")[0] is new and len(store.syncs("bkt_support")) == 8
    assert all(datasets.parse_ts(new["created_at"]) > datasets.parse_ts(o["updated_at"]) for o in before)
    check("SyncConfigurationModel", new)
    sid = before[3]["sync_config_id"]
    updated = store.update_sync("bkt_support", sid, status="FAILED", last_error="boom")
    assert store.sync("bkt_support", sid) is updated and updated["last_error"] == "boom"
    assert before[3]["last_error"] != "boom"  # objects handed out earlier are snapshots
    assert list(updated) == list(before[3])
    assert datasets.parse_ts(updated["updated_at"]) > datasets.parse_ts(new["updated_at"])
    assert store.delete_sync("bkt_support", sid) is updated and store.sync("bkt_support", sid) is None
    with pytest.raises(KeyError):
        store.syncs("bkt_nope")


# ---------------------------------------------------------------- buckets

def test_bucket_list(small):
    status, obj, _ = call(small, "POST", "/v1/buckets/list", {})
    assert status == 200 and obj["total_count"] == 3
    assert [b["bucket_id"] for b in obj["results"]] == ["bkt_marketing", "bkt_support", "bkt_empty"]
    assert obj["pagination"]["limit"] == 10 and obj["pagination"]["offset"] == 0
    status, obj, _ = call(small, "POST", "/v1/buckets/list", {"limit": 1, "offset": 1})
    assert [b["bucket_id"] for b in obj["results"]] == ["bkt_support"] and obj["total_count"] == 3
    status, obj, _ = call(small, "POST", "/v1/buckets/list")  # no body at all
    assert status == 200 and len(obj["results"]) == 3
    status, obj, _ = call(small, "POST", "/v1/buckets/list", ns="demo")  # the namespace by name
    assert status == 200


@pytest.mark.parametrize("body,loc", [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"),
                                      ({"limit": "x"}, "limit"), ({"limit": True}, "limit"),
                                      ({"limit": None}, "limit"), ({"offset": -1}, "offset")])
def test_bucket_list_422(small, body, loc):
    status, obj, _ = call(small, "POST", "/v1/buckets/list", body)
    assert status == 422 and obj["detail"][0]["loc"] == ["body", loc]


def test_get_bucket(small):
    for ident in ("bkt_marketing", "marketing-assets"):
        status, obj, _ = call(small, "GET", "/v1/buckets/" + ident)
        assert status == 200 and obj == small.store.bucket("bkt_marketing")
    status, obj, _ = call(small, "GET", "/v1/buckets/bkt_nope")
    assert status == 404 and error_of(404, obj)["type"] == "NotFoundError"


# ---------------------------------------------------------------- auth, namespace, routing

def test_auth_and_namespace(small):
    path = "/v1/buckets/list"
    status, obj, hdrs = call(small, "POST", path, {}, key=None)
    assert status == 401 and error_of(401, obj)["type"] == "AuthenticationError"
    assert hdrs["WWW-Authenticate"] == "Bearer"
    status, obj, _ = call(small, "POST", path, {}, key="sk_test_wrong")
    assert status == 401 and error_of(401, obj)["type"] == "AuthenticationError"
    status, obj, _ = call(small, "POST", path, {}, key=None, headers={"Authorization": "Basic " + API_KEY})
    assert status == 401
    for p in (path, "/v1/buckets/bkt_marketing", "/v1/organizations/connections/conn_s3_prod"):
        method = "POST" if p.endswith("list") else "GET"
        status, obj, _ = call(small, method, p, key=FORBIDDEN_KEY)
        assert status == 403 and error_of(403, obj)
    status, obj, _ = call(small, "POST", path, {}, ns=None)
    assert status == 400 and error_of(400, obj)["type"]
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_marketing/syncs/list", {}, ns="ns_other")
    assert status == 404 and error_of(404, obj) == {
        "message": "Namespace not found", "type": "NotFoundError",
        "details": {"resource": "namespace", "id": "ns_other"}}
    # connection endpoints need only the key
    status, obj, _ = call(small, "POST", "/v1/organizations/connections/list", {}, ns=None)
    assert status == 200
    status, obj, _ = call(small, "GET", "/v1/organizations/connections/conn_s3_prod", ns=None)
    assert status == 200


def test_routing(small):
    status, obj, _ = call(small, "GET", "/v1/nothing/here")
    assert status == 404 and error_of(404, obj)
    status, obj, hdrs = call(small, "POST", "/v1/buckets/bkt_marketing")
    assert status == 405 and hdrs["Allow"] == "GET"
    status, obj, _ = call(small, "GET", "/v1/buckets/bkt_marketing/syncs/list")
    assert status == 404  # a sync named "list" does not exist


# ---------------------------------------------------------------- syncs

def test_sync_list_default(small):
    obj = list_syncs(small, "bkt_marketing")
    truth = small.store.syncs("bkt_marketing")
    assert obj["results"] == truth[:10] and obj["total"] == 60
    assert [list(o) for o in obj["results"]] == [list(o) for o in truth[:10]]  # key order kept
    assert obj["pagination"]["limit"] == 10 and obj["pagination"]["offset"] == 0
    assert isinstance(obj["pagination"]["next_cursor"], str)
    assert list_syncs(small, "bkt_empty") == {"results": [], "pagination": {
        "limit": 10, "offset": 0, "next_cursor": None}, "total": 0}


def test_newest_first_order(small):
    objs = list_syncs(small, "bkt_marketing", limit=1000)["results"]
    keys = [(datasets.parse_ts(o["created_at"]), o["sync_config_id"]) for o in objs]
    assert keys == sorted(keys, reverse=True)
    assert len({k[0] for k in keys}) < len(keys)  # the data has created_at ties


@pytest.mark.parametrize("body", [
    {"status": "failed"}, {"status": "FAILED"}, {"status": "completed_with_errors"},
    {"connection_id": "conn_s3_prod"}, {"connection_id": "conn_unused"}, {"connection_id": "conn_nope"},
    {"is_active": True}, {"is_active": False},
    {"status": "failed", "is_active": False}, {"status": "active", "connection_id": "conn_gdrive_mkt"},
    {"status": "completed", "connection_id": "conn_s3_prod", "is_active": True},
    {"status": None, "connection_id": None, "is_active": None},
    {"description": "extra keys are ignored", "status": "failed"},
])
def test_sync_filters(small, body):
    obj = list_syncs(small, "bkt_marketing", body, limit=1000)
    filters = {k: v for k, v in body.items() if k in ("status", "connection_id", "is_active")}
    truth = small.store.syncs("bkt_marketing", **filters)
    assert obj["results"] == truth and obj["total"] == len(truth)
    for o in truth:
        assert (not filters.get("status") or o["status"] == filters["status"].upper())


def test_every_status_filter(small):
    for status in datasets.STATUSES:
        obj = list_syncs(small, "bkt_marketing", {"status": status.lower()}, limit=1000)
        assert obj["total"] >= 1 and {o["status"] for o in obj["results"]} == {status}


@pytest.mark.parametrize("query,body,loc", [
    ({"limit": "0"}, {}, ["query", "limit"]),
    ({"limit": "1001"}, {}, ["query", "limit"]),
    ({"limit": "x"}, {}, ["query", "limit"]),
    ({"offset": "-1"}, {}, ["query", "offset"]),
    ({"offset": "10001"}, {}, ["query", "offset"]),
    ({"offset": "1.5"}, {}, ["query", "offset"]),
    ({"include_total": "maybe"}, {}, ["query", "include_total"]),
    ({"cursor": "not-a-cursor"}, {}, ["query", "cursor"]),
    ({"cursor": "eyJhIjoxfQ"}, {}, ["query", "cursor"]),  # valid base64 of {"a":1}
    ({}, {"status": "paused"}, ["body", "status"]),
    ({}, {"status": 3}, ["body", "status"]),
    ({}, {"is_active": "true"}, ["body", "is_active"]),
    ({}, {"is_active": 1}, ["body", "is_active"]),
    ({}, {"connection_id": 7}, ["body", "connection_id"]),
    ({}, [], ["body"]),
])
def test_sync_list_422(small, query, body, loc):
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_marketing/syncs/list", body, query)
    assert status == 422 and [d["loc"] for d in obj["detail"]] == [loc]


def test_sync_list_bad_json_and_empty_body(small):
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_marketing/syncs/list", raw_body=b'{"status": ')
    assert status == 422 and obj["detail"][0]["loc"][0] == "body" and obj["detail"][0]["type"] == "json_invalid"
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_marketing/syncs/list", raw_body=b"")
    assert status == 200 and obj["total"] == 60
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_marketing/syncs/list", raw_body=b"null")
    assert status == 200 and obj["total"] == 60


def test_sync_404s(small):
    status, obj, _ = call(small, "POST", "/v1/buckets/bkt_nope/syncs/list", {})
    assert status == 404 and error_of(404, obj)["details"] == {"resource": "bucket", "id": "bkt_nope"}
    status, obj, _ = call(small, "GET", "/v1/buckets/bkt_nope/syncs/sync_x")
    assert status == 404
    status, obj, _ = call(small, "GET", "/v1/buckets/bkt_marketing/syncs/sync_nope")
    assert status == 404 and error_of(404, obj)["details"]["id"] == "sync_nope"


def test_get_sync(small):
    for o in small.store.syncs("bkt_support"):
        status, obj, _ = call(small, "GET", "/v1/buckets/bkt_support/syncs/" + o["sync_config_id"])
        assert status == 200 and obj == o and list(obj) == list(o)


def test_include_total(small):
    obj = list_syncs(small, "bkt_marketing", {"status": "failed"}, limit=3, offset=3, include_total="true")
    n = len(small.store.syncs("bkt_marketing", status="FAILED"))
    p = obj["pagination"]
    assert obj["total"] == n and p["total"] == n and p["page"] == 2 and p["page_size"] == 3
    assert p["total_pages"] == -(-n // 3)
    assert "total_pages" not in list_syncs(small, "bkt_marketing", include_total="false")["pagination"]


def test_cursor_paging_with_filter(small):
    truth = ids(small.store.syncs("bkt_marketing", is_active=False))
    got, cursor = [], None
    while True:
        query = {"limit": 7}
        if cursor:
            query.update(cursor=cursor, offset=9999)  # offset is ignored once a cursor is given
        obj = list_syncs(small, "bkt_marketing", {"is_active": False}, **query)
        got += ids(obj["results"])
        assert obj["total"] == len(truth)
        cursor = obj["pagination"]["next_cursor"]
        if not cursor:
            break
    assert got == truth and len(got) > 14


def test_full_paging_of_12k(large):
    truth = ids(large.store.syncs("bkt_12k"))
    # offset paging up to the API's offset bound, then the cursor of the last page
    got, offset, obj = [], 0, None
    while offset <= MAX_OFFSET:
        obj = list_syncs(large, "bkt_12k", limit=1000, offset=offset)
        assert obj["total"] == 12345
        got += ids(obj["results"])
        offset += 1000
    status, err, _ = call(large, "POST", "/v1/buckets/bkt_12k/syncs/list", {}, {"limit": 1000, "offset": offset})
    assert status == 422 and err["detail"][0]["loc"] == ["query", "offset"]
    cursor = obj["pagination"]["next_cursor"]
    while cursor:
        obj = list_syncs(large, "bkt_12k", limit=1000, cursor=cursor)
        got += ids(obj["results"])
        cursor = obj["pagination"]["next_cursor"]
    assert got == truth
    # cursor paging from the start
    got, cursor = [], None
    while True:
        obj = list_syncs(large, "bkt_12k", limit=1000, **({"cursor": cursor} if cursor else {}))
        got += ids(obj["results"])
        cursor = obj["pagination"]["next_cursor"]
        if not cursor:
            break
    assert got == truth and len(set(got)) == 12345


def test_page_drift(fresh):
    truth = ids(fresh.store.syncs("bkt_marketing"))
    first = list_syncs(fresh, "bkt_marketing", limit=10)
    fresh.store.add_sync("bkt_marketing")
    second = list_syncs(fresh, "bkt_marketing", limit=10, offset=10)
    assert ids(second["results"])[0] == ids(first["results"])[-1]  # offset pages drift: a duplicate
    third = list_syncs(fresh, "bkt_marketing", limit=10, cursor=first["pagination"]["next_cursor"])
    assert ids(third["results"]) == truth[10:20]  # the cursor continues after the item, not an index
    fresh.store.add_sync("bkt_marketing")
    fresh.store.delete_sync("bkt_marketing", truth[19])  # even the item the cursor points at may go
    fourth = list_syncs(fresh, "bkt_marketing", limit=10, cursor=third["pagination"]["next_cursor"])
    assert ids(fourth["results"]) == truth[20:30]


# ---------------------------------------------------------------- connections

def test_connections(small):
    status, obj, _ = call(small, "POST", "/v1/organizations/connections/list", {}, ns=None)
    assert status == 200 and obj["results"] == small.store.connections() and obj["total"] == 5
    for body, want in (({"provider_type": "s3"}, {"conn_s3_prod", "conn_unused"}),
                       ({"is_active": False}, {"conn_unused"}),
                       ({"status": "active", "provider_type": "tigris"}, {"conn_tigris_arch"})):
        status, obj, _ = call(small, "POST", "/v1/organizations/connections/list", body)
        assert {c["connection_id"] for c in obj["results"]} == want
    status, obj, _ = call(small, "POST", "/v1/organizations/connections/list", {"provider_type": "ftp"})
    assert status == 422 and obj["detail"][0]["loc"] == ["body", "provider_type"]
    got, cursor = [], None
    while True:
        query = {"limit": 2, "include_total": "true", **({"cursor": cursor} if cursor else {})}
        status, obj, _ = call(small, "POST", "/v1/organizations/connections/list", {}, query)
        got += [c["connection_id"] for c in obj["results"]]
        assert obj["pagination"]["total"] == 5 and obj["pagination"]["total_pages"] == 3
        cursor = obj["pagination"]["next_cursor"]
        if not cursor:
            break
    assert got == [c["connection_id"] for c in small.store.connections()]
    for ident in ("conn_gdrive_mkt", "Marketing Google Drive"):
        status, obj, _ = call(small, "GET", "/v1/organizations/connections/" + q(ident))
        assert status == 200 and obj["connection_id"] == "conn_gdrive_mkt"
    status, obj, _ = call(small, "GET", "/v1/organizations/connections/conn_nope")
    assert status == 404 and error_of(404, obj)["details"]["resource"] == "connection"


# ---------------------------------------------------------------- awkward ids

def test_weird_ids_round_trip(weird):
    store = weird.store
    listed = list_syncs(weird, "bkt_weird", limit=1000)
    assert listed["results"] == store.syncs("bkt_weird") and listed["total"] == 25
    assert sum(1 for o in listed["results"] if not o.get("sync_config_id")) == 2
    for o in store.syncs("bkt_weird"):
        sid = o.get("sync_config_id")
        if sid:
            status, obj, _ = call(weird, "GET", "/v1/buckets/bkt_weird/syncs/" + q(sid))
            assert status == 200 and obj == o, sid
    assert q("sync/with/slash") == "sync%2Fwith%2Fslash"
    status, obj, _ = call(weird, "GET", "/v1/buckets/bkt_weird/syncs/%2E%2E")
    assert status == 200 and obj["sync_config_id"] == ".."
    status, obj, _ = call(weird, "GET", "/v1/buckets/bkt_weird/syncs/pct%252Fliteral")
    assert status == 200 and obj["sync_config_id"] == "pct%2Fliteral"
    status, obj, _ = call(weird, "GET", "/v1/buckets/bkt%2Fslash")
    assert status == 200 and obj["bucket_name"] == "slash-bucket"
    assert list_syncs(weird, "bkt/slash")["total"] == 2
    status, obj, _ = call(weird, "GET", "/v1/organizations/connections/conn%2Fodd")
    assert status == 200 and obj["connection_id"] == "conn/odd"
    odd = list_syncs(weird, "bkt_weird", {"connection_id": "conn/odd"}, limit=100)
    assert odd["results"] == store.syncs("bkt_weird", connection_id="conn/odd") and odd["total"] >= 3


def test_weird_paging_is_total(weird):
    truth = weird.store.syncs("bkt_weird")
    got, cursor = [], None
    while True:
        obj = list_syncs(weird, "bkt_weird", limit=1, **({"cursor": cursor} if cursor else {}))
        got += obj["results"]
        cursor = obj["pagination"]["next_cursor"]
        if not cursor:
            break
    assert got == truth
    assert decode_cursor("x") is None


# ---------------------------------------------------------------- request log

def test_request_log(fresh):
    fresh.reset_log()
    call(fresh, "POST", "/v1/buckets/bkt_marketing/syncs/list", {"status": "failed"},
         {"limit": "5", "cursor": "bad"})
    call(fresh, "GET", "/v1/buckets/bkt_marketing", key="sk_test_wrong")
    call(fresh, "GET", "/v1/buckets/bkt_marketing", key=FORBIDDEN_KEY, ns=None)
    call(fresh, "POST", "/v1/buckets/list", {}, key=None)
    call(fresh, "GET", "/v1/buckets/bkt%2Fx")
    urllib.request.urlopen(fresh.url + "/_mock/info").read()  # control calls are not logged
    log = fresh.log()
    assert [r["seq"] for r in log] == sorted(r["seq"] for r in log) and len(log) == 5
    first = log[0]
    assert (first["method"], first["path"], first["query"], first["body"], first["status"],
            first["namespace"], first["auth"]) == (
        "POST", "/v1/buckets/bkt_marketing/syncs/list", {"limit": "5", "cursor": "bad"},
        {"status": "failed"}, 422, NS, "ok")
    assert [r["auth"] for r in log] == ["ok", "bad", "forbidden", "missing", "ok"]
    assert [r["status"] for r in log] == [422, 401, 403, 401, 404]
    assert log[2]["namespace"] is None and log[4]["path"] == "/v1/buckets/bkt/x"
    assert log[4]["raw_path"] == "/v1/buckets/bkt%2Fx"
    assert API_KEY not in json.dumps(log) and FORBIDDEN_KEY not in json.dumps(log)
    assert fresh.count() == 5 and fresh.count("GET") == 3 and fresh.count("post", r"/syncs/list$") == 1
    log[0]["status"] = 999
    assert fresh.log()[0]["status"] == 422  # a copy
    fresh.reset_log()
    assert fresh.log() == [] and fresh.count() == 0


# ---------------------------------------------------------------- faults

LIST = "/v1/buckets/bkt_marketing/syncs/list"


def test_fault_status_retry_after_and_count(fresh):
    fresh.add_fault("status", path_re=r"/syncs/list$", count=2, status=503, retry_after=7)
    for remaining in (1, 0):
        status, obj, hdrs = call(fresh, "POST", LIST, {})
        assert status == 503 and hdrs["Retry-After"] == "7" and error_of(503, obj)
        assert [f["count"] for f in fresh.faults()] == ([remaining] if remaining else [])
    assert call(fresh, "POST", LIST, {})[0] == 200
    fresh.add_fault("status", status=429, count=1, method="POST")
    assert call(fresh, "GET", "/v1/buckets/bkt_marketing")[0] == 200  # method filter
    assert call(fresh, "POST", LIST, {})[0] == 429
    fresh.add_fault("status", status=422)
    status, obj, _ = call(fresh, "POST", LIST, {})
    assert status == 422 and obj["detail"]
    fresh.clear_faults()
    assert call(fresh, "POST", LIST, {})[0] == 200 and fresh.faults() == []


def test_fault_latency(fresh):
    fresh.add_fault("latency", seconds=0.2, count=1)
    fresh.add_fault("latency", seconds=0.1, count=1)
    fresh.add_fault("status", status=500, count=1)
    start = time.monotonic()
    assert call(fresh, "POST", LIST, {})[0] == 500  # latencies add up and do not consume the status fault
    assert time.monotonic() - start >= 0.3
    assert fresh.faults() == []  # each was used once
    assert call(fresh, "POST", LIST, {})[0] == 200


def test_global_latency():
    with MockAPI("small", latency=0.2) as api:
        start = time.monotonic()
        assert call(api, "POST", "/v1/buckets/list", {})[0] == 200
        assert time.monotonic() - start >= 0.2


def test_fault_reset(fresh):
    fresh.add_fault("reset", count=1)
    with pytest.raises((ConnectionError, http.client.RemoteDisconnected)):
        raw_request(fresh, "POST", LIST, {})
    assert fresh.log()[-1]["status"] is None and fresh.log()[-1]["fault"] == "reset"
    assert call(fresh, "POST", LIST, {})[0] == 200


def test_fault_truncate(fresh):
    fresh.add_fault("truncate", count=1)
    conn, resp = raw_request(fresh, "POST", LIST, {})
    assert resp.status == 200
    with pytest.raises(http.client.IncompleteRead) as info:
        resp.read()
    assert 0 < len(info.value.partial) < int(resp.headers["Content-Length"])
    conn.close()


def test_fault_hang(fresh):
    fresh.add_fault("hang", seconds=0.5, count=2)
    with pytest.raises(socket.timeout):
        raw_request(fresh, "POST", LIST, {}, timeout=0.2)
    start = time.monotonic()
    with pytest.raises(http.client.RemoteDisconnected):  # closed, unanswered, after its seconds
        raw_request(fresh, "POST", LIST, {}, timeout=60)
    assert time.monotonic() - start >= 0.45
    assert call(fresh, "POST", LIST, {})[0] == 200


def test_fault_garbage_and_wrong_type(fresh):
    fresh.add_fault("garbage", count=1)
    conn, resp = raw_request(fresh, "POST", LIST, {})
    assert resp.status == 200 and resp.read() == b"<html>oops</html>"
    conn.close()
    fresh.add_fault("wrong_type", path_re="list$", count=2)
    for path in (LIST, "/v1/organizations/connections/list"):
        conn, resp = raw_request(fresh, "POST", path, {})
        obj = json.loads(resp.read())
        assert resp.status == 200 and isinstance(obj["results"], str) and "pagination" in obj
        with pytest.raises(jsonschema.ValidationError):
            check(schema_name("POST", path, 200), obj)
        conn.close()
    fresh.add_fault("wrong_type", count=1)
    conn, resp = raw_request(fresh, "GET", "/v1/buckets/bkt_marketing")
    assert resp.status == 200 and isinstance(json.loads(resp.read()), str)
    conn.close()


def test_add_fault_rejects_nonsense(fresh):
    with pytest.raises(ValueError):
        fresh.add_fault("explode")
    with pytest.raises(ValueError):
        fresh.add_fault("status", status="x")
    with pytest.raises(ValueError):
        fresh.add_fault("ignore_paging", total="no")


# ---------------------------------------------------------------- HTTP control endpoints

def test_control_endpoints(fresh):
    def control(method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(fresh.url + path, data=data, method=method)
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    status, info = control("GET", "/_mock/info")
    assert info["namespace"] == NS and info["dataset"] == "small" and info["key_env"] == "MIXPEEK_API_KEY"
    status, obj = control("POST", "/_mock/faults", {"kind": "status", "status": 502, "count": 1,
                                                     "path_re": "/buckets/list$", "method": "POST"})
    assert status == 200 and obj["fault"]["params"]["status"] == 502
    assert control("GET", "/_mock/faults")[1]["faults"][0]["kind"] == "status"
    assert call(fresh, "POST", "/v1/buckets/list", {})[0] == 502
    status, obj = control("POST", "/_mock/faults", {"kind": "bogus"})
    assert status == 400 and error_of(400, obj)
    control("POST", "/_mock/faults", {"kind": "status", "status": 500})
    assert control("DELETE", "/_mock/faults")[0] == 200
    assert call(fresh, "POST", "/v1/buckets/list", {})[0] == 200
    requests = control("GET", "/_mock/log")[1]["requests"]
    assert [r["status"] for r in requests] == [502, 200]
    control("DELETE", "/_mock/log")
    assert control("GET", "/_mock/log")[1] == {"requests": []}
    assert control("GET", "/_mock/nothing")[0] == 404


# ---------------------------------------------------------------- HTTP behaviour

def test_concurrent_keep_alive_clients(small):
    host, port = small.url[len("http://"):].rsplit(":", 1)
    errors = []

    def client():
        try:
            conn = http.client.HTTPConnection(host, int(port), timeout=10)
            sock = None
            for _ in range(10):
                conn.request("POST", LIST + "?limit=5", body=b"{}",
                             headers={"Authorization": "Bearer " + API_KEY, "X-Namespace": NS,
                                      "Content-Type": "application/json"})
                resp = conn.getresponse()
                assert resp.status == 200 and len(json.loads(resp.read())["results"]) == 5
                assert sock is None or conn.sock is sock  # the connection was kept alive
                sock = conn.sock
            conn.close()
        except Exception as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=client) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []


def test_chunked_request_body(small):
    host, port = small.url[len("http://"):].rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    conn.request("POST", LIST, body=iter([b'{"status":', b' "failed"}']), encode_chunked=True,
                 headers={"Authorization": "Bearer " + API_KEY, "X-Namespace": NS})
    resp = conn.getresponse()
    assert resp.status == 200
    assert json.loads(resp.read())["total"] == len(small.store.syncs("bkt_marketing", status="failed"))
    conn.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_standalone_script(sig, tmp_path):
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--dataset", "weird",
                             "--port", "0"], cwd=str(tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    killer = threading.Timer(15, proc.kill)
    killer.start()
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert m, line
        with urllib.request.urlopen(m.group(1) + "/_mock/info", timeout=5) as resp:
            assert json.loads(resp.read())["dataset"] == "weird"
        req = urllib.request.Request(m.group(1) + "/v1/buckets/list", data=b"{}", method="POST",
                                     headers={"Authorization": "Bearer " + API_KEY, "X-Namespace": "demo"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert json.loads(resp.read())["total_count"] == 2
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=10)
        assert proc.returncode == 0, err
        assert out == "" and err == ""
    finally:
        killer.cancel()
        if proc.poll() is None:
            proc.kill()


# ---- HTTPS, big answers, a repeated cursor, restarts, request times

def test_https_with_a_ca_of_our_own(tmp_path):
    import ssl
    from tlsutil import make_ca
    ca, cert, key = make_ca(tmp_path)
    with MockAPI("small", tls=(cert, key)) as api:
        assert api.url.startswith("https://127.0.0.1:")
        ctx = ssl.create_default_context(cafile=ca)
        req = urllib.request.Request(api.url + "/v1/buckets/list", data=b"{}", method="POST",
                                     headers={"Authorization": "Bearer " + API_KEY,
                                              "X-Namespace": api.namespace})
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            assert json.load(resp)["total_count"] == 3
        # a client that does not know the CA refuses; the server lives on
        with pytest.raises(urllib.error.URLError) as e:
            urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context())
        assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)
        with urllib.request.urlopen(req, timeout=10, context=ctx) as resp:
            assert resp.status == 200
        assert api.count("POST", r"^/v1/buckets/list$") == 2


@pytest.mark.parametrize("declare", [True, False])
def test_huge_fault_streams_that_many_bytes(declare):
    with MockAPI("small") as api:
        api.add_fault("huge", count=1, size=3 << 20, declare=declare)
        host, port = api.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("POST", "/v1/buckets/list", body=b"{}",
                     headers={"Authorization": "Bearer " + API_KEY, "X-Namespace": api.namespace})
        resp = conn.getresponse()
        assert resp.status == 200
        assert (resp.getheader("Content-Length") == str(3 << 20)) == declare
        body = resp.read()
        conn.close()
        assert len(body) == 3 << 20
        assert json.loads(body) == {"results": []}
        assert [r["fault"] for r in api.log()] == ["huge"]


def test_repeat_cursor_fault_gives_back_the_cursor_asked_with():
    with MockAPI("small") as api:
        first = call(api, "POST", "/v1/buckets/bkt_marketing/syncs/list?limit=5", {})[1]
        cursor = first["pagination"]["next_cursor"]
        api.add_fault("repeat_cursor", path_re=r"/syncs/list$")
        page = call(api, "POST", "/v1/buckets/bkt_marketing/syncs/list?limit=5&cursor=" + cursor, {})[1]
        assert page["pagination"]["next_cursor"] == cursor
        assert page["results"] and page["results"] != first["results"]
        # offset pages are left alone
        page = call(api, "POST", "/v1/buckets/bkt_marketing/syncs/list?limit=5", {})[1]
        assert page == first


def test_a_restart_serves_on_the_same_port_and_logs_times():
    api = MockAPI("small").start()
    try:
        url = api.url
        call(api, "POST", "/v1/buckets/list", {})
        api.stop()
        with pytest.raises(OSError):
            urllib.request.urlopen(url + "/_mock/info", timeout=2)
        api.start()
        assert api.url == url
        call(api, "POST", "/v1/buckets/list", {})
        times = [r["time"] for r in api.log()]
        assert len(times) == 2 and times[0] <= times[1]
    finally:
        api.stop()


def test_keep_alive_off_closes_each_connection():
    with MockAPI("small", keep_alive=False) as api:
        host, port = api.url.split("//")[1].split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        conn.request("GET", "/_mock/info")
        resp = conn.getresponse()
        assert resp.getheader("Connection") == "close"
        resp.read()
        assert resp.will_close
        conn.close()


# ---------------------------------------------------------------- churn

def wait_for(predicate, what, deadline=60):
    """Poll predicate until it is true; fails only if it never is (a hang guard)."""
    end = time.monotonic() + deadline
    while not predicate():
        assert time.monotonic() < end, "never happened: " + what
        time.sleep(0.005)


def stepped(dataset, bucket, seed, n):
    store = datasets.load(dataset)
    churn = datasets.Churn(store, bucket, seed)
    for _ in range(n):
        churn.step()
    return store, churn


def rebuilt(store, bucket):
    """The bucket's syncs as a store built from scratch would order them."""
    copy_ = datasets.Store("copy", store.buckets(), store.connections(), {bucket: store.syncs(bucket)})
    return copy_.syncs(bucket)


def test_churn_is_deterministic():
    a, ca = stepped("small", "bkt_marketing", 7, 300)
    b, cb = stepped("small", "bkt_marketing", 7, 300)
    assert a.syncs("bkt_marketing") == b.syncs("bkt_marketing") and ca.counts == cb.counts
    assert [list(o) for o in a.syncs("bkt_marketing")] == [list(o) for o in b.syncs("bkt_marketing")]
    c, _ = stepped("small", "bkt_marketing", 8, 300)
    assert c.syncs("bkt_marketing") != a.syncs("bkt_marketing")
    # Store.churn_step with an rng of its own is the same as Churn
    d = datasets.load("small")
    rng, counts = random.Random(7), {}
    changes = [d.churn_step("bkt_marketing", rng, counts) for _ in range(300)]
    assert d.syncs("bkt_marketing") == a.syncs("bkt_marketing") and counts == ca.counts
    assert all(1 <= len(step) <= 3 for step in changes)
    assert set(ca.counts) == {"steps", "status_flips", "resizes", "deletes", "creates", "moves"}
    assert ca.counts["steps"] == 300
    assert sum(v for k, v in ca.counts.items() if k != "steps") == sum(len(s) for s in changes)
    # other buckets are left alone
    assert a.syncs("bkt_support") == datasets.load("small").syncs("bkt_support")


def test_churn_changes_every_way_and_keeps_the_data_consistent():
    store = datasets.load("small")
    base = len(store.syncs("bkt_marketing"))
    churn = datasets.Churn(store, "bkt_marketing", 1)
    size = {o["sync_config_id"]: datasets.pretty_size(o) for o in store.syncs("bkt_marketing")}
    crossed = set()
    seen_ops = set()
    for _ in range(400):
        before = max(max(datasets.parse_ts(o["created_at"]), datasets.parse_ts(o["updated_at"]))
                     for o in store.syncs("bkt_marketing"))
        changes = churn.step()
        seen_ops.update(op for op, _ in changes)
        created = [sid for op, sid in changes if op == "creates"]
        for sid in {sid for _, sid in changes}:  # one sync may change twice in a step
            obj = store.sync("bkt_marketing", sid)
            if obj is None:
                assert ("deletes", sid) in changes
                size.pop(sid, None)
                continue
            assert datasets.parse_ts(obj["updated_at"]) > before  # every change is newer than all
            new = datasets.pretty_size(obj)
            old = size.get(sid)
            if old is None:
                assert sid in created and datasets.parse_ts(obj["created_at"]) > before
            elif old // 4096 != new // 4096:
                crossed.add("up" if new > old else "down")
            size[sid] = new
        if created and ("creates", created[-1]) == changes[-1]:
            head = store.syncs("bkt_marketing")[0]
            assert head["sync_config_id"] == created[-1] and head["created_at"] == head["updated_at"]
        n = len(store.syncs("bkt_marketing"))
        assert base - 2 <= n <= base + 2 and n >= base // 2
    assert seen_ops == {"status_flips", "resizes", "deletes", "creates", "moves"}
    assert all(churn.counts[k] > 10 for k in churn.counts)
    assert crossed == {"up", "down"}
    objs = store.syncs("bkt_marketing")
    assert max(size.values()) > 5000 and any(4096 < s < 9400 for s in size.values())
    assert any(s < 2048 for s in size.values())
    assert any("padding" in o["metadata"] for o in objs)
    for o in objs:
        assert o["status"] in datasets.STATUSES
        assert o["connection_id"] in datasets.USED_CONNECTIONS
        assert (o["last_error"] is not None) == (o["status"] in ("FAILED", "COMPLETED_WITH_ERRORS"))
        assert o["paused"] == (o["status"] == "SUSPENDED")
        assert o["next_sync_at"] is None or o["is_active"]
        assert o["total_files_synced"] + o["total_files_failed"] <= o["total_files_discovered"]
        assert datasets.parse_ts(o["created_at"]) <= datasets.parse_ts(o["updated_at"])
        check("SyncConfigurationModel", o)
    assert {o["status"] for o in objs} > {"FAILED", "ACTIVE"}
    assert objs == rebuilt(store, "bkt_marketing")  # the order kept up to date is the API order


def test_churn_of_small_buckets_keeps_their_size():
    store = datasets.load("small")
    support, empty = datasets.Churn(store, "bkt_support", 2), datasets.Churn(store, "bkt_empty", 2)
    sizes = {"bkt_support": set(), "bkt_empty": set()}
    for _ in range(300):
        support.step()
        empty.step()
        for bucket in sizes:
            sizes[bucket].add(len(store.syncs(bucket)))
    assert min(sizes["bkt_support"]) >= 5 and max(sizes["bkt_support"]) <= 9
    assert sizes["bkt_empty"] <= {0, 1, 2} and max(sizes["bkt_empty"]) > 0
    assert support.counts["deletes"] and empty.counts["deletes"]


def test_churn_of_a_large_bucket_keeps_order_and_index():
    store = datasets.load("large")
    churn = datasets.Churn(store, "bkt_1k", 5)
    for _ in range(500):
        churn.step()
    objs = store.syncs("bkt_1k")
    assert 998 <= len(objs) <= 1002 and objs == rebuilt(store, "bkt_1k")
    for o in objs:
        assert store.sync("bkt_1k", o["sync_config_id"]) is o
    # mutations by hand still work in between
    new = store.add_sync("bkt_1k")
    assert store.syncs("bkt_1k")[0] is new
    churn.step()
    assert store.syncs("bkt_1k") == rebuilt(store, "bkt_1k")


def test_churned_answers_are_schema_valid(fresh):
    churn = datasets.Churn(fresh.store, "bkt_marketing", 11)
    for _ in range(500):
        churn.step()
    obj = list_syncs(fresh, "bkt_marketing", limit=1000)  # call() checks every answer
    assert obj["results"] == fresh.truth("bkt_marketing") and obj["total"] == len(obj["results"])
    for o in obj["results"]:
        status, got, _ = call(fresh, "GET", "/v1/buckets/bkt_marketing/syncs/" + q(o["sync_config_id"]))
        assert status == 200 and got == o
    paged, cursor = [], None
    while True:
        page = list_syncs(fresh, "bkt_marketing", limit=7, **({"cursor": cursor} if cursor else {}))
        paged += page["results"]
        cursor = page["pagination"]["next_cursor"]
        if not cursor:
            break
    assert paged == obj["results"]


def test_churn_of_weird_data_is_schema_valid():
    with MockAPI("weird") as api:
        churn = datasets.Churn(api.store, "bkt_weird", 3)
        for _ in range(300):
            churn.step()
        obj = list_syncs(api, "bkt_weird", limit=1000)
        assert obj["results"] == api.truth("bkt_weird")


def test_truth_is_the_listing(fresh):
    for filters in ({}, {"status": "failed"}, {"connection_id": "conn_s3_prod", "is_active": True}):
        obj = list_syncs(fresh, "bkt_marketing", filters, limit=1000)
        assert fresh.truth("bkt_marketing", **filters) == obj["results"]
    with pytest.raises(KeyError):
        fresh.truth("bkt_nope")


def test_served_versions_are_recorded_once_each():
    with MockAPI("small") as api:
        list_syncs(api, "bkt_support", limit=100)
        assert api.served_ids("bkt_support") == [] and not api.record_versions  # off by default
    with MockAPI("small", record_versions=True) as api:
        truth = api.truth("bkt_support")
        list_syncs(api, "bkt_support", limit=3)
        list_syncs(api, "bkt_support", limit=100)
        assert api.served_ids("bkt_support") == ids(truth)
        assert api.served_ids("bkt_marketing") == []
        sid = truth[2]["sync_config_id"]
        path = "/v1/buckets/bkt_support/syncs/" + sid
        call(api, "GET", path)
        assert api.served_versions("bkt_support", sid) == [truth[2]]  # deduplicated
        changed = api.store.update_sync("bkt_support", sid, status="FAILED", last_error="boom")
        call(api, "GET", path)
        list_syncs(api, "bkt_support", limit=100)
        versions = api.served_versions("bkt_support", sid)
        assert versions == [truth[2], changed] and list(versions[1]) == list(changed)
        # an equal object that is not the same one is no new version
        assert api.store.update_sync("bkt_support", sid, updated_at=changed["updated_at"]) is not changed
        call(api, "GET", path)
        assert len(api.served_versions("bkt_support", sid)) == 2
        # copies all the way down
        versions[0]["status"] = "mangled"
        got = api.served_versions("bkt_support", sid)
        got[1]["metadata"]["x"] = 1
        assert api.served_versions("bkt_support", sid) == [truth[2], changed]
        assert "x" not in api.store.sync("bkt_support", sid)["metadata"]
        # error answers and other endpoints record nothing
        call(api, "GET", "/v1/buckets/bkt_support/syncs/sync_nope")
        call(api, "GET", "/v1/buckets/bkt_marketing")
        assert api.served_versions("bkt_support", "sync_nope") == []
        assert len(api.served_ids("bkt_support")) == len(truth)
        api.clear_versions()
        assert api.served_ids("bkt_support") == []


def test_served_versions_under_concurrent_readers():
    with MockAPI("small", record_versions=True) as api:
        churn = api.start_churn("bkt_marketing", seed=4, min_period=0, max_period=0.002)
        errors = []

        def reader():
            try:
                for _ in range(15):
                    list_syncs(api, "bkt_marketing", limit=1000)
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=reader) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        counts = api.stop_churn()
        assert errors == [] and counts["steps"] == churn.counts["steps"] > 0
        for sid in api.served_ids("bkt_marketing"):
            versions = api.served_versions("bkt_marketing", sid)
            keys = [json.dumps(v, sort_keys=True) for v in versions]
            assert len(set(keys)) == len(keys) and all(v["sync_config_id"] == sid for v in versions)
            updated = [datasets.parse_ts(v["updated_at"]) for v in versions]
            assert len(set(updated)) == len(updated)  # each change bumps updated_at


def test_churn_thread_start_stop_and_counts():
    api = MockAPI("small").start()
    try:
        churn = api.start_churn("bkt_marketing", seed=3, min_period=0.001, max_period=0.003)
        assert api.record_versions
        wait_for(lambda: api.churn_counts()["steps"] >= 25, "25 churn steps")
        obj = list_syncs(api, "bkt_marketing", limit=1000)
        assert api.served_ids("bkt_marketing")  # start_churn switched recording on
        assert obj["results"]
        counts = api.stop_churn()
        assert counts["steps"] >= 25 and counts == churn.counts
        assert sum(counts.values()) - counts["steps"] >= counts["steps"]
        assert api.stop_churn() == counts  # idempotent
        assert not [t for t in threading.enumerate() if t.name == "mockapi-churn"]
        # the thread's changes are exactly those of the same Churn stepped by hand
        store, _ = stepped("small", "bkt_marketing", 3, counts["steps"])
        assert api.truth("bkt_marketing") == store.syncs("bkt_marketing")
        # stop() stops churning too; a new churn may start afterwards
        api.start_churn("bkt_support", seed=9, min_period=0, max_period=0.001)
        wait_for(lambda: api.churn_counts()["steps"] >= 3, "3 churn steps")
        api.stop()
        assert not [t for t in threading.enumerate() if t.name == "mockapi-churn"]
        assert api.stop_churn()["steps"] >= 3
        with pytest.raises(KeyError):
            api.start_churn("bkt_nope")
        with pytest.raises(ValueError):
            api.start_churn("bkt_support", min_period=1, max_period=0.5)
    finally:
        api.stop()


def test_churn_command_line(tmp_path):
    from mockapi.server import _churn_arg
    assert _churn_arg("bkt_support") == ("bkt_support", 0)
    assert _churn_arg("bkt_support:42") == ("bkt_support", 42)
    assert _churn_arg("bkt/slash:7") == ("bkt/slash", 7)
    assert _churn_arg("a:b") == ("a:b", 0)
    before = datasets.load("small").syncs("bkt_support")
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "server.py"), "--dataset", "small",
                             "--port", "0", "--churn", "bkt_support:5"], cwd=str(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert m, line + proc.stderr.read()

        def listing():
            req = urllib.request.Request(m.group(1) + "/v1/buckets/bkt_support/syncs/list?limit=100",
                                         data=b"{}", method="POST",
                                         headers={"Authorization": "Bearer " + API_KEY, "X-Namespace": NS})
            with urllib.request.urlopen(req, timeout=30) as resp:
                obj = json.loads(resp.read())
            check("SyncListResponse", obj)
            return obj["results"]

        wait_for(lambda: listing() != before, "a change by --churn")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out == "" and err == "", err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    bad = subprocess.run([sys.executable, os.path.join(HERE, "server.py"), "--churn", "bkt_nope"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "bkt_nope" in bad.stderr


# ---------------------------------------------------------------- ignore_paging

def test_ignore_paging_on_syncs(fresh):
    truth = fresh.truth("bkt_marketing")
    fresh.add_fault("ignore_paging", path_re=r"/syncs/list$")
    pages, cursor = [], None
    for query in ({}, {"offset": 5}, {"offset": 50}, "cursor", "cursor", {"include_total": "true"}):
        if query == "cursor":
            query = {"cursor": cursor}
        page = list_syncs(fresh, "bkt_marketing", limit=5, **query)  # schema-valid
        assert page["results"] == truth[:5] and page["total"] == 60
        cursor = page["pagination"]["next_cursor"]
        assert decode_cursor(cursor) is not None
        pages.append(page)
    cursors = [p["pagination"]["next_cursor"] for p in pages]
    assert len(set(cursors)) == len(cursors)
    assert pages[-1]["pagination"]["total"] == 60 and pages[-1]["pagination"]["total_pages"] == 12
    assert pages[1]["pagination"]["offset"] == 5  # the offset asked is echoed: nothing tells
    # filters still apply, the limit too
    failed = fresh.truth("bkt_marketing", status="FAILED")
    page = list_syncs(fresh, "bkt_marketing", {"status": "failed"}, limit=2, offset=2)
    assert page["results"] == failed[:2] and page["total"] == len(failed)
    # a cursor it gave, sent back once the fault is gone, continues after the page
    fresh.clear_faults()
    assert list_syncs(fresh, "bkt_marketing", limit=5, cursor=cursors[0])["results"] == truth[5:10]
    # without totals
    fresh.add_fault("ignore_paging", path_re=r"/syncs/list$", count=1, total=False)
    conn, resp = raw_request(fresh, "POST", LIST + "?limit=5&offset=10&include_total=true", {})
    obj = json.loads(resp.read())
    conn.close()
    assert resp.status == 200 and obj["results"] == truth[:5] and "total" not in obj
    assert "total" not in obj["pagination"] and "total_pages" not in obj["pagination"]
    assert obj["pagination"]["next_cursor"] not in cursors
    assert fresh.log()[-1]["fault"] == "ignore_paging"
    # invalid requests are still refused
    fresh.add_fault("ignore_paging", path_re=r"/syncs/list$")
    status, obj, _ = call(fresh, "POST", LIST, {}, {"offset": "-1"})
    assert status == 422


def test_ignore_paging_on_buckets(fresh):
    fresh.add_fault("ignore_paging", path_re=r"/buckets/list$")
    cursors = []
    for body in ({"limit": 1}, {"limit": 1, "offset": 1}, {"limit": 1, "offset": 2}):
        status, obj, _ = call(fresh, "POST", "/v1/buckets/list", body)
        assert status == 200 and [b["bucket_id"] for b in obj["results"]] == ["bkt_marketing"]
        assert obj["total_count"] == 3 and obj["pagination"]["total"] == 3
        assert obj["pagination"]["offset"] == body.get("offset", 0)
        cursors.append(obj["pagination"]["next_cursor"])
    assert all(decode_cursor(c) for c in cursors) and len(set(cursors)) == 3
    status, obj, _ = call(fresh, "GET", "/v1/buckets/bkt_marketing")  # not a list: left alone
    assert status == 200 and obj["bucket_id"] == "bkt_marketing"
    fresh.clear_faults()
    # total=False, through the control endpoint
    req = urllib.request.Request(fresh.url + "/_mock/faults", method="POST", data=json.dumps(
        {"kind": "ignore_paging", "path_re": "/buckets/list$", "total": False}).encode())
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert json.loads(resp.read())["fault"]["params"] == {"total": False}
    conn, resp = raw_request(fresh, "POST", "/v1/buckets/list", {"limit": 2, "offset": 1})
    obj = json.loads(resp.read())
    conn.close()
    assert [b["bucket_id"] for b in obj["results"]] == ["bkt_marketing", "bkt_support"]
    assert "total_count" not in obj and "total" not in obj["pagination"]
    assert isinstance(obj["pagination"]["next_cursor"], str)


def test_encoding_cache_is_bounded(fresh, monkeypatch):
    from mockapi import server
    monkeypatch.setattr(server, "_ENCODED_MAX_ITEMS", 5)
    churn = datasets.Churn(fresh.store, "bkt_marketing", 6)
    for _ in range(3):
        churn.step()
        assert list_syncs(fresh, "bkt_marketing", limit=100)["results"] == fresh.truth("bkt_marketing")
        assert len(server._encoded) <= 5
