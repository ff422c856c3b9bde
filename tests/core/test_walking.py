"""Walking catchments on a street network (issue #24).

A hand-made network (a river with one bridge: two banks' street grids joined by one
bridge edge) gives the exact expected reachable set and counts, worked out by hand
below; the bundled OpenStreetMap network (tests/data/networks, © OpenStreetMap
contributors, ODbL) checks that walking counts never exceed the straight-line ones.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio.raw
import pytest

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis.geometry import multipolygon_wkb, parse_wkb_polygons
from ev_chargepoints.core.analysis.siting.analyser import analyse_sites
from ev_chargepoints.core.analysis.siting.network import StreetNetwork, read_network, walk_metres
from ev_chargepoints.core.analysis.siting.population import PopulationGrid
from ev_chargepoints.core.analysis.siting.walking import WalkingCatchment, outline
from ev_chargepoints.core.analysis.wkb import lines
from ev_chargepoints.core.crs import wgs84_to_bng
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file

OSM = Path(__file__).resolve().parents[1] / "data" / "networks" / \
    "central_london_highways_osm.gpkg"
X0, Y0 = 530_000.0, 180_000.0  # the hand-made town's origin (EPSG:27700)

# South bank: streets y = 0 and y = -200, x = 0, 200, 400, 600 between them.
# North bank (across a river 300 m wide): y = 300 and y = 500, the same four x.
# One bridge: x = 600 from y = 0 to y = 300. Lines carry a vertex at every junction
# (as OpenStreetMap ways do) and some extra vertices.
STREETS = [
    [(0, 0), (100, 0), (200, 0), (400, 0), (600, 0)],
    [(0, -200), (200, -200), (400, -200), (600, -200)],
    *[[(x, -200), (x, -100), (x, 0)] for x in (0, 200, 400, 600)],
    [(0, 300), (200, 300), (400, 300), (600, 300)],
    [(0, 500), (200, 500), (400, 500), (600, 500)],
    *[[(x, 300), (x, 500)] for x in (0, 200, 400, 600)],
    [(600, 0), (600, 300)],  # the bridge
]
SITES = {"S": (100, 10), "T": (590, 150)}
DEVICES = {"D1": (100, 300), "D2": (300, -5), "D3": (0, -150), "D4": (200, -203),
           "D5": (400, -200), "D6": (500, 305)}


def _town():
    xs, ys, offsets = [], [], [0]
    for street in STREETS:
        xs += [X0 + p[0] for p in street]
        ys += [Y0 + p[1] for p in street]
        offsets.append(len(xs))
    return StreetNetwork(np.array(xs), np.array(ys), np.array(offsets), name="town")


@pytest.fixture(scope="module")
def town():
    return _town()


def _xy(points: dict):
    return (np.array([X0 + p[0] for p in points.values()]),
            np.array([Y0 + p[1] for p in points.values()]))


def _reached_nodes(network, catchment, name):
    sx, sy = _xy({name: SITES[name]})
    edge, along, leg = network.snap(sx, sy)
    d = network.node_distances(edge, along, leg, catchment.distance_m)[0]
    reached = np.isfinite(d)
    return {(round(x - X0), round(y - Y0)) for x, y in
            zip(network.node_x[reached], network.node_y[reached])}


def test_the_river_stops_the_walk_where_the_circle_crosses_it(town):
    walk = WalkingCatchment(town, 400)
    # S (10 m off the south bank's y = 0 street) walks 110 m to x = 0 and x = 200,
    # 310 m to x = 400, 310 m down to y = -200; the bridge foot is 510 m away
    assert _reached_nodes(town, walk, "S") == {
        (0, 0), (100, 0), (200, 0), (400, 0), (0, -100), (0, -200), (200, -100),
        (200, -200)}
    # T (on the bridge, 10 m off it) reaches both banks by the bridge only
    assert _reached_nodes(town, walk, "T") == {
        (600, 0), (600, 300), (600, -200), (600, -100), (600, 500), (400, 0), (400, 300)}
    # reached length of S: y = 0 from x = 0 to 490; x = 0 and x = 200 down to y = -200;
    # x = 400 down 90 m; y = -200 for 90 m east of x = 0 and 90 m each side of x = 200
    length = walk.reached_length(*_xy(SITES))
    assert length[0] == pytest.approx(490 + 200 + 200 + 90 + 90 + 180)
    # T: bridge 300; y = 0 and y = 300 west 240 m; x = 600 south 200 and north 200;
    # y = -200 and y = 500 west 40 m; x = 400 on to 40 m south of y = 0, north of y = 300
    assert length[1] == pytest.approx(300 + 240 + 240 + 200 + 200 + 40 + 40 + 40 + 40)


def test_devices_within_walking_distance_exactly(town):
    walk = WalkingCatchment(town, 400)
    index = walk.index(*_xy(DEVICES))
    site, point, dist = walk.device_pairs(index, *_xy(SITES))
    names = list(DEVICES)
    found = {(list(SITES)[s], names[p]): d for s, p, d in zip(site, point, dist)}
    # legs + network: S -> D2 10 + 200 + 5; -> D3 10 + 100 + 150; -> D4 10 + 100 + 200
    # + 3; T -> D6 10 + 150 + 100 + 5. D1 is 290 m from S across the river (within
    # the circle) but 1,010 m on foot; D5 is 366 m from S in a straight line, 510 m walking.
    assert found == pytest.approx({("S", "D2"): 215.0, ("S", "D3"): 260.0,
                                   ("S", "D4"): 313.0, ("T", "D6"): 265.0})
    best, best_d = walk.nearest(index, *_xy(SITES))
    assert [names[b] for b in best] == ["D2", "D6"]
    assert best_d == pytest.approx([215.0, 265.0])


def _hand_cells(pieces, x0, y0, cell, nrow, ncol, limit=400.0, buffer=50.0):
    """Cells whose centre the documented rule reaches, from reached pieces listed by
    hand: (x0, y0, x1, y1, walking distance at the start, metres per metre along)."""
    found = set()
    for i in range(nrow):
        for j in range(ncol):
            cx, cy = x0 + (j + 0.5) * cell - X0, y0 + (i + 0.5) * cell - Y0
            for ax, ay, bx, by, d0, grows in pieces:
                length = np.hypot(bx - ax, by - ay)
                t = np.clip(((cx - ax) * (bx - ax) + (cy - ay) * (by - ay)) / length ** 2,
                            0, 1)
                h = np.hypot(ax + t * (bx - ax) - cx, ay + t * (by - ay) - cy)
                if h <= buffer and d0 + grows * t * length + h <= limit:
                    found.add(i * ncol + j)
    return found


def test_residents_and_polygon_follow_the_reached_streets(town):
    walk = WalkingCatchment(town, 400)
    # 100 m cells whose centres sit 30 m or 70 m from every street
    grid = PopulationGrid(cell_m=100.0, x0=X0 - 280, y0=Y0 - 480,
                          residents=np.ones((14, 12)), ward=np.zeros((14, 12), int))
    site, cells = walk.cell_pairs(grid, *_xy(SITES))
    # S's reached network, each piece from its nearer end (distances by hand)
    s_pieces = [(100, 0, 0, 0, 10, 1), (100, 0, 490, 0, 10, 1),
                (0, 0, 0, -200, 110, 1), (200, 0, 200, -200, 110, 1),
                (400, 0, 400, -90, 310, 1), (0, -200, 90, -200, 310, 1),
                (200, -200, 110, -200, 310, 1), (200, -200, 290, -200, 310, 1)]
    expected = _hand_cells(s_pieces, grid.x0, grid.y0, 100.0, 14, 12)
    assert set(cells[site == 0]) == expected
    assert len(expected) == 9  # 30 m from a reached street, or a corner 42 m off
    centres_y = grid.centres(cells[site == 0])[1] - Y0
    assert centres_y.max() < 50  # nobody north of the river
    # the analysis: straight-line and walking figures side by side
    devices = pd.DataFrame({"device_id": list(DEVICES), "x": _xy(DEVICES)[0],
                            "y": _xy(DEVICES)[1]})
    sites = pd.DataFrame({"site_id": list(SITES), "x": _xy(SITES)[0], "y": _xy(SITES)[1]})
    out = analyse_sites(sites, devices, population=grid, walking=walk)
    assert out["devices_within"].tolist() == [5, 3]
    assert out["devices_within_walk"].tolist() == [3, 1]
    assert out["residents_within_walk"].iloc[0] == len(expected)
    assert (out["residents_within_walk"] <= out["residents_within"]).all()
    assert out["walk_m"].tolist() == [400.0, 400.0]
    # the drawn catchment: south of the river, inside the circle, the rule's squares
    (wkb, area), _ = walk.polygons(*_xy(SITES))
    polygon = parse_wkb_polygons([wkb])
    assert polygon.y.max() - Y0 <= 50 + 1e-9
    assert np.hypot(polygon.x - X0 - 100, polygon.y - Y0 - 10).max() <= 400 + 15
    assert area == pytest.approx(float(np.sum(_ring_area(polygon))))


def _ring_area(polygons):
    out = []
    for r in range(polygons.n_rings):
        a, b = polygons.ring_offsets[r], polygons.ring_offsets[r + 1]
        x, y = polygons.x[a:b], polygons.y[a:b]
        out.append(0.5 * (np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])))
    return out  # anticlockwise shells positive, clockwise holes negative


def test_outline_of_squares_with_a_hole_and_a_corner_touch():
    mask = np.array([[1, 1, 1, 0], [1, 0, 1, 0], [1, 1, 1, 0], [0, 0, 0, 1]], bool)
    shape = outline(mask, 10.0, 20.0, 2.0)
    assert shape.n_parts == 2 and shape.n_rings == 3  # a ring with a hole; one square
    assert sum(_ring_area(shape)) == pytest.approx(mask.sum() * 4.0)
    assert multipolygon_wkb(shape, 0)[:9] == b"\x01\x06\x00\x00\x00\x02\x00\x00\x00"
    # a ring that would touch itself at a corner is split into a shell and a hole
    touching = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 0]], bool)
    shape = outline(touching, 0.0, 0.0, 1.0)
    areas = _ring_area(shape)
    assert sum(areas) == pytest.approx(7.0) and min(areas) < 0


def test_bundled_osm_network_walking_never_exceeds_straight_line():
    network = read_network(OSM)
    assert network.n_edges > 3000 and network.total_length_m > 60_000
    parsed = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    frame = parsed.table("devices")
    x, y = wgs84_to_bng(frame["longitude"].to_numpy(), frame["latitude"].to_numpy())
    devices = frame.assign(x=x, y=y)
    rng = np.random.default_rng(24)
    lon, lat = rng.uniform(-0.130, -0.110, 60), rng.uniform(51.504, 51.520, 60)
    sx, sy = wgs84_to_bng(lon, lat)
    sites = pd.DataFrame({"x": sx, "y": sy})
    grid = PopulationGrid(cell_m=100.0, x0=529_000.0, y0=179_000.0,
                          residents=rng.uniform(10, 100, (40, 40)),
                          ward=np.zeros((40, 40), int))
    for walk_m in (200.0, 400.0, walk_metres(10)):
        out = analyse_sites(sites, devices, population=grid, distances=[walk_m],
                            walking=WalkingCatchment(network, walk_m))
        walked = out["devices_within_walk"].notna()  # the others: no street within walk_m
        assert walked.mean() > 0.8 and walked.eq(out["residents_within_walk"].notna()).all()
        out = out[walked]
        assert (out["devices_within_walk"] <= out["devices_within"]).all()
        assert (out["residents_within_walk"] <= out["residents_within"] + 1e-9).all()
        assert out["devices_within_walk"].sum() > 0
        assert (out["devices_within_walk"] < out["devices_within"]).any()


def test_network_reading_rules(tmp_path):
    network = read_network(OSM, "highways")
    # EPSG:4326 projected: the box lies around Covent Garden in British National Grid
    assert 529_000 < network.node_x.min() < network.node_x.max() < 532_000
    # merged vertices: every node is at least the snap distance from the next
    assert len(np.unique(np.c_[np.floor(network.node_x / 0.5),
                               np.floor(network.node_y / 0.5)], axis=0)) == network.n_nodes
    points = tmp_path / "points.gpkg"
    pyogrio.raw.write(str(points), np.array([b"\x01\x01\x00\x00\x00" + bytes(16)],
                                            dtype=object),
                      [np.array([1])], ["a"], driver="GPKG", geometry_type="Point",
                      crs="EPSG:27700", layer="p")
    with pytest.raises(errors.ParseError, match="line layer"):
        read_network(points)
    with pytest.raises(errors.ParseError, match="does not exist"):
        read_network(tmp_path / "none.gpkg")
    x, y, offsets = lines([None, b"\x01\x05\x00\x00\x00\x02\x00\x00\x00"
                           b"\x01\x02\x00\x00\x00\x02\x00\x00\x00" + bytes(32)
                           + b"\x01\x02\x00\x00\x00\x01\x00\x00\x00" + bytes(16)])
    assert offsets.tolist() == [0, 2, 3] and len(x) == len(y) == 3
    assert walk_metres(5) == pytest.approx(400.0)


def test_one_site_is_interactive_once_built(town):
    walk = WalkingCatchment(_town(), 400)
    index = walk.index(*_xy(DEVICES))
    site, point, _ = walk.device_pairs(index, np.array([np.nan]), np.array([np.nan]))
    assert len(site) == 0  # a site without coordinates reaches nothing
    far_site, _, _ = walk.device_pairs(index, np.array([X0 + 5000]), np.array([Y0]))
    assert len(far_site) == 0  # 4.4 km off the network: the leg alone is too long
    edge, along, leg = walk.network.snap([X0 + 5000, X0 + 5000], [Y0, Y0], max_leg=400)
    assert edge.tolist() == [-1, -1] and np.isinf(leg).all()
    edge, along, leg = walk.network.snap([X0 + 5000], [Y0])  # no limit: the bridge foot
    assert leg[0] == pytest.approx(4400.0)


def test_the_network_carries_its_data_credit(tmp_path):
    """OpenStreetMap data (ODbL) is credited wherever what is drawn from it is shown: the
    bundled extract is recognised by its osm_id field, not only by its file name."""
    from ev_chargepoints.core.analysis.siting.network import (
        OSM_ATTRIBUTION,
        network_attribution,
    )

    network = read_network(OSM)
    assert network.attribution == OSM_ATTRIBUTION
    assert network.described == f"{OSM.name} ({OSM_ATTRIBUTION})"
    renamed = tmp_path / "streets.gpkg"
    renamed.write_bytes(OSM.read_bytes())
    assert read_network(renamed).attribution == OSM_ATTRIBUTION  # by its osm_id field
    assert network_attribution("Open Roads", ["name1", "class"]) == ""
    assert network_attribution("OS Open Roads", [], ["Contains OS data © Crown copyright"]) \
        == "Contains OS data © Crown copyright"
    assert network_attribution("gosmore lines") == ""  # a word, not any "osm" inside one
    assert network_attribution("roads_osm_2024") == OSM_ATTRIBUTION
    out = analyse_sites(pd.DataFrame({"x": [530_300.0], "y": [180_900.0]}),
                        pd.DataFrame({"device_id": ["d"], "x": [530_320.0],
                                      "y": [180_900.0], "connectors": [1],
                                      "max_kw": [7.0], "operator": ["o"]}),
                        distances=[400.0], walking=WalkingCatchment(network, 400.0))
    assert out["walk_network"].tolist() == [network.described]


def test_a_site_without_a_street_in_reach_is_not_measured_on_foot(town):
    """Beyond the network's extent a site has no walking figures (missing, with a note
    and one line for the front doors), not "nothing in reach"; the others keep theirs."""
    from ev_chargepoints.core.analysis.site_files import unwalked_message, wide

    points = {**SITES, "far": (2_000, 10), "edge": (-350, 0)}  # 2 km east; 350 m west
    devices = pd.DataFrame({"device_id": list(DEVICES), "x": _xy(DEVICES)[0],
                            "y": _xy(DEVICES)[1]})
    sites = pd.DataFrame({"site_id": list(points), "x": _xy(points)[0],
                          "y": _xy(points)[1]})
    out = analyse_sites(sites, devices, distances=[400.0],
                        walking=WalkingCatchment(town, 400))
    by_site = out.set_index("site_id")
    assert by_site.loc[["S", "T"], "devices_within_walk"].tolist() == [3, 1]
    assert by_site.loc["edge", "devices_within_walk"] == 0  # a street 350 m away: measured
    assert np.isnan(by_site.loc["far", "devices_within_walk"])
    assert np.isnan(by_site.loc["far", "residents_within_walk"])
    assert "no street of the network within 400 m" in by_site.loc["far", "note"]
    assert not any("no street" in str(n) for n in by_site.loc[["S", "T", "edge"], "note"])
    message = unwalked_message(wide(out, [400.0]))
    assert message.startswith("1 of 4 sites have no street of the network within 400 m (far)")
    assert unwalked_message(wide(out[out["site_id"] != "far"], [400.0])) is None
