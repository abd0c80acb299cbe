"""Kernel caching within ttl, and its end: listings and files are served
without requests while fresh, and a change at the API shows once ttl has
passed (the kernel's cached pages and directory entries included)."""
import os

from conftest import list_requests, render, run, wait_for

BUCKET = "bkt_support"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def test_warm_files_and_listings_cost_no_requests(api, mount):
    m = mount(api, "ttl=600")
    view = m.p(BUCKET, "all")
    names = sorted(os.listdir(view))
    for name in names:
        read(os.path.join(view, name))
    api.reset_log()
    for _ in range(3):
        assert sorted(os.listdir(view)) == names
        for name in names:
            read(os.path.join(view, name))
        run("grep", "-rl", "FAILED", view, check=False)
        run("ls", "-l", view)
    assert api.log() == []


def test_a_changed_sync_shows_after_ttl(api, mount):
    m = mount(api, "ttl=1")
    obj = api.store.syncs(BUCKET)[0]
    path = m.p(BUCKET, "all", obj["sync_config_id"] + ".json")
    assert read(path) == render(obj)
    changed = api.store.update_sync(BUCKET, obj["sync_config_id"],
                                    last_error="a much longer error message than before")
    try:
        new = render(api.store.sync(BUCKET, obj["sync_config_id"]))
        assert new != render(obj)
        wait_for(lambda: read(path) == new, "the changed sync after ttl")
        assert os.stat(path).st_size == len(new)
        assert run("cat", path).stdout.encode() == new
    finally:
        api.store.update_sync(BUCKET, obj["sync_config_id"], last_error=obj["last_error"])
    assert changed


def test_a_new_sync_is_listed_after_ttl(api, mount):
    m = mount(api, "ttl=1")
    view = m.p(BUCKET, "all")
    before = set(os.listdir(view))
    added = api.store.add_sync(BUCKET)
    try:
        name = added["sync_config_id"] + ".json"
        assert name not in before
        wait_for(lambda: name in os.listdir(view), "the new sync after ttl")
        assert set(os.listdir(view)) == before | {name}
        assert read(os.path.join(view, name)) == render(added)
    finally:
        api.store.delete_sync(BUCKET, added["sync_config_id"])


def test_listed_files_are_read_without_a_get(api, mount):
    m = mount(api)
    view = m.p(BUCKET, "all")
    names = os.listdir(view)
    run("grep", "-rl", "sync", view)
    run("stat", *[os.path.join(view, n) for n in names])
    assert [r for r in api.log() if r["method"] == "GET"] == []
    assert len(list_requests(api, BUCKET)) == 1
