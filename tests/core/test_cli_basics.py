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
