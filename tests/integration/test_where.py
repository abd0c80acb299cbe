"""where/: the API's filters combined in one call, as the API combines
them (AND), with every filter in the request's body and nothing filtered
on the client; any spelling of one filter is one listing, a sync one
inode; a name that is no filter is ENOENT with nothing sent."""
import errno
import os

import pytest

from conftest import encode_name, list_requests, render, run

BUCKET = "bkt_marketing"


def names(objs):
    return sorted(encode_name(o["sync_config_id"]) + ".json" for o in objs)


def truth(api, status=None, connection_id=None, is_active=None, bucket=BUCKET):
    return api.store.syncs(bucket, status=status, connection_id=connection_id, is_active=is_active)


# (where/ name, the filter as the API's body has it)
COMBINATIONS = [
    ("status=failed", {"status": "FAILED"}),
    ("is_active=true", {"is_active": True}),
    ("connection_id=conn_s3_prod", {"connection_id": "conn_s3_prod"}),
    ("status=failed,is_active=false", {"status": "FAILED", "is_active": False}),
    ("connection_id=conn_gdrive_mkt,status=failed", {"connection_id": "conn_gdrive_mkt", "status": "FAILED"}),
    ("status=failed,connection_id=conn_gdrive_mkt,is_active=false",
     {"status": "FAILED", "connection_id": "conn_gdrive_mkt", "is_active": False}),
    ("status=failed,is_active=true,connection_id=conn_tigris_arch",  # matches nothing
     {"status": "FAILED", "is_active": True, "connection_id": "conn_tigris_arch"}),
]


def ground_truth(api, body):
    return truth(api, status=body.get("status"), connection_id=body.get("connection_id"),
                 is_active=body.get("is_active"))


@pytest.mark.parametrize("name,body", COMBINATIONS, ids=[c[0] for c in COMBINATIONS])
def test_a_combination_is_one_filtered_call(api, mount, name, body):
    m = mount(api)
    os.listdir(m.p(BUCKET, "all"))  # the connections are known from it
    api.reset_log()
    listed = sorted(os.listdir(m.p(BUCKET, "where", name)))
    assert listed == names(ground_truth(api, body))
    reqs = list_requests(api, BUCKET)
    assert len(reqs) == 1, reqs
    assert reqs[0]["body"] == body
    assert [r for r in api.log() if r["method"] == "GET"] == []


def test_the_matching_set_is_the_apis(api, mount):
    """All three keys at once, and a combination that matches nothing: an
    empty directory, not ENOENT."""
    m = mount(api)
    some = truth(api, status="FAILED", connection_id="conn_gdrive_mkt", is_active=False)
    assert some, "the data set has a sync that matches all three"
    assert sorted(os.listdir(m.p(BUCKET, "where", COMBINATIONS[5][0]))) == names(some)
    assert truth(api, status="FAILED", connection_id="conn_tigris_arch", is_active=True) == []
    empty = m.p(BUCKET, "where", COMBINATIONS[6][0])
    assert os.listdir(empty) == []
    assert os.path.isdir(empty)


def test_an_escaped_value(weird_api, mount):
    """conn/odd is written conn%2Fodd, in where/ as in by-connection/."""
    api = weird_api
    m = mount(api)
    want = names([o for o in truth(api, connection_id="conn/odd", bucket="bkt_weird")
                  if o.get("sync_config_id")])
    assert want
    api.reset_log()
    got = sorted(os.listdir(m.p("bkt_weird", "where", "connection_id=conn%2Fodd")))
    assert got == want
    assert [r["body"] for r in list_requests(api, "bkt_weird")] == [{"connection_id": "conn/odd"}]


def test_comma_and_equals_in_a_value(api, mount):
    added = api.store.add_sync(BUCKET, {"connection_id": "conn,a=b"})
    try:
        m = mount(api)
        where = m.p(BUCKET, "where")
        assert "connection_id=conn%2Ca%3Db" in os.listdir(where)
        api.reset_log()
        assert os.listdir(os.path.join(where, "connection_id=conn%2Ca%3Db,is_active=true")) == \
            [added["sync_config_id"] + ".json"]
        assert [r["body"] for r in list_requests(api, BUCKET)] == \
            [{"connection_id": "conn,a=b", "is_active": True}]
    finally:
        api.store.delete_sync(BUCKET, added["sync_config_id"])


def test_where_lists_the_single_filters(api, mount):
    m = mount(api)
    assert "where" in os.listdir(m.p(BUCKET))
    shown = os.listdir(m.p(BUCKET, "where"))
    statuses = ["pending", "in_progress", "processing", "completed", "completed_with_errors", "failed",
                "canceled", "unknown", "skipped", "draft", "active", "archived", "suspended"]
    conns = sorted({o["connection_id"] for o in truth(api)})
    assert sorted(shown) == sorted(["status=" + s for s in statuses] + ["is_active=true", "is_active=false"]
                                   + ["connection_id=" + c for c in conns])
    for name in shown:
        assert os.path.isdir(m.p(BUCKET, "where", name)), name


def test_order_does_not_matter(api, mount):
    m = mount(api)
    conn = "conn_gdrive_mkt"
    a = m.p(BUCKET, "where", f"status=failed,connection_id={conn}")
    b = m.p(BUCKET, "where", f"connection_id={conn},status=failed")
    first = sorted(os.listdir(a))
    assert first == names(truth(api, status="FAILED", connection_id=conn))
    assert sorted(os.listdir(b)) == first
    assert len(list_requests(api, BUCKET)) == 1  # one listing for both
    for n in first:
        inos = {os.stat(os.path.join(d, n)).st_ino for d in
                (a, b, m.p(BUCKET, "all"), m.p(BUCKET, "by-status", "failed"), m.p(BUCKET, "where", "status=failed"))}
        assert len(inos) == 1, n
        assert os.stat(os.path.join(a, n)).st_nlink == 4


def test_one_key_is_the_fixed_view(api, mount):
    """where/status=failed is by-status/failed by another name: one
    listing; likewise is_active= and connection_id=."""
    m = mount(api)
    for where, fixed in (("status=failed", "by-status/failed"), ("is_active=false", "inactive"),
                         ("connection_id=conn_s3_prod", "by-connection/conn_s3_prod")):
        api.reset_log()
        a = sorted(os.listdir(m.p(BUCKET, "where", where)))
        b = sorted(os.listdir(m.p(BUCKET, fixed)))
        assert a == b and a
        assert len(list_requests(api, BUCKET)) == 1, where


BAD = [
    ("unknown key", "color=red", "an unknown key"),
    ("repeated key", "status=failed,status=completed", "a key given twice"),
    ("is_active not a boolean", "is_active=yes", "neither true nor false"),
    ("empty segment", "status=failed,,is_active=true", "an empty pair"),
    ("trailing comma", "status=failed,", "an empty pair"),
    ("no value", "status=", "not key=value"),
    ("bad escape", "connection_id=conn%2x", "not %-encoded"),
]


@pytest.mark.parametrize("name,why", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_a_name_that_is_no_filter_is_enoent_and_asks_nothing(api, mount, name, why):
    m = mount(api, expect_stderr=[rf"^mixpeekfs: info: stat '/{BUCKET}/where/[^']*': no such filter: .*"])
    os.listdir(m.p(BUCKET))  # the bucket is known: that is not the filter's
    api.reset_log()
    with pytest.raises(OSError) as e:
        os.stat(m.p(BUCKET, "where", name))
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        os.listdir(m.p(BUCKET, "where", name))
    assert e.value.errno == errno.ENOENT
    assert api.log() == []
    assert any(f"where/{name}': no such filter: " in line and why in line
               for line in m.stderr().splitlines()), m.stderr()


def test_a_file_shows_only_where_it_matches(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/where/.*': no such sync in this view$"])
    o = truth(api, status="FAILED", is_active=False)[0]
    other = next(x for x in truth(api) if x["status"] != "FAILED")
    yes = m.p(BUCKET, "where", "is_active=false,status=failed", o["sync_config_id"] + ".json")
    no = m.p(BUCKET, "where", "is_active=false,status=failed", other["sync_config_id"] + ".json")
    assert run("cat", yes).stdout.encode() == render(o)
    assert os.getxattr(yes, "user.mixpeek.status") == b"FAILED"
    r = run("cat", no, check=False)
    assert r.returncode != 0 and "No such file" in r.stderr
    # without a listing: a GET of the sync, nothing listed
    assert list_requests(api, BUCKET) == []


def test_an_unknown_connection_is_enoent(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/where/connection_id=conn_nope': "
                                  r"GET /v1/organizations/connections/conn_nope: http 404: "])
    with pytest.raises(OSError) as e:
        os.listdir(m.p(BUCKET, "where", "connection_id=conn_nope"))
    assert e.value.errno == errno.ENOENT
