"""The code stays as the style guide asks: ruff's checks pass and formatting is settled."""

import subprocess
import sys

from local_stack.definition import ROOT


def ruff(*args) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_ruff_finds_nothing_to_report():
    checked = ruff("check", "--select", "E,F,W,I", ".")
    assert checked.returncode == 0, checked.stdout


def test_every_file_is_formatted():
    formatted = ruff("format", "--check", ".")
    assert formatted.returncode == 0, formatted.stdout
