"""Unmounted with handles the kernel never released: the kernel sends the
release of a handle closed last in the background, and drops the releases
it has not sent yet when the mount goes. What those handles hold (a
directory's listing, a file's object) is let go with the session, so the
daemon ends clean: exit 0, no leak, no 'never freed' line."""
import os
import signal
import subprocess

from conftest import DEADLINE, wait_for

BUCKET = "bkt_marketing"


def stopped(pid):
    """Whether every thread of pid has stopped (SIGSTOP takes effect as
    each comes out of the kernel, after kill() returns)."""
    states = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            states.append(f.read().rsplit(")", 1)[1].split()[0])
    return all(s in "Tt" for s in states)


def test_handles_never_released_are_let_go(api, mount):
    m = mount(api)
    view = m.p(BUCKET, "all")
    names = sorted(os.listdir(view))
    first, second = (os.path.join(view, n) for n in names[:2])
    # A first close sends FLUSH, which mixpeekfs does not implement: the
    # kernel sends none after it, so the close below waits for no answer.
    with open(first) as f:
        f.read()
    dfd = os.open(view, os.O_RDONLY | os.O_DIRECTORY)
    ffd = os.open(second, os.O_RDONLY)
    assert os.read(ffd, 1) == b"{"
    os.kill(m.proc.pid, signal.SIGSTOP)
    try:
        wait_for(lambda: stopped(m.proc.pid), "the daemon stopped")
        # Closed while the daemon cannot read them: the releases wait in
        # the kernel's queue, and the unmount drops them.
        os.close(dfd)
        os.close(ffd)
        subprocess.run(["fusermount3", "-u", m.path], check=True, timeout=DEADLINE)
    finally:
        os.kill(m.proc.pid, signal.SIGCONT)
    assert m.proc.wait(timeout=DEADLINE) == 0, m.stderr()
    assert "never freed" not in m.stderr(), m.stderr()
