"""Candidate-site analysis: counts within buffers, full analysis, one site added.

Devices are resampled from the real NCR London snapshot with a few metres of
jitter (:func:`bench.bench_summary.resample`, which also makes four quarters
of per-device usage). Sites are resampled device locations moved by a normal
offset of 250 m, so most lie where devices are densest (the costly case).
The peer on the development machine (DESIGN.md §7): counting 100,000 devices
within 1,000 buffers of 400 m with QGIS's ``native:buffer`` +
``native:countpointsinpolygon``, spatial indexes built, takes 0.05 s + 0.19 s.

Run: ``.venv/bin/python bench/bench_sites.py [n_sites] [n_devices] [seed]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_summary import resample  # noqa: E402
from ev_chargepoints.core.analysis import areas, geometry  # noqa: E402
from ev_chargepoints.core.analysis.siting.analyser import (  # noqa: E402
    IncrementalSiteAnalyser,
    analyse_sites,
)
from ev_chargepoints.core.analysis.siting.catchment import RadiusCatchment  # noqa: E402
from ev_chargepoints.core.analysis.siting.population import PopulationGrid  # noqa: E402
from ev_chargepoints.core.analysis.siting.sites import sites_from_points  # noqa: E402
from ev_chargepoints.core.analysis.siting.suggest import suggest_sites  # noqa: E402
from ev_chargepoints.core.crs import wgs84_to_bng  # noqa: E402

QGIS_BUFFER_COUNT_S = 0.05 + 0.19
SITE_SPREAD_M = 250.0
DISTANCE_M = 400.0


def _timed(func, repeat: int = 1):
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def make_data(n_sites: int = 1000, n_devices: int = 100_000, seed: int = 0):
    """(devices with x/y in EPSG:27700, usage, sites) as :func:`run` uses them."""
    devices, _connectors, usage = resample(n_devices, seed)
    dx, dy = wgs84_to_bng(devices["longitude"].to_numpy(), devices["latitude"].to_numpy())
    devices = devices.assign(x=dx, y=dy)
    rng = np.random.default_rng(seed + 1)
    pick = rng.integers(0, n_devices, n_sites)
    sx = dx[pick] + rng.normal(0, SITE_SPREAD_M, n_sites)
    sy = dy[pick] + rng.normal(0, SITE_SPREAD_M, n_sites)
    return devices, usage, sites_from_points(sx, sy)


def run(n_sites: int = 1000, n_devices: int = 100_000, seed: int = 0) -> dict:
    """Seconds for each step (best of a few where cheap); boundaries load untimed."""
    wards = areas.load_wards(2018)
    grid_s, grid = _timed(lambda: PopulationGrid.from_areas(wards))
    devices, usage, sites = make_data(n_sites, n_devices, seed)
    dx, dy = devices["x"].to_numpy(), devices["y"].to_numpy()
    sx, sy = sites["x"].to_numpy(), sites["y"].to_numpy()

    catchment = RadiusCatchment(DISTANCE_M)
    index_s, index = _timed(lambda: catchment.index(dx, dy), repeat=3)
    query_s, (site, _point, _d) = _timed(lambda: catchment.device_pairs(index, sx, sy),
                                         repeat=3)
    counts = np.bincount(site, minlength=n_sites)
    one_shot_s, reference = _timed(
        lambda: geometry.count_within_radius(dx, dy, sx, sy, DISTANCE_M), repeat=3)
    assert np.array_equal(counts, reference.astype(np.int64))

    full_s, table = _timed(lambda: analyse_sites(
        sites, devices, utilisation=usage, population=grid, distances=(DISTANCE_M,)),
        repeat=2)
    prepare_s, analyser = _timed(lambda: IncrementalSiteAnalyser(
        devices, utilisation=usage, population=grid, distances=(DISTANCE_M,)))
    sites_s, _ = _timed(lambda: analyser.add_sites(sites))

    extra = sites_from_points(dx[:20] + 120.0, dy[:20] - 80.0,
                                     ids=[f"extra-{i}" for i in range(20)])
    add_times, move_times = [], []
    for i in range(len(extra)):
        row = extra.iloc[i]
        start = time.perf_counter()
        analyser.add_site(row["x"], row["y"], site_id=row["site_id"])
        add_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        analyser.move_site(row["site_id"], row["x"] + 300.0, row["y"])
        move_times.append(time.perf_counter() - start)
    suggest_s, picks = _timed(lambda: suggest_sites(sites, devices, grid, k=50))
    return {
        "n_sites": n_sites, "n_devices": n_devices,
        "grid_build_s": grid_s,
        "grid_cells": int(grid.size),
        "device_index_s": index_s,
        "count_query_s": query_s,
        "count_index_plus_query_s": index_s + query_s,
        "count_one_shot_geometry_s": one_shot_s,
        "qgis_buffer_count_s": QGIS_BUFFER_COUNT_S,
        "count_speedup_vs_qgis": QGIS_BUFFER_COUNT_S / (index_s + query_s),
        "mean_devices_within": float(counts.mean()),
        "full_analysis_s": full_s,
        "analyser_prepare_s": prepare_s,
        "analyser_add_sites_s": sites_s,
        "incremental_add_median_s": float(np.median(add_times)),
        "incremental_add_max_s": float(np.max(add_times)),
        "incremental_move_median_s": float(np.median(move_times)),
        "suggest_50_s": suggest_s,
        "suggest_first_gain": float(picks["gain_residents"].iloc[0]) if len(picks) else 0.0,
        "rows": len(table),
    }


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    n_sites = int(argv[0]) if argv else 1000
    n_devices = int(argv[1]) if len(argv) > 1 else 100_000
    seed = int(argv[2]) if len(argv) > 2 else 0
    r = run(n_sites, n_devices, seed)
    print(f"candidate sites: {r['n_sites']:,} sites, {r['n_devices']:,} devices resampled "
          f"from NCR London, {DISTANCE_M:g} m")
    for key in ("grid_build_s", "device_index_s", "count_query_s",
                "count_index_plus_query_s", "count_one_shot_geometry_s", "full_analysis_s",
                "analyser_prepare_s", "analyser_add_sites_s", "incremental_add_median_s",
                "incremental_add_max_s", "incremental_move_median_s", "suggest_50_s"):
        print(f"  {key:30s} {r[key] * 1000:9.1f} ms")
    print(f"  mean devices within {DISTANCE_M:g} m: {r['mean_devices_within']:.0f}")
    print(f"  QGIS buffer + countpointsinpolygon (reference) {r['qgis_buffer_count_s']:.2f} s "
          f"-> {r['count_speedup_vs_qgis']:.1f}x faster")


if __name__ == "__main__":
    main()
