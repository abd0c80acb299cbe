"""The directory-stream protocol over a multi-page listing, through libc's
opendir/readdir/telldir/seekdir/rewinddir: positions stay valid, re-reading
costs nothing, an interrupted reader leaves a usable listing, and a page that
fails is an error (EIO), never a short or empty directory."""
import ctypes
import errno
import os
import re

import pytest

from conftest import BREAKER_OPEN, assert_offsets_cover, list_requests, pages_needed, works_again

BUCKET = "bkt_marketing"
PAGE = 5


class Dirent(ctypes.Structure):  # struct dirent of glibc on 64-bit Linux
    _fields_ = [("d_ino", ctypes.c_uint64), ("d_off", ctypes.c_int64),
                ("d_reclen", ctypes.c_ushort), ("d_type", ctypes.c_ubyte),
                ("d_name", ctypes.c_char * 256)]


libc = ctypes.CDLL(None, use_errno=True)
libc.opendir.restype = ctypes.c_void_p
libc.opendir.argtypes = [ctypes.c_char_p]
libc.readdir.restype = ctypes.POINTER(Dirent)
libc.readdir.argtypes = [ctypes.c_void_p]
libc.telldir.restype = ctypes.c_long
libc.telldir.argtypes = [ctypes.c_void_p]
libc.seekdir.restype = None
libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
libc.rewinddir.restype = None
libc.rewinddir.argtypes = [ctypes.c_void_p]
libc.closedir.argtypes = [ctypes.c_void_p]


class Dir:
    def __init__(self, path):
        self.d = libc.opendir(os.fsencode(path))
        if not self.d:
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e), path)

    def next(self):
        """The next name, or None at the end; OSError on a failed read."""
        ctypes.set_errno(0)
        ent = libc.readdir(self.d)
        if not ent:
            e = ctypes.get_errno()
            if e:
                raise OSError(e, os.strerror(e))
            return None
        return os.fsdecode(ent.contents.d_name)

    def read(self, n=None):
        out = []
        while n is None or len(out) < n:
            name = self.next()
            if name is None:
                break
            out.append(name)
        return out

    def tell(self):
        return libc.telldir(self.d)

    def seek(self, pos):
        libc.seekdir(self.d, pos)

    def rewind(self):
        libc.rewinddir(self.d)

    def close(self):
        libc.closedir(self.d)


def truth(api):
    return {o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET)}


def syncs_only(names):
    return [n for n in names if n not in (".", "..")]


@pytest.fixture
def m(api, mount):
    m = mount(api, f"page_size={PAGE}")
    os.stat(m.p(BUCKET))  # bucket known; the counts below are the listing's
    api.reset_log()
    return m


def test_rewinddir_reads_the_same_entries_without_requests(api, m):
    d = Dir(m.p(BUCKET, "all"))
    try:
        first = d.read()
        assert len(syncs_only(first)) == len(set(syncs_only(first))) == 60
        assert set(syncs_only(first)) == truth(api)
        assert len(list_requests(api)) == pages_needed(60, PAGE, PAGE) == 15
        api.reset_log()
        d.rewind()
        assert d.read() == first
        assert api.log() == []
    finally:
        d.close()


@pytest.mark.parametrize("k", [1, 4, 23, 37, 59])
def test_seekdir_to_a_telldir_position_resumes_there(api, m, k):
    d = Dir(m.p(BUCKET, "all"))
    try:
        before = d.read(k)
        pos = d.tell()
        after = d.read()
        assert len(syncs_only(before + after)) == 60
        assert set(syncs_only(before + after)) == truth(api)
        requests = len(api.log())
        d.seek(pos)
        assert d.read() == after
        d.seek(pos)
        assert d.read(3) == after[:3]
        assert len(api.log()) == requests  # from the listing already fetched
    finally:
        d.close()


def test_interrupted_reader_leaves_a_listing_that_completes(api, m):
    d = Dir(m.p(BUCKET, "all"))
    assert len(d.read(3)) == 3
    d.close()
    partial = len(list_requests(api))
    assert 1 <= partial <= pages_needed(60, PAGE, PAGE)
    shown = os.listdir(m.p(BUCKET, "all"))
    assert len(shown) == len(set(shown)) == 60
    assert set(shown) == truth(api)
    # no page was asked for twice, and none is missing
    reqs = list_requests(api)
    offsets = [r["query"]["offset"] for r in reqs]
    assert len(offsets) == len(set(offsets)) == pages_needed(60, PAGE, PAGE)
    assert_offsets_cover(reqs)


def test_a_page_failing_mid_listing_is_eio_then_recovers(large_api, mount):
    """bkt_1k by pages of 100: a first reader takes the first pages and stops
    (one kernel readdir buffer is far fewer than 1,000 entries); then every
    page fails."""
    large_api.clear_faults()
    m = mount(large_api, "page_size=100")
    m.expect(r"^mixpeekfs: error: (?:opendir|readdir) '/bkt_1k/all': "
             + re.escape("POST /v1/buckets/bkt_1k/syncs/list?limit=100&offset=")
             + r"\d+: http 500: Injected fault: HTTP 500( after \d tries)?$", BREAKER_OPEN)
    os.stat(m.p("bkt_1k"))
    large_api.reset_log()
    path = m.p("bkt_1k", "all")
    d = Dir(path)
    d.read(1)
    d.close()
    assert 1 <= len(list_requests(large_api)) < pages_needed(1000, 100, 100)
    large_api.add_fault("status", path_re=r"/syncs/list$", status=500)
    try:
        for _ in range(2):  # and again: no short listing passes for complete
            with pytest.raises(OSError) as e:
                os.listdir(path)
            assert e.value.errno == errno.EIO
    finally:
        large_api.clear_faults()
    before = list_requests(large_api)
    fetched = {r["query"]["offset"] for r in before if r["status"] == 200}
    failed = {r["query"]["offset"] for r in before if r["status"] == 500}
    assert failed and not failed & fetched  # a page had is never asked again
    large_api.reset_log()
    shown = works_again(lambda: os.listdir(path), "the listing after the API came back")
    assert len(shown) == len(set(shown)) == 1000
    assert set(shown) == {o["sync_config_id"] + ".json" for o in large_api.store.syncs("bkt_1k")}
    after = list_requests(large_api)
    assert not {r["query"]["offset"] for r in after} & fetched
    assert_offsets_cover([r for r in before + after if r["status"] == 200])


def test_a_failing_first_page_is_eio_not_an_empty_directory(api, m):
    m.expect(r"^mixpeekfs: error: opendir '/bkt_marketing/inactive': "
             + re.escape("POST /v1/buckets/bkt_marketing/syncs/list?limit=5&offset=0: http 500: ")
             + r".* after 5 tries$", BREAKER_OPEN)
    api.add_fault("status", path_re=r"/syncs/list$", status=500)
    with pytest.raises(OSError) as e:
        os.listdir(m.p(BUCKET, "inactive"))
    assert e.value.errno == errno.EIO
    # one page, five tries, at the open: a directory whose first page
    # fails is an error, never '.' and '..' alone
    assert len(list_requests(api)) == 5
    assert {r["query"]["offset"] for r in list_requests(api)} == {"0"}
    api.clear_faults()
    shown = works_again(lambda: os.listdir(m.p(BUCKET, "inactive")), "the listing")
    assert set(shown) == {o["sync_config_id"] + ".json" for o in api.store.syncs(BUCKET, is_active=False)}
