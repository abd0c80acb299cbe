"""Extended attributes of sync files, read with getfattr as operators do,
against the API's objects: present exactly when the object has the field
(null counts as absent), values as the API sent them."""
import errno
import os
import re

import pytest

from conftest import encode_name, run

BUCKET = "bkt_marketing"
FIELDS = ("sync_config_id", "bucket_id", "connection_id", "status", "is_active", "updated_at", "last_error")


def expected(obj):
    out = {}
    for f in FIELDS:
        v = obj.get(f)
        if v is None:
            continue
        out["user.mixpeek." + f] = ("true" if v else "false") if f == "is_active" else v
    return out


def own(attrs):
    """The object's own attributes: attrs without user.mixpeek.fetched_at,
    which every file has (when its bytes came, RFC 3339 with ms)."""
    attrs = dict(attrs)
    at = attrs.pop("user.mixpeek.fetched_at")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", at), at
    return attrs


def getfattr_d(path):
    """getfattr -d --absolute-names -e text output as a dict."""
    out = run("getfattr", "-d", "--absolute-names", "-m", "-", path).stdout
    attrs = {}
    for line in out.splitlines():
        if line.startswith("#") or not line:
            continue
        k, _, v = line.partition("=")
        assert v.startswith('"') and v.endswith('"'), line
        attrs[k] = v[1:-1]
    return attrs


def test_getfattr_shows_the_objects_fields(api, mount):
    m = mount(api)
    objs = api.store.syncs(BUCKET)
    assert any(o.get("last_error") for o in objs) and any(o.get("last_error") is None for o in objs)
    for o in objs:
        path = m.p(BUCKET, "all", o["sync_config_id"] + ".json")
        assert own(getfattr_d(path)) == expected(o), o["sync_config_id"]


def test_listxattr_lists_exactly_those_present(api, mount):
    m = mount(api)
    for o in api.store.syncs(BUCKET)[:20]:
        path = m.p(BUCKET, "by-status", o["status"].lower(), o["sync_config_id"] + ".json")
        assert sorted(os.listxattr(path)) == sorted([*expected(o), "user.mixpeek.fetched_at"])
        for name, value in expected(o).items():
            assert os.getxattr(path, name) == value.encode()


def test_absent_attribute_is_enodata(api, mount):
    m = mount(api)
    o = next(o for o in api.store.syncs(BUCKET) if o.get("last_error") is None)
    path = m.p(BUCKET, "all", o["sync_config_id"] + ".json")
    for name in ("user.mixpeek.last_error", "user.mixpeek.nope"):
        with pytest.raises(OSError) as e:
            os.getxattr(path, name)
        assert e.value.errno == errno.ENODATA, name


def test_other_namespaces_are_not_supported(api, mount):
    """Outside user.mixpeek.* the filesystem has no attributes at all
    (EOPNOTSUPP, which ls -l remembers), on files and directories alike."""
    m = mount(api)
    o = api.store.syncs(BUCKET)[0]
    for path in (m.p(BUCKET, "all", o["sync_config_id"] + ".json"), m.p(BUCKET, "all"), m.p()):
        for name in ("user.other", "security.selinux", "system.posix_acl_access", "trusted.x"):
            with pytest.raises(OSError) as e:
                os.getxattr(path, name)
            assert e.value.errno == errno.EOPNOTSUPP, (path, name)


def test_directories_and_bucket_json_have_none(api, mount):
    m = mount(api)
    for p in (m.p(BUCKET), m.p(BUCKET, "by-status"), m.p(BUCKET, "bucket.json")):
        assert os.listxattr(p) == [], p


def test_a_listed_directory_has_its_age(api, mount):
    """The root (the bucket list) and each view directory have
    user.mixpeek.fetched_at once listed, and nothing else while fresh."""
    m = mount(api)
    os.listdir(m.p())
    os.listdir(m.p(BUCKET, "all"))
    for p in (m.p(), m.p(BUCKET, "all")):
        assert os.listxattr(p) == ["user.mixpeek.fetched_at"], p
        own({"user.mixpeek.fetched_at": os.getxattr(p, "user.mixpeek.fetched_at").decode()})


def test_attributes_cannot_be_set(api, mount):
    m = mount(api)
    o = api.store.syncs(BUCKET)[0]
    path = m.p(BUCKET, "all", o["sync_config_id"] + ".json")
    with pytest.raises(OSError) as e:
        os.setxattr(path, "user.mixpeek.status", b"COMPLETED")
    assert e.value.errno == errno.EROFS
    assert os.getxattr(path, "user.mixpeek.status") == o["status"].encode()


def test_unsafe_bytes_in_values(weird_api, mount):
    weird_api.reset_log()
    m = mount(weird_api, expect_stderr=[r"skipped \d+ items without id"])
    for o in weird_api.store.syncs("bkt_weird"):
        if not o.get("sync_config_id"):
            continue
        path = m.p("bkt_weird", "all", encode_name(o["sync_config_id"]) + ".json")
        got = {n: os.getxattr(path, n).decode() for n in os.listxattr(path)}
        assert own(got) == expected(o), o["sync_config_id"]
