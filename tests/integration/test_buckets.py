"""<bucket_id>/bucket.json is the bucket's object from GET /v1/buckets/{id};
at the root, each bucket name that is a safe, unique file name (and no
bucket's id) is a relative link to its id's directory."""
import copy
import errno
import os

import pytest

from conftest import render, run
from mockapi.server import MockAPI


def test_bucket_json_is_the_get_answer(api, mount):
    m = mount(api)
    for b in api.store.buckets():
        api.reset_log()
        with open(m.p(b["bucket_id"], "bucket.json"), "rb") as f:
            assert f.read() == render(b)
        gets = [r["path"] for r in api.log() if r["method"] == "GET"]
        assert gets == [f"/v1/buckets/{b['bucket_id']}"]
    st = os.stat(m.p("bkt_marketing", "bucket.json"))
    assert st.st_size == len(render(api.store.bucket("bkt_marketing")))
    assert oct(st.st_mode & 0o777) == oct(0o444)


def test_bucket_json_of_an_unknown_bucket(api, mount):
    m = mount(api, expect_stderr=[r"^mixpeekfs: info: stat '/bkt_nope': no such bucket$"])
    with pytest.raises(OSError) as e:
        os.stat(m.p("bkt_nope", "bucket.json"))
    assert e.value.errno == errno.ENOENT


def test_names_are_links_to_the_ids(api, mount):
    m = mount(api)
    for b in api.store.buckets():
        link = m.p(b["bucket_name"])
        assert os.path.islink(link)
        assert os.readlink(link) == b["bucket_id"]
        assert os.path.samefile(link, m.p(b["bucket_id"]))
    shown = run("ls", "-l", m.p()).stdout
    assert "marketing-assets -> bkt_marketing" in shown


def test_cd_through_a_name(api, mount):
    m = mount(api)
    r = run("sh", "-c", f"cd {m.p('marketing-assets')} && ls by-status/failed | wc -l && cat bucket.json")
    failed = len(api.store.syncs("bkt_marketing", status="FAILED"))
    assert r.stdout.splitlines()[0].strip() == str(failed)
    assert '"bucket_name": "marketing-assets"' in r.stdout


def test_link_of_an_encoded_id_is_encoded(weird_api, mount):
    m = mount(weird_api)
    assert os.readlink(m.p("slash-bucket")) == "bkt%2Fslash"
    assert sorted(os.listdir(m.p("slash-bucket", "all"))) == sorted(
        o["sync_config_id"] + ".json" for o in weird_api.store.syncs("bkt/slash"))


def _bucket(bid, name):
    b = copy.deepcopy(MockAPI("small").store.bucket("bkt_empty"))
    b["bucket_id"], b["bucket_name"] = bid, name
    return b


@pytest.fixture(scope="module")
def names_api():
    api = MockAPI("small").start()
    for bid, name in (("bkt_dup1", "twin"), ("bkt_dup2", "twin"),     # not unique
                      ("bkt_shadow", "bkt_support"),                  # another bucket's id
                      ("bkt_dot", ".."), ("bkt_pct", "50%off"),       # not safe as they are
                      ("bkt_ctl", "tab\there"), ("bkt_sl", "a/b"),
                      ("bkt_meta", ".mixpeekfs"), ("bkt_none", None),
                      ("bkt_ok", "fine name-ünï")):
        api.store.add_bucket(_bucket(bid, name))
    yield api
    api.stop()


def test_only_safe_unique_names_are_links(names_api, mount):
    m = mount(names_api, expect_stderr=[r"^mixpeekfs: info: stat '/(twin|50%off|tab\\x09here)': no such (bucket|path)$"])
    links = sorted(n for n in os.listdir(m.p()) if os.path.islink(m.p(n)))
    assert links == ["empty-bucket", "fine name-ünï", "marketing-assets", "support-archive"]
    for name in ("twin", "..", "50%off", "tab\there", ".mixpeekfs"):
        assert not os.path.islink(m.p(name)), name
    # a name that is another bucket's id stays that bucket's directory
    assert os.path.isdir(m.p("bkt_support")) and not os.path.islink(m.p("bkt_support"))
    assert os.readlink(m.p("fine name-ünï")) == "bkt_ok"


def test_names_with_the_buckets_option(api, mount):
    m = mount(api, "buckets=bkt_marketing:bkt_support")
    api.reset_log()
    assert sorted(os.listdir(m.p())) == [".mixpeekfs", "bkt_marketing", "bkt_support",
                                         "marketing-assets", "support-archive"]
    assert os.readlink(m.p("support-archive")) == "bkt_support"
    assert not [r for r in api.log() if r["path"] == "/v1/buckets/list"]
    assert sorted(r["path"] for r in api.log()) == ["/v1/buckets/bkt_marketing", "/v1/buckets/bkt_support"]
