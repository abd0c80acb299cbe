"""Stable inode numbers: a sync's version has one st_ino in every view and
across remounts, readdir's d_ino agrees with stat's st_ino, and '.' and '..' are
never inode 0 (readdir(3) would hide them)."""
import os

from conftest import run

BUCKET = "bkt_marketing"


def views_of(o):
    sid = o["sync_config_id"] + ".json"
    out = [("all", sid), ("active" if o["is_active"] else "inactive", sid),
           (f"by-status/{o['status'].lower()}", sid), (f"by-connection/{o['connection_id']}", sid)]
    return [os.path.join(BUCKET, v, n) for v, n in out]


def test_same_sync_same_inode_in_every_view(api, mount):
    m = mount(api)
    for o in api.store.syncs(BUCKET)[:15]:
        inos = {os.stat(m.p(p)).st_ino for p in views_of(o)}
        assert len(inos) == 1, o["sync_config_id"]
    all_inos = [os.stat(m.p(BUCKET, "all", n)).st_ino for n in os.listdir(m.p(BUCKET, "all"))]
    assert len(set(all_inos)) == len(all_inos)


def test_find_samefile_sees_one_file(api, mount):
    """Every view that lists the sync, where/'s one-key views among them
    (the combinations where/ does not list are not walked)."""
    m = mount(api)
    o = api.store.syncs(BUCKET, status="FAILED")[0]
    found = run("find", m.p(BUCKET), "-samefile", m.p(BUCKET, "all", o["sync_config_id"] + ".json")).stdout
    sid = o["sync_config_id"] + ".json"
    where = [f"where/status={o['status'].lower()}", f"where/connection_id={o['connection_id']}",
             f"where/is_active={'true' if o['is_active'] else 'false'}"]
    assert sorted(found.splitlines()) == sorted([m.p(p) for p in views_of(o)] +
                                                [m.p(BUCKET, w, sid) for w in where])


def test_inodes_survive_a_remount(api, mount):
    paths = ["", BUCKET, f"{BUCKET}/all", f"{BUCKET}/by-status/failed", f"{BUCKET}/bucket.json",
             "marketing-assets", ".mixpeekfs", ".mixpeekfs/stats.json"]
    paths += [f"{BUCKET}/all/{o['sync_config_id']}.json" for o in api.store.syncs(BUCKET)[:10]]
    first = mount(api)
    before = {p: os.lstat(first.p(p)).st_ino for p in paths}
    second = mount(api)
    after = {p: os.lstat(second.p(p)).st_ino for p in paths}
    assert before == after
    assert before[""] == 1
    assert len(set(before.values())) == len(paths)


def test_d_ino_matches_st_ino(api, mount):
    m = mount(api)
    for d in ("", BUCKET, f"{BUCKET}/all", f"{BUCKET}/by-status", f"{BUCKET}/by-connection", ".mixpeekfs"):
        # twice: the kernel uses readdirplus first, plain readdir after
        for _ in range(2):
            with os.scandir(m.p(d)) as it:
                for e in it:
                    assert e.inode() == os.lstat(e.path).st_ino, e.path


def test_dot_and_dot_dot_have_inodes(api, mount):
    m = mount(api)
    for d, parent in ((BUCKET, ""), (f"{BUCKET}/all", BUCKET), (f"{BUCKET}/by-status/failed", f"{BUCKET}/by-status")):
        lines = run("ls", "-a", "-f", "-i", m.p(d)).stdout.split("\n")
        inos = dict(reversed(line.split(None, 1)) for line in lines if line.strip())
        assert int(inos["."]) == os.stat(m.p(d)).st_ino != 0
        assert int(inos[".."]) == os.stat(m.p(parent)).st_ino != 0
