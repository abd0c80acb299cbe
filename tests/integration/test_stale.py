"""Stale on error: once ttl has passed, a refresh that fails (the API down)
serves the last good listing or object, with a log line, for up to
-o stale seconds; a refusal is never covered up, and with stale=0 the
caller gets EIO."""
import errno
import json
import os
import re

import pytest

from conftest import BREAKER_OPEN, render, run, wait_for, works_again

BUCKET = "bkt_support"
STALE_LINE = r"^mixpeekfs: warn: .*serving what was fetched \d+ s ago$"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def attempts(api):
    return len(api.log())


def test_the_last_good_copy_is_served_while_the_api_is_down(api, mount):
    m = mount(api, "ttl=1", "stale=300", expect_stderr=[STALE_LINE])
    view = m.p(BUCKET, "all")
    names = sorted(os.listdir(view))
    obj = api.store.syncs(BUCKET)[0]
    path = os.path.join(view, obj["sync_config_id"] + ".json")
    assert read(path) == render(obj)
    api.add_fault("reset")
    api.reset_log()
    try:
        # once ttl has passed, a listing asks the API, fails, and is served
        # from the copy
        def relisted():
            before = attempts(api)
            shown = sorted(os.listdir(view))
            assert shown == names
            return attempts(api) > before
        wait_for(relisted, "a refresh of the listing to be tried")
        assert read(path) == render(obj)
        assert all(r["status"] is None for r in api.log())  # every try failed
    finally:
        api.clear_faults()
    assert "serving what was fetched" in m.stderr()


def test_without_stale_the_failure_is_eio(api, mount):
    m = mount(api, "ttl=1", "stale=0",
              expect_stderr=[r"^mixpeekfs: error: \w+ '/bkt_support[^']*': .*"])
    m.expect(r"^mixpeekfs: error: .*" + BREAKER_OPEN)
    view = m.p(BUCKET, "all")
    os.listdir(view)
    api.add_fault("reset")
    try:
        def fails():
            try:
                os.listdir(view)
            except OSError as e:
                assert e.errno == errno.EIO
                return True
            return False
        wait_for(fails, "the listing to fail once ttl has passed")
    finally:
        api.clear_faults()
    shown = works_again(lambda: os.listdir(view), "the listing once the API is back")
    assert sorted(shown) == sorted(o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET))


def test_a_refusal_is_not_covered_up(api, mount):
    m = mount(api, "ttl=1", "stale=300",
              expect_stderr=[r"^mixpeekfs: info: .*"])
    obj = api.store.syncs(BUCKET)[0]
    path = m.p(BUCKET, "all", obj["sync_config_id"] + ".json")
    assert read(path) == render(obj)
    api.store.delete_sync(BUCKET, obj["sync_config_id"])
    try:
        def gone():
            try:
                read(path)
            except OSError as e:
                assert e.errno == errno.ENOENT
                return True
            return False
        wait_for(gone, "the deleted sync to be gone once ttl has passed")
    finally:
        api.store.add_sync(BUCKET, obj)


def xattr(path, name):
    try:
        return os.getxattr(path, "user.mixpeek." + name).decode()
    except OSError as e:
        if e.errno == errno.ENODATA:
            return None
        raise


def test_the_age_of_a_copy_is_shown(api, mount):
    """user.mixpeek.fetched_at, on sync files and view directories, says
    when the API last sent what is shown (RFC 3339, ms) and advances with
    each refresh; user.mixpeek.stale is there only while a failed refresh
    has the last good copy served, and says why; stats.json shows each
    view's age and staleness."""
    m = mount(api, "ttl=1", "stale=300", expect_stderr=[STALE_LINE])
    view = m.p(BUCKET, "all")
    obj = api.store.syncs(BUCKET)[0]
    path = os.path.join(view, obj["sync_config_id"] + ".json")
    os.listdir(view)
    first = {p: xattr(p, "fetched_at") for p in (view, path)}
    for p, at in first.items():
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", at), (p, at)
        assert xattr(p, "stale") is None
    names = run("getfattr", "-d", "--absolute-names", path).stdout
    assert "user.mixpeek.fetched_at=" in names and "user.mixpeek.sync_config_id=" in names

    def refreshed():  # past ttl a look refreshes: the times move on
        os.listdir(view)
        read(path)
        return all(xattr(p, "fetched_at") > at for p, at in first.items())
    wait_for(refreshed, "fetched_at to advance with a refresh")

    api.add_fault("status", status=503)
    try:
        def stale():
            os.listdir(view)
            read(path)
            return xattr(view, "stale") and xattr(path, "stale")
        wait_for(stale, "user.mixpeek.stale during the outage")
        for p in (view, path):  # why, as the log says it
            why = xattr(p, "stale")
            assert why.startswith(f"POST /v1/buckets/{BUCKET}/syncs/list"), why
            assert f": {why}; serving what was fetched" in m.stderr()
        views = json.loads(read(m.p(".mixpeekfs", "stats.json")))["views"]
        shown = views[f"/{BUCKET}/all"]
        assert shown["stale"].startswith(f"POST /v1/buckets/{BUCKET}/syncs/list")
        assert shown["fetched_at"] == xattr(view, "fetched_at")
        assert shown["age"] >= 0
    finally:
        api.clear_faults()

    def fresh():
        os.listdir(view)
        read(path)
        return xattr(view, "stale") is None and xattr(path, "stale") is None
    wait_for(fresh, "user.mixpeek.stale to go once a refresh succeeds")
    views = json.loads(read(m.p(".mixpeekfs", "stats.json")))["views"]
    assert views[f"/{BUCKET}/all"]["stale"] is False
