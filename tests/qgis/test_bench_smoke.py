"""The benchmark suite still runs end to end (tiny size; no timing is asserted)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ROW_KEYS = {"benchmark", "plugin_s", "peer_s", "peer", "ratio", "target", "met", "peak_mb",
            "notes"}


def test_bench_quick_summary_runs_and_reports(tmp_path):
    docs = tmp_path / "performance.md"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--only", "summary", "--devices", "2000",
         "--out", str(tmp_path), "--docs", str(docs)],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))
    assert proc.returncode == 0, proc.stdout + proc.stderr

    report = json.loads((tmp_path / "latest.json").read_text())
    assert {"generated_utc", "mode", "params", "machine", "versions", "load_average",
            "rows", "scaling", "table", "benchmarks", "wall_s"} <= set(report)
    assert report["mode"] == "quick" and report["only"] == ["summary"]
    assert report["params"]["devices"] == 2000
    assert report["benchmarks"]["summary"]["ok"], report["benchmarks"]["summary"]
    rows = report["rows"]
    assert len(rows) == 2
    for row in rows:
        assert ROW_KEYS <= set(row)
        assert row["plugin_s"] > 0
        assert row["met"] in (True, False)
    area = rows[0]
    assert area["peer_s"] > 0 and area["ratio"] > 0
    details = report["benchmarks"]["summary"]["details"]
    # plugin and QGIS count the same devices in wards (same data, same run)
    assert details["plugin_ward_devices"] == details["qgis_ward_devices"] > 0

    header = "| benchmark | plugin (median) | peer | peer (median) |"
    assert header in proc.stdout
    assert "area summary: assignment + first summary (2,000 devices" in proc.stdout
    page = docs.read_text()
    assert "## Machine" in page and header in page
