"""Shared by the Python tests: the built `mist` command and a scratch folder."""
import json
import os
import shutil
import subprocess
import tempfile

CLI = os.environ.get("MIST_CLI", "")


def cli(*args):
    """Runs the mist command; returns its stdout (the test fails on a non-zero exit)."""
    if not CLI:
        raise RuntimeError("MIST_CLI (the path of the built mist command) is not set")
    r = subprocess.run([CLI] + [str(a) for a in args], capture_output=True, text=True,
                       timeout=120)
    if r.returncode:
        raise AssertionError("mist %s failed: %s" % (" ".join(map(str, args)), r.stderr))
    return r.stdout


def cli_json(*args):
    return json.loads(cli(*args))


class Scratch:
    """A temporary folder, removed afterwards: under $MIST_TEST_TMP (an existing folder: the
    build tree) when set."""

    def __enter__(self):
        base = os.environ.get("MIST_TEST_TMP") or None
        self.path = tempfile.mkdtemp(prefix="pytest-", dir=base)
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)
