"""Demand per ward (issue #24): a new scenario over London's 633 wards of 2018, target
< 100 ms, so a changed scenario value redraws the ward layer without a reload.

Timed: :meth:`WardInputs.table_for` (the per-scenario step the dock and the front doors
repeat) and, once, :func:`demand.ward_inputs` (the per-ward inputs: ward profiles read
and 2011 figures carried onto the 2018 wards; the bundled wards themselves are loaded
first, as the device assignment has them already). Connectors now: the bundled NCR
snapshot's, placed in the wards.

Run alone: ``.venv/bin/python bench/bench_demand.py [repeat]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

TARGET_S = 0.100


def connectors_now(wards) -> np.ndarray:
    """Connectors of the bundled NCR snapshot's devices per ward (in ``wards`` order)."""
    from ev_chargepoints.core.analysis import areas
    from ev_chargepoints.core.paths import LONDON_SNAPSHOT
    from ev_chargepoints.core.sources.parsers import parse_file

    parsed = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    devices = parsed.table("devices")
    assignment = areas.assign_devices(devices, wards, None)
    counts = np.nan_to_num(devices["connector_count"].to_numpy("float64"))
    placed = assignment.ward_index >= 0
    return np.bincount(assignment.ward_index[placed], weights=counts[placed],
                       minlength=len(wards))


def bench_demand(p: dict) -> dict:
    from bench.worker import row, timed
    from ev_chargepoints.core.analysis import areas, demand

    repeat = max(5, int(p.get("repeat", 3)) * 5)
    wards = areas.load_wards(2018)
    now = connectors_now(wards)
    inputs_s, _, inputs = timed(lambda: demand.ward_inputs(wards, now), 3)
    rows, details = [], {"wards": len(wards), "connectors_now": int(now.sum())}
    rows.append(row(f"demand inputs ({len(wards)} wards: ward profiles read, 2011 figures "
                    "carried onto 2018 wards)", inputs_s, notes="once per store state"))
    for name, preset in demand.PRESETS.items():
        scenario = preset.adjusted(ev_share=0.3)
        plugin_s, times, table = timed(lambda s=scenario: inputs.table_for(s), repeat)
        rows.append(row(f"demand table, preset '{name}' adjusted ({len(table)} wards)",
                        plugin_s, target=f"< {TARGET_S * 1000:.0f} ms",
                        met=plugin_s < TARGET_S,
                        notes=f"median of {repeat}; max {max(times) * 1000:.1f} ms"))
        details[name] = table.attrs["totals"]
    return {"rows": rows, "details": details}


if __name__ == "__main__":
    import json

    result = bench_demand({"repeat": int(sys.argv[1]) if len(sys.argv) > 1 else 3})
    for r in result["rows"]:
        print(f"{r['plugin_s'] * 1000:8.2f} ms  {r['benchmark']}  {r['notes']}")
    print(json.dumps(result["details"], indent=1))
