"""Libraries or hand-written code (issue #23): coordinate transformation and WKB reading.

- ``crs``: WGS84 -> British National Grid of N points by the plugin (:mod:`core.crs`:
  PROJ through pyproj) against PROJ through GDAL's ``osr`` (the fallback for a QGIS
  without pyproj). The hand-written Helmert code this replaced took 0.128 s per 100,000
  points against pyproj's 0.116 s (2026-12-07, quiet): the library is kept.
- ``wkb``: the plugin's one WKB reader (:mod:`core.analysis.wkb`, numpy) against shapely 2
  (``from_wkb`` + ``get_coordinates`` for points, ``to_ragged_array`` for polygons: the
  same flat arrays) on N GeoPackage points and on the bundled London wards. Measured
  2026-12-07: points 0.17 s against shapely's 0.27 s per 100,000 (load 5), wards 37 ms
  against 59 ms quiet and 41 ms against 36 ms at load 5: the same speed within this
  machine's noise, so the numpy reader stays, in one place, and shapely 2 (which Debian
  12's QGIS Python lacks) is a bench-only package.
"""

from __future__ import annotations

import numpy as np


def bench_libraries(p: dict) -> dict:
    from bench.worker import row, timed
    from ev_chargepoints.core import crs, paths
    from ev_chargepoints.core.analysis import wkb
    from ev_chargepoints.core.store import gpkg_file as gpkg

    n = int(p["devices"])
    repeat = max(3, int(p.get("repeat", 3)))
    rng = np.random.default_rng(7)
    lon, lat = -0.51 + rng.random(n) * 0.84, 51.28 + rng.random(n) * 0.42
    rows, details = [], {"transformation": crs.transformation()}

    plugin_s, _, (x, y) = timed(lambda: crs.wgs84_to_bng(lon, lat), repeat)
    transform, name, _ = crs._osr_transformer(crs.WGS84, crs.BNG)
    peer_s, _, (ox, oy) = timed(lambda: transform(lon, lat), repeat)
    gap_mm = float(np.hypot(x - ox, y - oy).max() * 1000)
    rows.append(row(f"WGS84 -> British National Grid ({n:,} points)", plugin_s, peer_s,
                    "PROJ through GDAL osr (the fallback without pyproj)",
                    notes=f"plugin: pyproj, {crs.transformation()}; results within "
                          f"{gap_mm:.3f} mm of the peer's"))

    blobs = [gpkg.strip_header(b) for b in gpkg.gpkg_point_blobs(x, y)]
    _, wards, _ = gpkg.read_layer(paths.LONDON_SNAPSHOT / "london_wards_2018.gpkg")
    try:
        import shapely
    except ImportError:
        shapely = None
    cases = [(f"WKB points -> x, y ({n:,} GeoPackage points)", lambda: wkb.points(blobs),
              (lambda: shapely.get_coordinates(shapely.from_wkb(blobs))) if shapely else None),
             (f"WKB polygons -> flat arrays ({len(wards)} London wards)",
              lambda: wkb.polygons(wards),
              (lambda: shapely.to_ragged_array(shapely.from_wkb(wards))) if shapely else None)]
    for label, plugin, peer in cases:
        plugin_s, _, _ = timed(plugin, repeat)
        peer_s = timed(peer, repeat)[0] if peer else None
        kept = ("shapely not installed" if peer_s is None
                else f"numpy reader {peer_s / plugin_s:.2f}x shapely's speed")
        rows.append(row(label, plugin_s, peer_s,
                        f"shapely {shapely.__version__}" if shapely else "shapely (not installed)",
                        notes=f"plugin: core.analysis.wkb (numpy); {kept}"))
        details[label] = {"plugin_s": plugin_s, "peer_s": peer_s}
    return {"rows": rows, "details": details}
