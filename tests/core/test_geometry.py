"""WKB parsing, areas and point-in-polygon (checked against a brute-force test)."""

import math
import struct

import numpy as np
import pytest

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis import geometry
from ev_chargepoints.core.paths import LONDON_SNAPSHOT

# --- WKB builders (written here, independent of the parser) ------------------


def _ring(coords, endian="<", dims=2):
    out = struct.pack(endian + "I", len(coords))
    for c in coords:
        values = list(c) + [7.0] * (dims - 2)
        out += struct.pack(endian + "d" * dims, *values)
    return out


def _polygon(rings, endian="<", type_code=3, dims=2, srid=None):
    order = b"\x01" if endian == "<" else b"\x00"
    code = type_code | (0x20000000 if srid is not None else 0)
    out = order + struct.pack(endian + "I", code)
    if srid is not None:
        out += struct.pack(endian + "I", srid)
    out += struct.pack(endian + "I", len(rings))
    for ring in rings:
        out += _ring(ring, endian, dims)
    return out


def _multipolygon(polygons, endian="<", member_endian="<"):
    order = b"\x01" if endian == "<" else b"\x00"
    out = order + struct.pack(endian + "I", 6) + struct.pack(endian + "I", len(polygons))
    for rings in polygons:
        out += _polygon(rings, member_endian)
    return out


SQUARE = [(0, 0), (10, 0), (10, 10), (0, 10), (0, 0)]
HOLE = [(4, 4), (4, 6), (6, 6), (6, 4), (4, 4)]
FAR = [(20, 0), (23, 0), (23, 3), (20, 3)]  # deliberately left open


def test_polygon_with_hole_little_endian():
    polys = geometry.parse_wkb_polygons([_polygon([SQUARE, HOLE])])
    assert len(polys) == 1 and polys.n_parts == 1 and polys.n_rings == 2
    assert polys.ring_offsets.tolist() == [0, 5, 10]
    assert polys.ring_is_exterior().tolist() == [True, False]
    assert geometry.polygon_areas(polys).tolist() == [96.0]
    assert polys.bounds().tolist() == [[0.0, 0.0, 10.0, 10.0]]


def test_multipolygon_big_endian_open_ring_closed_and_members_mixed_order():
    wkb = _multipolygon([[SQUARE, HOLE], [FAR]], endian=">", member_endian="<")
    polys = geometry.parse_wkb_polygons([wkb])
    assert len(polys) == 1 and polys.n_parts == 2 and polys.n_rings == 3
    # the open ring gets its closing vertex
    assert polys.ring_offsets.tolist() == [0, 5, 10, 15]
    assert (polys.x[14], polys.y[14]) == (20.0, 0.0)
    assert geometry.polygon_areas(polys).tolist() == [105.0]


def test_iso_z_and_ewkb_srid_variants():
    iso_z = _polygon([SQUARE], type_code=1003, dims=3)
    ewkb_srid = _polygon([SQUARE], srid=27700, endian=">")
    ewkb_zm = _polygon([SQUARE], type_code=3 | 0x80000000 | 0x40000000, dims=4)
    polys = geometry.parse_wkb_polygons([iso_z, None, ewkb_srid, ewkb_zm])
    assert len(polys) == 4
    assert geometry.polygon_areas(polys).tolist() == [100.0, 0.0, 100.0, 100.0]
    assert polys.x[:5].tolist() == [0.0, 10.0, 10.0, 0.0, 0.0]
    assert np.isnan(polys.bounds()[1]).all()


def test_non_polygon_and_truncated_wkb_are_refused():
    point = b"\x01" + struct.pack("<I", 1) + struct.pack("<dd", 1.0, 2.0)
    with pytest.raises(errors.ParseError, match="feature 1"):
        geometry.parse_wkb_polygons([point])
    with pytest.raises(errors.ParseError, match="feature 2"):
        geometry.parse_wkb_polygons([_polygon([SQUARE]), _polygon([SQUARE])[:30]])


def test_read_bundled_borough_layer():
    attributes, polys, crs = geometry.read_polygon_layer(
        LONDON_SNAPSHOT / "london_boroughs.gpkg")
    assert crs == "EPSG:27700"
    assert len(polys) == 33 == len(attributes)
    assert sorted(attributes["GSS_CODE"]) == [f"E090000{i:02d}" for i in range(1, 34)]
    # data README: total area 1,573.4 km², extent 503568.2,155850.8 - 561957.5,200933.9
    assert geometry.polygon_areas(polys).sum() / 1e6 == pytest.approx(1573.4, abs=0.05)
    b = polys.bounds()
    assert (b[:, 0].min(), b[:, 1].min()) == pytest.approx((503568.2, 155850.8), abs=0.1)
    assert (b[:, 2].max(), b[:, 3].max()) == pytest.approx((561957.5, 200933.9), abs=0.1)


# --- point in polygon: brute force reference ----------------------------------

def _brute_force_inside(px, py, rings):
    """Even-odd ray casting in plain Python over every ring."""
    inside = False
    for ring in rings:
        for (xa, ya), (xb, yb) in zip(ring, ring[1:] + ring[:1]):
            if (ya > py) != (yb > py):
                if px < xa + (py - ya) * (xb - xa) / (yb - ya):
                    inside = not inside
    return inside


def _star(cx, cy, radius, n, rng):
    angles = np.sort(rng.uniform(0, 2 * math.pi, n))
    radii = rng.uniform(0.3, 1.0, n) * radius
    return [(cx + r * math.cos(a), cy + r * math.sin(a)) for a, r in zip(angles, radii)]


def _random_layer(rng):
    """Star-shaped polygons in separate 10x10 cells: some with holes, some multi."""
    features = []
    for i in range(6):
        for j in range(6):
            cx, cy = i * 10 + 5, j * 10 + 5
            outer = _star(cx, cy, 4.8, int(rng.integers(5, 40)), rng)
            rings = [outer]
            if (i + j) % 3 == 0:
                rings.append([(cx - 0.5, cy - 0.5), (cx + 0.5, cy - 0.5),
                              (cx + 0.5, cy + 0.5), (cx - 0.5, cy + 0.5)])
            features.append([rings])
    # fuse pairs of neighbours into multipolygons
    merged = [features[k] + features[k + 1] for k in range(0, 12, 2)] + features[12:]
    return merged


def test_locate_points_matches_brute_force_on_random_polygons():
    rng = np.random.default_rng(42)
    layer = _random_layer(rng)
    wkbs = [_multipolygon([[ring + ring[:1] for ring in rings] for rings in feature])
            for feature in layer]
    polys = geometry.parse_wkb_polygons(wkbs)
    px = rng.uniform(-5, 65, 4000)
    py = rng.uniform(-5, 65, 4000)
    found = geometry.locate_points(polys, px, py)
    expected = np.full(len(px), -1)
    for k, feature in enumerate(layer):
        rings = [ring for part in feature for ring in part]
        xs = [x for ring in rings for x, _ in ring]
        ys = [y for ring in rings for _, y in ring]
        near = (px >= min(xs)) & (px <= max(xs)) & (py >= min(ys)) & (py <= max(ys))
        for i in np.flatnonzero(near):
            if _brute_force_inside(px[i], py[i], rings):
                assert expected[i] == -1
                expected[i] = k
    assert (expected >= 0).sum() > 500 and (expected < 0).sum() > 500
    assert np.array_equal(found.index, expected)
    assert found.hits.max() == 1 and found.n_overlap == 0
    # points covering only part of the layer (polygons then reach beyond them)
    for part in (py < 17, px > 41, (py > 30) & (py < 33)):
        subset = geometry.locate_points(polys, px[part], py[part])
        assert np.array_equal(subset.index, expected[part])


def _jittered_triangulation(rng, n=8):
    """A gap-free tessellation: a jittered grid, each cell cut into two triangles."""
    gx = np.arange(n + 1, dtype=float)[:, None] + rng.uniform(-0.3, 0.3, (n + 1, n + 1))
    gy = np.arange(n + 1, dtype=float)[None, :] + rng.uniform(-0.3, 0.3, (n + 1, n + 1))
    gx[0, :], gx[n, :] = 0.0, float(n)
    gy[:, 0], gy[:, n] = 0.0, float(n)
    triangles = []
    for i in range(n):
        for j in range(n):
            a, b = (gx[i, j], gy[i, j]), (gx[i + 1, j], gy[i + 1, j])
            c, d = (gx[i + 1, j + 1], gy[i + 1, j + 1]), (gx[i, j + 1], gy[i, j + 1])
            if rng.random() < 0.5:
                triangles += [[a, b, c, a], [a, c, d, a]]
            else:
                triangles += [[a, b, d, a], [b, c, d, b]]
    return triangles, gx, gy


def test_points_on_shared_vertices_and_edges_go_to_exactly_one_polygon():
    rng = np.random.default_rng(7)
    triangles, gx, gy = _jittered_triangulation(rng)
    polys = geometry.parse_wkb_polygons([_polygon([t]) for t in triangles])
    interior = (slice(1, -1), slice(1, -1))
    vx, vy = gx[interior].ravel(), gy[interior].ravel()
    # points exactly on axis-parallel shared edges: cut the grid into squares
    squares = []
    for i in range(4):
        for j in range(4):
            squares.append([(i, j), (i + 1, j), (i + 1, j + 1), (i, j + 1), (i, j)])
    grid = geometry.parse_wkb_polygons([_polygon([s]) for s in squares])

    on_vertices = geometry.locate_points(polys, vx, vy)
    assert (on_vertices.index >= 0).all()
    assert (on_vertices.hits == 1).all()
    assert on_vertices.on_boundary.all()

    ex = np.array([1.0, 2.0, 3.0, 1.5, 2.5, 2.0, 1.0, 3.0])
    ey = np.array([0.5, 1.5, 2.5, 1.0, 3.0, 2.0, 2.0, 1.0])
    on_edges = geometry.locate_points(grid, ex, ey)
    assert (on_edges.hits == 1).all() and on_edges.on_boundary.all()
    # the square to the east of a vertical edge, to the north of a horizontal one
    col = np.floor(ex).astype(int)
    row = np.floor(ey).astype(int)
    assert on_edges.index.tolist() == (col * 4 + row).tolist()


def test_random_points_in_a_tessellation_are_each_counted_once():
    rng = np.random.default_rng(3)
    triangles, _gx, _gy = _jittered_triangulation(rng, n=12)
    polys = geometry.parse_wkb_polygons([_polygon([t]) for t in triangles])
    px = rng.uniform(0.001, 11.999, 20000)
    py = rng.uniform(0.001, 11.999, 20000)
    # snap a quarter of them onto the vertices and edge midpoints of the triangles
    vertices = np.array([v for t in triangles for v in t[:3]])
    pick = rng.integers(0, len(vertices), 5000)
    px[:5000], py[:5000] = vertices[pick, 0], vertices[pick, 1]
    inner = (px > 0) & (px < 12) & (py > 0) & (py < 12)
    found = geometry.locate_points(polys, px[inner], py[inner])
    assert (found.hits == 1).all()
    assert found.n_on_boundary >= 1000


def test_overlapping_polygons_first_wins_and_is_reported():
    a = [(0, 0), (4, 0), (4, 4), (0, 4), (0, 0)]
    b = [(2, 2), (6, 2), (6, 6), (2, 6), (2, 2)]
    polys = geometry.parse_wkb_polygons([_polygon([b]), _polygon([a])])
    found = geometry.locate_points(polys, [3.0, 1.0, 5.0, 9.0, np.nan], [3.0, 1.0, 5.0, 9.0, 1])
    assert found.index.tolist() == [0, 1, 0, -1, -1]
    assert found.hits.tolist() == [2, 1, 1, 0, 0]
    assert found.n_overlap == 1 and found.n_inside == 3


def test_points_in_holes_are_outside():
    polys = geometry.parse_wkb_polygons([_polygon([SQUARE, HOLE])])
    found = geometry.locate_points(polys, [5.0, 1.0, 4.0], [5.0, 1.0, 5.0])
    assert found.index.tolist() == [-1, 0, -1]  # (4, 5) is on the hole's west edge
    assert found.on_boundary.tolist() == [False, False, True]


def test_segment_distances():
    d = geometry.segment_distances(0.0, 1.0, np.array([-1.0, 2.0]), np.array([0.0, 0.0]),
                                   np.array([1.0, 3.0]), np.array([0.0, 0.0]))
    assert d.tolist() == pytest.approx([1.0, math.sqrt(5)])


def test_circle_overlap_areas():
    left = [(0, 0), (100, 0), (100, 200), (0, 200), (0, 0)]
    right = [(100, 0), (200, 0), (200, 200), (100, 200), (100, 0)]
    polys = geometry.parse_wkb_polygons([_polygon([left]), _polygon([right])])
    areas = geometry.circle_overlap_areas(polys, [50.0, 100.0], [100.0, 100.0], 30.0)
    full = math.pi * 30 ** 2
    assert areas[0].tolist() == pytest.approx([full, 0.0])
    assert areas[1].tolist() == pytest.approx([full / 2, full / 2], rel=0.02)


def test_tall_polygons_do_not_leak_into_their_neighbours_candidates():
    # polygon 0 reaches far above every point; polygon 1 holds the only point
    tall = [(5, 0), (7, 0), (7, 1.2), (6, 1.2), (6, 10), (5, 10), (5, 0)]
    small = [(2, 0), (3, 0), (3, 1), (2, 1), (2, 0)]
    polys = geometry.parse_wkb_polygons([_polygon([tall]), _polygon([small])])
    assert geometry.locate_points(polys, [2.5], [0.5]).index.tolist() == [1]
    assert geometry.locate_points(polys, [2.5, 5.5], [0.5, 0.2]).index.tolist() == [1, 0]


def test_points_within_radius_match_brute_force():
    rng = np.random.default_rng(11)
    px, py = rng.uniform(0, 5000, 20000), rng.uniform(0, 3000, 20000)
    px[:3], py[:3] = 1400.0, 1000.0 + np.array([0.0, 400.0, 400.5])  # centre, on, just out
    cx, cy = rng.uniform(-200, 5200, 300), rng.uniform(-200, 3200, 300)
    cx[0], cy[0] = 1400.0, 1000.0
    counts = geometry.count_within_radius(px, py, cx, cy, 400.0)
    d2 = (px[None, :] - cx[:, None]) ** 2 + (py[None, :] - cy[:, None]) ** 2
    assert counts.tolist() == (d2 <= 400.0 ** 2).sum(axis=1).tolist()
    circle, point = geometry.points_within_radius(px, py, cx, cy, 400.0)
    assert {0, 1}.issubset(set(point[circle == 0])) and 2 not in set(point[circle == 0])
    weighted = geometry.count_within_radius(px, py, cx, cy, 400.0, weights=np.full(20000, 2.0))
    assert np.array_equal(weighted, counts * 2.0)
