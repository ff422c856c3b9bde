"""The command line shows its progress while it works: plain lines on stderr when stderr is
a file or a pipe, a bar on a terminal, and nothing else there (no library warnings).

The store is a real one, made by the CLI's own ``import`` of a bundled Dundee file."""

from __future__ import annotations

import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
from fcntl import ioctl
from pathlib import Path

import pytest
from borough_data import PYTHON, ROOT, cli, ok

DUNDEE = ROOT / "resources" / "data" / "dundee" / "cp-data-mar-may-2018.csv.gz"
PLAIN_LINE = re.compile(r"^\S.* \.\.\. \d{1,3}%( \(still working after [\dms ]+\))?$")


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    store = tmp_path_factory.mktemp("progress") / "dundee.gpkg"
    ok(cli("import", DUNDEE, "--store", store))
    return store


def test_utilisation_prints_a_line_per_step_and_no_warning(store, tmp_path):
    done = ok(cli("utilisation", "--store", store, "--out", tmp_path / "u.csv"))
    lines = done.stderr.splitlines()
    assert lines and [line for line in lines if not PLAIN_LINE.match(line)] == [], done.stderr
    # the first step always shows; a step that starts and ends within a second of the
    # previous line may be passed over (the throttle), so the middle ones vary with speed
    assert lines[0] == "Reading sessions ... 5%", done.stderr
    assert lines[-1].endswith("... 100%")
    percents = [int(re.search(r"(\d+)%", line).group(1)) for line in lines]
    assert percents == sorted(percents)
    assert re.match(r"^[\d,]+ rows \(", done.stdout)


def test_quiet_and_verbose_print_no_progress_lines(store, tmp_path):
    quiet = ok(cli("-q", "utilisation", "--store", store, "--out", tmp_path / "q.csv"))
    assert quiet.stderr == ""
    verbose = ok(cli("-v", "utilisation", "--store", store, "--out", tmp_path / "v.csv"))
    assert not [line for line in verbose.stderr.splitlines() if PLAIN_LINE.match(line)]
    assert "] Computing utilisation per device and quarter" in verbose.stderr


def test_a_terminal_gets_a_bar_cleared_before_the_result(store, tmp_path):
    """stdout and stderr on one terminal (80 columns), as in a shell."""
    main, secondary = pty.openpty()
    ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    python = str(PYTHON) if PYTHON.exists() else sys.executable
    process = subprocess.Popen(
        [python, "-m", "ev_chargepoints", "utilisation", "--store", str(store), "--out",
         str(tmp_path / "t.csv")], cwd=ROOT, stdin=subprocess.DEVNULL, stdout=secondary,
        stderr=secondary, env={**os.environ, "TERM": "xterm"})
    os.close(secondary)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 600)
        if not ready:
            process.kill()
            break
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the terminal's other end closed: the command has ended
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(main)
    assert process.wait(timeout=60) == 0
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert "Traceback" not in screen and "arning" not in screen, screen
    assert re.search(r"\rComputing utilisation per device and quarter +\d+%\|", screen), screen
    # the result's line: the bar, then the bar wiped, then the result from the line's start
    *drawn, wiped, result = screen.replace("\r\n", "\n").rstrip("\n").split("\n")[-1] \
        .split("\r")
    assert re.match(r"^[\d,]+ rows \(", result) and wiped.strip() == "", repr(screen[-400:])
    assert not [line for line in screen.replace("\r\n", "\n").split("\n")
                if PLAIN_LINE.match(line.split("\r")[-1])]
