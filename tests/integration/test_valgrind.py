"""Issue 4: one mount session under valgrind memcheck, with no errors and no
leaks: the plain build (build/mixpeekfs; valgrind and the sanitizers do not
mix), through listings, reads, a retried fault, a failure and unmount."""
import errno
import os
import re

import pytest

from conftest import ROOT, render, run

PLAIN_BIN = os.path.join(ROOT, "build", "mixpeekfs")


def test_a_session_under_valgrind_has_no_errors_and_no_leaks(api, mount, tmp_path):
    log = tmp_path / "valgrind.log"
    wrapper = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--leak-check=full",
               "--show-leak-kinds=definite,indirect,possible",
               "--errors-for-leak-kinds=definite,indirect,possible",
               "--child-silent-after-fork=yes", f"--log-file={log}"]
    m = mount(api, "ttl=0", wrapper=wrapper, binary=PLAIN_BIN, deadline=60,
              expect_stderr=[r"^mixpeekfs: info: stat '/bkt_marketing/all/sync_nope.json': GET .+: http 404: .+",
                             r"^mixpeekfs: error: opendir '/bkt_marketing/inactive': POST .+: answer is not .+"])
    assert {"bkt_empty", "bkt_marketing", "bkt_support"} <= set(os.listdir(m.p()))
    for view in ("all", "active", "by-status/failed", "by-connection"):
        os.listdir(m.p("bkt_marketing", view))
    objs = api.store.syncs("bkt_marketing")[:5]
    for obj in objs:
        with open(m.p("bkt_marketing", "all", obj["sync_config_id"] + ".json"), "rb") as f:
            assert f.read() == render(obj)
    run("grep", "-rl", "FAILED", m.p("bkt_support", "all"))
    api.add_fault("status", path_re=r"/syncs/[^/]+$", method="GET", status=503, count=1)
    obj = api.store.syncs("bkt_marketing")[6]
    with open(m.p("bkt_marketing", "all", obj["sync_config_id"] + ".json"), "rb") as f:
        assert f.read() == render(obj)
    with pytest.raises(OSError) as e:
        os.stat(m.p("bkt_marketing", "all", "sync_nope.json"))
    assert e.value.errno == errno.ENOENT
    api.add_fault("garbage", path_re=r"/syncs/list$")
    with pytest.raises(OSError) as e:
        os.listdir(m.p("bkt_marketing", "inactive"))
    assert e.value.errno == errno.EIO
    api.clear_faults()
    assert m.umount(deadline=60) == 0
    text = log.read_text()
    assert re.search(r"ERROR SUMMARY: 0 errors from 0 contexts", text), text[-3000:]
    for kind in ("definitely lost", "indirectly lost", "possibly lost"):
        found = re.search(kind + r": ([\d,]+) bytes", text)
        assert found is None or found.group(1) == "0", text[-3000:]
    summary = [line.split("== ", 1)[1] for line in text.splitlines()
               if re.search(r"(in use at exit|total heap usage|ERROR SUMMARY|lost:|reachable:|All heap blocks)", line)]
    print("\n".join(summary))
    print(text[:600])
