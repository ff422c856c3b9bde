"""Walking catchments (issue #24): 100 sites on a 20,000-edge street network < 1 s; one
interactive site < 50 ms once the network is built.

The network: a 100 × 100 street grid 40 m apart (19,800 edges, 4 km square around
Covent Garden), every junction moved by up to 8 m, so edges have many lengths and
directions. 2,000 devices and the sites are spread uniformly over it; residents come
from the London population grid (100 m cells). Timed per call: devices within 400 m on
foot (snap, Dijkstra, legs) and residents reached (grid cells within 50 m of a reached
street, the walk limit included): the work walking adds to the site analysis.
Also timed, once: building the network from arrays, reading and building the bundled
OpenStreetMap layer, and drawing 100 catchment polygons.

Run alone: ``.venv/bin/python bench/bench_walking.py [repeat]``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ROOT = Path(__file__).resolve().parents[1]
OSM = ROOT / "tests" / "data" / "networks" / "central_london_highways_osm.gpkg"
TARGET_100_S = 1.0
TARGET_ONE_S = 0.050
WALK_M = 400.0


def grid_network(n: int = 100, spacing: float = 40.0, seed: int = 0):
    """(x, y, line offsets) of an n × n street grid with jittered junctions."""
    rng = np.random.default_rng(seed)
    x0, y0 = 528_000.0, 179_000.0
    jx = x0 + np.arange(n)[None, :] * spacing + rng.uniform(-8, 8, (n, n))
    jy = y0 + np.arange(n)[:, None] * spacing + rng.uniform(-8, 8, (n, n))
    xs = np.r_[jx.ravel(), jx.T.ravel()]   # rows, then columns, as lines of n vertices
    ys = np.r_[jy.ravel(), jy.T.ravel()]
    return xs, ys, np.arange(0, 2 * n * n + 1, n)


def bench_walking(p: dict) -> dict:
    from bench.worker import row, timed
    from ev_chargepoints.core.analysis import areas
    from ev_chargepoints.core.analysis.siting.network import StreetNetwork, read_network
    from ev_chargepoints.core.analysis.siting.population import PopulationGrid
    from ev_chargepoints.core.analysis.siting.walking import WalkingCatchment

    repeat = max(3, int(p.get("repeat", 3)))
    x, y, offsets = grid_network()
    build_s, _, network = timed(lambda: StreetNetwork(x, y, offsets, name="grid"), 3)
    osm_s, _, osm = timed(lambda: read_network(OSM), 1)
    population = PopulationGrid.from_areas(areas.load_wards(2018))
    rng = np.random.default_rng(1)
    lo_x, hi_x = network.node_x.min(), network.node_x.max()
    lo_y, hi_y = network.node_y.min(), network.node_y.max()
    dx, dy = rng.uniform(lo_x, hi_x, 2000), rng.uniform(lo_y, hi_y, 2000)
    sx, sy = rng.uniform(lo_x, hi_x, 100), rng.uniform(lo_y, hi_y, 100)
    walk = WalkingCatchment(network, WALK_M)
    index_s, _, index = timed(lambda: walk.index(dx, dy), repeat)

    def figures(i=slice(None)):
        site, _, _ = walk.device_pairs(index, sx[i], sy[i])
        cell_site, _ = walk.cell_pairs(population, sx[i], sy[i])
        return np.bincount(site, minlength=len(sx[i])), np.bincount(cell_site)

    many_s, many_all, (counts, cells) = timed(figures, repeat)
    one_times = []
    for i in range(20):
        start = time.perf_counter()
        figures(slice(i, i + 1))
        one_times.append(time.perf_counter() - start)
    one_s = float(np.median(one_times))
    polygons_s, _, shapes = timed(lambda: walk.polygons(sx, sy), 1)
    rows = [
        row(f"walking catchments: {len(sx)} sites on a {network.n_edges:,}-edge network "
            f"({WALK_M:g} m; devices and residents)", many_s,
            target=f"< {TARGET_100_S:g} s", met=many_s < TARGET_100_S,
            notes=f"median of {repeat}; mean devices within {counts.mean():.1f} of "
                  f"{len(dx):,}; mean grid cells {cells.mean():.1f}"),
        row("walking catchments: one interactive site", one_s,
            target=f"< {TARGET_ONE_S * 1000:.0f} ms", met=one_s < TARGET_ONE_S,
            notes=f"median of 20 (max {max(one_times) * 1000:.1f} ms)"),
        row(f"walking: build the {network.n_edges:,}-edge network from arrays", build_s,
            notes=f"{network.n_nodes:,} nodes; once per layer"),
        row(f"walking: read and build the bundled OSM layer ({osm.n_edges:,} edges)", osm_s,
            notes="GeoPackage read, EPSG:4326 → 27700, snapped; once per layer"),
        row(f"walking: snap {len(dx):,} devices", index_s, notes="once per analyser"),
        row(f"walking: draw {len(sx)} catchment polygons (10 m lattice)", polygons_s,
            notes="for the output layer only"),
    ]
    details = {"edges": network.n_edges, "nodes": network.n_nodes, "one_all_s": one_times,
               "many_all_s": many_all,
               "mean_polygon_area_m2": float(np.mean([a for _, a in shapes]))}
    return {"rows": rows, "details": details}


if __name__ == "__main__":
    import json

    result = bench_walking({"repeat": int(sys.argv[1]) if len(sys.argv) > 1 else 3})
    for r in result["rows"]:
        print(f"{r['plugin_s'] * 1000:9.2f} ms  {r['benchmark']}  {r['notes']}")
    print(json.dumps({k: v for k, v in result["details"].items() if "all" not in k}))
