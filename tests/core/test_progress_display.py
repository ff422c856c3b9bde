"""cli/progress.py: plain progress lines are throttled, a long step gets a heartbeat, a
bar is drawn and cleared, and without tqdm a terminal gets the plain lines."""

from __future__ import annotations

import io
import sys
import time

from ev_chargepoints.cli import progress
from ev_chargepoints.cli.common import command_progress
from ev_chargepoints.core.progress import Progress


def test_many_quick_reports_give_one_line_and_the_last(monkeypatch):
    out = io.StringIO()
    display = progress.Display(out)
    job = Progress(on_progress=display.update)
    for i in range(200):  # far quicker than one a second
        job.report(i / 2, f"Importing file {i}")
    job.report(100, "Import finished")
    display.close()
    assert out.getvalue().splitlines() == ["Importing file 0 ... 0%", "Import finished ... 100%"]


def test_a_held_back_step_is_written_by_the_tick_and_a_long_step_gets_a_heartbeat(
        monkeypatch):
    monkeypatch.setattr(progress, "TICK", 0.05)
    monkeypatch.setattr(progress, "MIN_INTERVAL", 0.2)
    monkeypatch.setattr(progress, "HEARTBEAT", 0.6)
    out = io.StringIO()
    display = progress.Display(out)
    display.update(5, "Reading sessions")
    display.update(10, "Computing utilisation per device and quarter")  # held back
    time.sleep(1.2)
    display.close()
    lines = out.getvalue().splitlines()
    assert lines[:2] == ["Reading sessions ... 5%",
                         "Computing utilisation per device and quarter ... 10%"]
    assert lines[2].startswith("Computing utilisation per device and quarter ... 10% "
                               "(still working after "), lines
    written = len(lines)
    time.sleep(0.3)
    assert len(out.getvalue().splitlines()) == written  # closed: the tick has stopped


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_is_cleared_when_the_command_ends():
    terminal = _Terminal()
    with progress.shown(stream=terminal):
        job = command_progress(None)
        job.report(40, "Computing utilisation per device and quarter")
    screen = terminal.getvalue()
    assert "\rComputing utilisation per device and quarter  40%|" in screen
    assert screen.endswith("\r")  # wiped: the line is blank for what comes next
    assert progress.on_progress() is None
    assert command_progress(None).report(50, "no display now") is None


def test_without_tqdm_a_terminal_gets_plain_lines(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # `import tqdm` fails, as when missing
    terminal = _Terminal()
    with progress.shown(stream=terminal):
        command_progress(None).report(40, "Exporting Camden")
    assert terminal.getvalue() == "Exporting Camden ... 40%\n"


def test_disabled_shows_nothing():
    out = io.StringIO()
    with progress.shown(enabled=False, stream=out):
        command_progress(None).report(40, "Exporting Camden")
    assert out.getvalue() == ""
