"""Ids that are not safe file names: shown percent-encoded, looked up the same
way, none dropped; items without an id skipped with a warning; mtime from
timestamps of every shape the API sends."""
import calendar
import os
import re

import pytest

from conftest import encode_name, list_requests, render, run

BUCKET = "bkt_weird"
SKIPPED = r"^mixpeekfs: warn: list syncs of 'bkt_weird' (all|active|inactive|by-status/\S+|by-connection/\S+): " \
          r"skipped 2 items without id \(or with one longer than 1024 bytes\)$"


@pytest.fixture
def api(weird_api):
    weird_api.clear_faults()
    weird_api.reset_log()
    return weird_api


def with_id(objs):
    return [o for o in objs if o.get("sync_config_id")]


def file_name(obj):
    return encode_name(obj["sync_config_id"]) + ".json"


def utc(*fields):
    return calendar.timegm(fields)


def test_listing_shows_every_id_encoded_and_skips_items_without_id(api, mount):
    m = mount(api, expect_stderr=[SKIPPED])
    objs = api.store.syncs(BUCKET)
    expected = sorted(file_name(o) for o in with_id(objs))
    assert len(objs) - len(expected) == 2  # one without the key, one with ""
    shown = os.listdir(m.p(BUCKET, "all"))
    assert len(shown) == len(set(shown))
    assert sorted(shown) == expected
    for name in ("sync%2Fwith%2Fslash.json", "100%25done.json", "pct%252Fliteral.json", "%2E.json",
                 "%2E%2E.json", "tab%09here.json", "del%7Fchar.json", "nl%0Aname.json",
                 "ünïcödé-sync.json", "space name.json", "plus+sign.json"):
        assert name in shown
    assert re.search(SKIPPED.replace("(all|conn|status|active|inactive) '[^']*'", "all ''"),
                     m.stderr(), re.M), m.stderr()


def test_each_file_holds_its_object(api, mount):
    m = mount(api, expect_stderr=[SKIPPED])
    os.listdir(m.p(BUCKET, "all"))
    api.reset_log()
    for o in with_id(api.store.syncs(BUCKET)):
        path = m.p(BUCKET, "all", file_name(o))
        with open(path, "rb") as f:
            assert f.read() == render(o), o["sync_config_id"]
        assert os.stat(path).st_size == len(render(o))
    assert api.log() == []  # all from the listing


def test_escaped_names_open_without_a_listing(api, mount):
    m = mount(api, expect_stderr=[
        # what the two dot names cause while they fail (see the assertion)
        r"^mixpeekfs: (info|error): stat '/bkt_weird/all/(%2E|%2E%2E)\.json': .*$"])
    os.stat(m.p(BUCKET))
    bad = {}
    for o in with_id(api.store.syncs(BUCKET)):
        sid = o["sync_config_id"]
        api.reset_log()
        try:
            with open(m.p(BUCKET, "all", file_name(o)), "rb") as f:
                data = f.read()
        except OSError as e:
            bad[file_name(o)] = f"{e.strerror}; requests: {[r['raw_path'] for r in api.log()]}"
            continue
        if data != render(o):
            bad[file_name(o)] = "wrong content"
        elif [(r["method"], r["path"]) for r in api.log()] != [("GET", f"/v1/buckets/{BUCKET}/syncs/{sid}")]:
            bad[file_name(o)] = f"requests: {[(r['method'], r['path']) for r in api.log()]}"
    assert bad == {}


def test_percent_names_that_are_not_the_encoding_do_not_exist(api, mount):
    """One name per id: a lower-case or needless escape is not another name."""
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_weird/all/[^']*': no such path$"])
    for name in ("sync%2fwith%2fslash.json", "sync%2With.json", "%73ync_no_zone.json", "100%done.json"):
        assert not os.path.exists(m.p(BUCKET, "all", name)), name
    assert [r for r in api.log() if "/syncs/" in r["path"]] == []


def test_by_connection_shows_an_encoded_connection_that_works(api, mount):
    m = mount(api, expect_stderr=[SKIPPED])
    objs = with_id(api.store.syncs(BUCKET))
    conns = sorted({encode_name(o["connection_id"]) for o in objs})
    assert "conn%2Fodd" in conns
    assert run("ls", m.p(BUCKET, "by-connection")).stdout.splitlines() == sorted(conns)
    api.reset_log()
    odd = m.p(BUCKET, "by-connection", "conn%2Fodd")
    assert os.path.isdir(odd)
    shown = os.listdir(odd)
    assert sorted(shown) == sorted(file_name(o) for o in objs if o["connection_id"] == "conn/odd")
    assert [r["body"] for r in list_requests(api, BUCKET)] == [{"connection_id": "conn/odd"}]
    o = next(o for o in objs if o["connection_id"] == "conn/odd")
    with open(os.path.join(odd, file_name(o)), "rb") as f:
        assert f.read() == render(o)


def test_encoded_connection_looked_up_without_a_listing(api, mount):
    m = mount(api)
    assert os.path.isdir(m.p(BUCKET, "by-connection", "conn%2Fodd"))
    assert [r["path"] for r in api.log() if r["method"] == "GET"] == ["/v1/organizations/connections/conn/odd"]


def test_bucket_with_a_slash_is_listed_and_works(api, mount):
    m = mount(api)
    assert run("ls", m.p()).stdout.splitlines() == ["bkt%2Fslash", "bkt_weird", "slash-bucket", "weird-bucket"]
    objs = api.store.syncs("bkt/slash")
    api.reset_log()
    shown = os.listdir(m.p("bkt%2Fslash", "all"))
    assert sorted(shown) == sorted(file_name(o) for o in objs)
    reqs = list_requests(api)
    assert [r["path"] for r in reqs] == ["/v1/buckets/bkt/slash/syncs/list"]
    assert [r["raw_path"] for r in reqs] == ["/v1/buckets/bkt%2Fslash/syncs/list"]
    for o in objs:
        with open(m.p("bkt%2Fslash", "all", file_name(o)), "rb") as f:
            assert f.read() == render(o)
    assert run("ls", m.p("bkt%2Fslash")).stdout.split() == ["active", "all", "bucket.json", "by-connection",
                                                           "by-status", "counts.json", "inactive", "where"]


def test_bucket_with_a_slash_file_opens_without_a_listing(api, mount):
    m = mount(api)
    o = api.store.syncs("bkt/slash")[1]
    with open(m.p("bkt%2Fslash", "by-status", o["status"].lower(), file_name(o)), "rb") as f:
        assert f.read() == render(o)
    gets = [r for r in api.log() if r["method"] == "GET"]
    assert [r["path"] for r in gets] == [f"/v1/buckets/bkt/slash/syncs/{o['sync_config_id']}"]


def test_mtime_rules(api, mount):
    m = mount(api, expect_stderr=[SKIPPED])
    os.listdir(m.p(BUCKET, "all"))
    expected = {
        "sync_no_zone.json": utc(2024, 5, 1, 10, 30, 0),         # no zone: UTC
        "sync_offset_zone.json": utc(2024, 5, 1, 10, 30, 0),     # 12:30+02:00
        "nl%0Aname.json": utc(2024, 5, 2, 22, 0, 0),             # 17:00-05:00
        "tab%09here.json": utc(2024, 5, 2, 20, 10, 0),           # +00:00
        "sync%2Fwith%2Fslash.json": (utc(2024, 5, 3, 9, 0, 0), 250000000),  # .250000Z
        "%2E%2E.json": (utc(2024, 5, 2, 22, 0, 1), 500000000),              # 01.5Z
        "del%7Fchar.json": (utc(2024, 5, 2, 18, 0, 0), 123000000),          # .123+00:00
        "sync_no_updated.json": utc(2024, 4, 30, 9, 0, 0),       # created_at
        "sync_no_times.json": utc(2024, 4, 1, 0, 0, 0),          # none: the bucket's created_at
    }
    assert api.store.bucket(BUCKET)["created_at"] == "2024-04-01T00:00:00Z"
    # in nanoseconds: fractions of a second are kept
    expected = {name: t[0] * 10**9 + t[1] if isinstance(t, tuple) else t * 10**9
                for name, t in expected.items()}
    for name, t in expected.items():
        st = os.stat(m.p(BUCKET, "all", name))
        assert st.st_mtime_ns == t, name
    # and the same when the object comes from a GET rather than a listing
    m2 = mount(api)
    for name, t in expected.items():
        if name.startswith("%2E"):
            continue  # test_escaped_names_open_without_a_listing covers these
        assert os.stat(m2.p(BUCKET, "all", name)).st_mtime_ns == t, name
