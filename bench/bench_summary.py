"""Borough/ward summaries: assignment + first summary + re-summary, timed.

Devices are resampled (with replacement) from the real NCR London snapshot and
jittered by a few metres, so their spatial distribution is London's. The peer
on the development machine (DESIGN.md §7, 100,000 devices, 633 wards of 2018,
spatial indexes built): ``native:countpointsinpolygon`` 0.93 s plus
``qgis:joinbylocationsummary`` 2.2 s.

Run alone: ``python -m bench.bench_summary [n_devices] [seed]``.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from ev_chargepoints.core.analysis import areas, summary
from ev_chargepoints.core.crs import bng_to_wgs84, wgs84_to_bng
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file

QGIS_REFERENCE_S = {"native:countpointsinpolygon": 0.93, "qgis:joinbylocationsummary": 2.2}
JITTER_M = 3.0


def resample(n_devices: int, seed: int = 0, quarters: int = 4):
    """(devices, connectors, utilisation) for ``n_devices`` resampled devices.

    Utilisation is random, hand-built per device and quarter (the summary only
    sums it); about 20 % of devices have no record in a given quarter.
    """
    parsed = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    real, real_conn = parsed.table("devices"), parsed.table("connectors")
    rng = np.random.default_rng(seed)
    pick = rng.integers(0, len(real), n_devices)
    devices = real.iloc[pick].reset_index(drop=True)
    x, y = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    lon, lat = bng_to_wgs84(x + rng.normal(0, JITTER_M, n_devices),
                            y + rng.normal(0, JITTER_M, n_devices))
    new_ids = np.array([f"bench-{i:07d}" for i in range(n_devices)], dtype=object)
    old_ids = devices["device_id"].to_numpy(object)
    devices = devices.assign(device_id=new_ids, longitude=lon, latitude=lat)

    per_device = real_conn.groupby("device_id").indices
    take = [per_device.get(d, np.empty(0, dtype=np.int64)) for d in old_ids]
    counts = np.array([len(t) for t in take])
    connectors = real_conn.iloc[np.concatenate(take)].reset_index(drop=True)
    connectors["device_id"] = np.repeat(new_ids, counts)

    frames = []
    for q in range(quarters):
        has = rng.random(n_devices) > 0.2
        n = int(has.sum())
        available = 2184.0 * np.maximum(devices["connector_count"].to_numpy()[has], 1)
        plugged = available * rng.beta(1.2, 10, n)
        frames.append(pd.DataFrame({
            "device_id": new_ids[has], "period": f"2022-Q{q + 1}",
            "period_index": 8088 + q,
            "sessions": rng.poisson(plugged / 3),
            "kwh": plugged * rng.uniform(2, 7, n),
            "plugged_hours": plugged, "available_hours": available,
            "capacity_kwh": available * devices["max_power_kw"].fillna(7).to_numpy()[has],
        }))
    return devices, connectors, pd.concat(frames, ignore_index=True)


def _timed(func, repeat: int = 1):
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def run(n_devices: int = 100_000, seed: int = 0) -> dict:
    """Seconds for each step; boundaries are loaded (and cached) before timing.

    ``first_summary_s`` (devices and connectors by ward) is the figure to set
    beside QGIS's count + join-by-location summary; ``first_summary_with_usage_s``
    also prepares four quarters of per-device utilisation; the re-summaries
    change filters, period and level on the prepared state (best of five).
    """
    load_s, (wards, boroughs) = _timed(lambda: (areas.load_wards(2018), areas.load_boroughs()))
    devices, connectors, usage = resample(n_devices, seed)

    assign_s, assignment = _timed(lambda: areas.assign_devices(devices, wards, boroughs))
    first_s, first = _timed(lambda: summary.summarise(
        assignment, devices, connectors, level="ward"))
    usage_s, _ = _timed(lambda: summary.summarise(
        assignment, devices, connectors, usage, level="ward"))
    refilter_s, _ = _timed(lambda: summary.summarise(
        assignment, devices, connectors, usage, level="ward",
        filters={"power_class": ["rapid", "ultra"], "location_type": "On-street"}), repeat=5)
    reperiod_s, _ = _timed(lambda: summary.summarise(
        assignment, devices, connectors, usage, level="borough", period="2022-Q2"), repeat=5)
    peer = sum(QGIS_REFERENCE_S.values())
    results = {
        "n_devices": n_devices,
        "load_boundaries_s": load_s,
        "assignment_s": assign_s,
        "first_summary_s": first_s,
        "assignment_plus_first_summary_s": assign_s + first_s,
        "first_summary_with_usage_s": usage_s,
        "resummary_filter_s": refilter_s,
        "resummary_period_level_s": reperiod_s,
        "qgis_reference_s": peer,
        "speedup_vs_qgis": peer / (assign_s + first_s),
        "devices_in_wards": int(first["devices"].sum()),
        "report": assignment.report.as_dict(),
    }
    return results


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n = int(argv[0]) if argv else 100_000
    seed = int(argv[1]) if len(argv) > 1 else 0
    r = run(n, seed)
    print(f"borough/ward summary, {r['n_devices']:,} devices resampled from NCR London")
    for key in ("load_boundaries_s", "assignment_s", "first_summary_s",
                "assignment_plus_first_summary_s", "first_summary_with_usage_s",
                "resummary_filter_s",
                "resummary_period_level_s"):
        print(f"  {key:34s} {r[key] * 1000:9.1f} ms")
    print(f"  QGIS countpointsinpolygon + joinbylocationsummary (reference) "
          f"{r['qgis_reference_s']:.2f} s -> {r['speedup_vs_qgis']:.0f}x faster")


if __name__ == "__main__":
    main()
