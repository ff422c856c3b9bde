"""The headless entry point answers --help and --version from the start."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "ev_chargepoints", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_help_lists_usage():
    result = run_cli("--help")
    assert result.returncode == 0, result.stderr
    assert "usage: python -m ev_chargepoints" in result.stdout


def test_version_matches_metadata():
    version = next(line.split("=", 1)[1] for line in
                   (ROOT / "metadata.txt").read_text().splitlines() if line.startswith("version="))
    result = run_cli("--version")
    assert result.returncode == 0
    assert result.stdout.strip().endswith(version)


def test_unknown_command_is_a_usage_error_without_traceback():
    result = run_cli("no-such-command")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "invalid choice" in result.stderr


def test_verbose_prints_each_progress_message_once(tmp_path):
    """-v: each progress report is one stderr line with the job's percentage (a step of
    a step used to log its message again at every level, and print it once more)."""
    import re

    from ev_chargepoints.core.paths import LONDON_SNAPSHOT, RESOURCES
    from ev_chargepoints.core.sources.intake import NCR_SNAPSHOT

    store = tmp_path / "store.gpkg"
    imported = run_cli("-v", "import", "--store", str(store),
                       str(LONDON_SNAPSHOT / NCR_SNAPSHOT),
                       str(RESOURCES / "data" / "dundee" / "cp-data-mar-may-2018.csv.gz"))
    assert imported.returncode == 0, imported.stderr
    summary = run_cli("-v", "summary", "--store", str(store), "--level", "borough",
                      "--out", str(tmp_path / "boroughs.csv"))
    assert summary.returncode == 0, summary.stderr
    for result in (imported, summary):
        said = [re.sub(r"^(\[\s*[\d.]+%\]|INFO) ", "", line)
                for line in result.stderr.splitlines()]
        repeated = [a for a, b in zip(said, said[1:]) if a == b]
        assert repeated == [], result.stderr
        assert not [line for line in result.stderr.splitlines() if line.startswith("INFO ")]
    # the utilisation inside the summary is its step from 10 % to 90 %: its messages
    # are printed once, at the summary's percentage
    reading = [line for line in summary.stderr.splitlines() if line.endswith("Reading sessions")]
    assert len(reading) == 1, summary.stderr
    percent = float(re.match(r"\[\s*([\d.]+)%\]", reading[0]).group(1))
    assert 10.0 <= percent <= 90.0
