"""The man page renders without a warning and documents every option that
--help lists, the tree, the errors, the environment and fstab use."""
import os
import re

from conftest import BIN, ROOT, run

PAGE = os.path.join(ROOT, "doc", "mixpeekfs.1")


def test_man_renders_without_warnings():
    r = run("man", "-l", "--warnings", PAGE, env={**os.environ, "MANWIDTH": "80", "MANPAGER": "cat"})
    assert r.stderr == ""
    assert "mount Mixpeek sync configurations" in r.stdout


def test_man_documents_every_option_of_help():
    text = run("man", "-l", PAGE, env={**os.environ, "MANPAGER": "cat", "MANWIDTH": "200"}).stdout
    helptext = run(BIN, "--help").stdout
    ours = helptext[helptext.index("mixpeekfs options:"):helptext.index("FUSE options:")]
    options = re.findall(r"^\s+-o (\w+)=", ours, re.M)
    assert len(options) >= 9
    for o in options:
        assert re.search(rf"-o {o}=", text), o
    for section in ("THE TREE", "EXTENDED ATTRIBUTES", "STATISTICS", "SIGNALS", "ENVIRONMENT",
                    "ERRORS", "FILES", "EXAMPLES"):
        assert re.search(rf"^{section}$", text, re.M), section
    for word in ("MIXPEEK_API_KEY", "MIXPEEK_NAMESPACE", "MIXPEEK_API_URL", "ENOENT", "EACCES", "EROFS",
                 "EIO", "Transport endpoint is not connected", "x-systemd.automount", "_netdev",
                 "bucket.json", "stats.json", "user.mixpeek.last_error", "SIGHUP", "SIGUSR2"):
        assert word in text, word
