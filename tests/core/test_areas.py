"""Areas, population and device assignment on the real bundled London snapshot."""

import struct

import numpy as np
import pandas as pd
import pytest
from pyogrio import raw

from ev_chargepoints.core import errors
from ev_chargepoints.core.analysis import areas, geometry, ward_population
from ev_chargepoints.core.crs import bng_to_wgs84
from ev_chargepoints.core.paths import LONDON_SNAPSHOT
from ev_chargepoints.core.sources.parsers import parse_file

LONDON_RESIDENTS = 8_633_550  # sum of the 625 ward rows of the GLA ward profiles 2015


@pytest.fixture(scope="module")
def boroughs():
    return areas.load_boroughs()


@pytest.fixture(scope="module")
def wards():
    return areas.load_wards(2018)


@pytest.fixture(scope="module")
def wards_2011():
    return areas.load_wards(2011)


@pytest.fixture(scope="module")
def devices():
    result = parse_file(LONDON_SNAPSHOT / "ncr_chargepoints_london_2022-05.csv.gz")
    return result.table("devices")


@pytest.fixture(scope="module")
def assignment(devices, wards, boroughs):
    return areas.assign_devices(devices, wards, boroughs)


def _independent_counts(area_set, x, y):
    """Even-odd ray casting broadcast over every (point, edge) of each area."""
    polys = area_set.polygons
    counts = {}
    ring_geom = polys.ring_geometry()
    for g, code in enumerate(area_set.codes):
        rings = np.flatnonzero(ring_geom == g)
        lo, hi = polys.ring_offsets[rings[0]], polys.ring_offsets[rings[-1] + 1]
        near = np.flatnonzero((x >= polys.x[lo:hi].min()) & (x <= polys.x[lo:hi].max())
                              & (y >= polys.y[lo:hi].min()) & (y <= polys.y[lo:hi].max()))
        parity = np.zeros(len(near), dtype=bool)
        for r in rings:
            a, b = polys.ring_offsets[r], polys.ring_offsets[r + 1]
            xa, ya = polys.x[a:b - 1], polys.y[a:b - 1]
            xb, yb = polys.x[a + 1:b], polys.y[a + 1:b]
            px, py = x[near][:, None], y[near][:, None]
            spans = (ya > py) != (yb > py)
            with np.errstate(divide="ignore", invalid="ignore"):
                cross = px < xa + (py - ya) * (xb - xa) / (yb - ya)
            parity ^= (np.count_nonzero(spans & cross, axis=1) % 2).astype(bool)
        counts[code] = int(parity.sum())
    return pd.Series(counts)


def test_area_sets_load_with_codes_names_parents_and_area(boroughs, wards, wards_2011):
    assert len(boroughs) == 33 and len(wards) == 633 and len(wards_2011) == 625
    assert boroughs.table["area_code"].is_unique and wards.table["area_code"].is_unique
    assert boroughs.table["parent_code"].isna().all()
    assert wards.table["parent_code"].str.startswith("E09").all()
    assert set(wards.table["parent_code"]) == set(boroughs.codes)
    assert set(wards_2011.table["parent_code"]) == set(boroughs.codes)
    # data README: boroughs 1,573.4 km²; both ward sets 1,594.7 km² (they include the Thames)
    assert boroughs.table["area_m2"].sum() / 1e6 == pytest.approx(1573.4, abs=0.05)
    assert wards.table["area_m2"].sum() / 1e6 == pytest.approx(1594.7, abs=0.05)
    westminster = boroughs.table.set_index("area_code").loc["E09000033"]
    assert westminster["area_name"] == "Westminster"
    assert boroughs.boundary_version.startswith("london_boroughs@")
    assert wards.fingerprint != wards_2011.fingerprint


def test_devices_assigned_to_boroughs_match_an_independent_count(assignment, boroughs):
    table = assignment.table
    report = assignment.report
    inside = table[table["assignment_note"] == "inside"]
    assert len(inside) == 8538
    assert report.total == 8940 and report.inside == 8538 and report.outside == 402
    assert report.thames_gap == 0 and report.ward_snapped == 0 and report.no_location == 0
    counts = inside["borough_name"].value_counts()
    assert counts.index[0] == "Westminster" and counts.iloc[0] == 1214
    assert counts.index[-1] == "Havering" and counts.iloc[-1] == 34
    independent = _independent_counts(boroughs, table["x"].to_numpy(), table["y"].to_numpy())
    assert independent.sum() == 8538
    ours = inside["borough_code"].value_counts().reindex(independent.index, fill_value=0)
    assert ours.to_dict() == independent.to_dict()


def test_assignment_records_its_boundary_versions(assignment, wards, wards_2011, boroughs):
    assert assignment.matches(wards, boroughs)
    assert not assignment.matches(wards_2011, boroughs)
    assert assignment.report.wards_version == wards.boundary_version
    assert areas.load_wards(2018) is wards  # bundled sets are built once


def test_ward_counts_sum_to_borough_counts(assignment, wards):
    table = assignment.table
    by_ward = table.groupby("ward_code").size()
    parent = wards.table.set_index("area_code")["parent_code"]
    summed = by_ward.groupby(parent.reindex(by_ward.index).to_numpy()).sum()
    by_borough = table.groupby("borough_code").size()
    assert summed.to_dict() == by_borough.to_dict()
    assert by_borough.sum() == 8538
    outside = table[table["assignment_note"] == "outside"]
    assert outside[["ward_code", "ward_name", "borough_code", "borough_name"]].isna().all().all()


def test_ward_assignment_matches_an_independent_count_in_westminster(assignment, wards):
    table = assignment.table
    westminster = wards.table["parent_code"].to_numpy() == "E09000033"
    subset = areas.AreaSet("ward", "test", wards.table[westminster].reset_index(drop=True),
                           wards.polygons.subset(np.flatnonzero(westminster)))
    independent = _independent_counts(subset, table["x"].to_numpy(), table["y"].to_numpy())
    ours = table["ward_code"].value_counts().reindex(independent.index, fill_value=0)
    assert ours.to_dict() == independent.to_dict()
    assert independent.sum() == 1214


def test_thames_points_take_the_wards_borough(wards, boroughs):
    # mid-river at Westminster Bridge and Tower Bridge; Oxford Circus; Paris; no location
    points = pd.DataFrame({
        "device_id": ["bridge", "tower", "oxford", "paris", "nowhere"],
        "longitude": [-0.1218, -0.0754, -0.1415, 2.35, np.nan],
        "latitude": [51.5009, 51.5055, 51.5154, 48.85, np.nan],
    })
    result = areas.assign_devices(points, wards, boroughs)
    table = result.table.set_index("device_id")
    assert table.loc["bridge", "assignment_note"] == "thames_gap"
    assert table.loc["bridge", "borough_code"] == "E09000022"  # Lambeth, via Bishop's ward
    assert table.loc["bridge", "ward_name"] == "Bishop's"
    assert table.loc["tower", "assignment_note"] == "thames_gap"
    assert table.loc["tower", "borough_name"] == "Tower Hamlets"
    assert table.loc["oxford", "assignment_note"] == "inside"
    assert table.loc["oxford", "borough_name"] == "Westminster"
    assert table.loc["paris", "assignment_note"] == "outside"
    assert table.loc["nowhere", "assignment_note"] == "no_location"
    report = result.report
    assert (report.thames_gap, report.inside, report.outside, report.no_location) == (2, 1, 1, 1)
    assert any("Thames" in line for line in report.lines())


def test_points_exactly_on_shared_boundaries_are_counted_once_and_reported(boroughs, wards):
    polys = boroughs.polygons
    vertex_geom = np.repeat(polys.ring_geometry(), np.diff(polys.ring_offsets))
    vertices = pd.DataFrame({"x": polys.x, "y": polys.y, "g": vertex_geom}).drop_duplicates()
    sharing = vertices.groupby(["x", "y"])["g"].nunique()
    triple = sharing[sharing == 3].index[:10]
    xs = np.array([p[0] for p in triple])
    ys = np.array([p[1] for p in triple])
    found = geometry.locate_points(polys, xs, ys)
    assert len(xs) == 10
    assert (found.hits == 1).all() and (found.index >= 0).all()
    assert found.on_boundary.all()

    shared = sharing[sharing == 2].index
    found = geometry.locate_points(polys, np.array([p[0] for p in shared]),
                                   np.array([p[1] for p in shared]))
    assert found.hits.max() == 1 and found.n_on_boundary == len(shared)

    points = pd.DataFrame({"device_id": ["a", "b"], "x": xs[:2], "y": ys[:2]})
    result = areas.assign_devices(points, wards, boroughs)
    assert result.report.on_borough_boundary == 2
    assert result.table["on_boundary"].all()
    assert result.table["borough_code"].notna().all()


def test_population_2011_wards_joined_by_code(wards_2011):
    table = wards_2011.table.set_index("area_code")
    assert table["population"].notna().all()
    assert table["population"].sum() == LONDON_RESIDENTS
    assert table.loc["E05000645", "population"] == 8500  # Westminster - Tachbrook
    assert table.loc["E09000001", "population"] == 8100  # City of London (one ward)


def test_population_2018_wards_unchanged_codes_exact_others_apportioned(wards, wards_2011):
    old = wards_2011.table.set_index("area_code")["population"]
    new = wards.table.set_index("area_code")
    same = new.index.intersection(old.index)
    assert len(same) == 483
    assert (new.loc[same, "population"] == old.loc[same]).all()
    assert new.loc["E05000645", "population"] == 8500
    apportioned = new[~new.index.isin(old.index)]
    assert len(apportioned) == 150
    assert apportioned["population_method"].str.startswith("apportioned by area").all()
    assert apportioned["population"].gt(0).all()
    # mass is conserved, to rounding
    assert new["population"].sum() == pytest.approx(LONDON_RESIDENTS, abs=1)
    # the City is one merged ward in both sets, re-coded in 2018: same outline
    city = new[new["parent_code"] == "E09000001"]
    assert len(city) == 1
    assert city["population"].iloc[0] == pytest.approx(8100, rel=0.01)
    # re-warded boroughs keep their total population
    for borough in ("E09000008", "E09000028", "E09000012"):  # Croydon, Southwark, Hackney
        total_new = new.loc[new["parent_code"] == borough, "population"].sum()
        total_old = wards_2011.table.loc[wards_2011.table["parent_code"] == borough,
                                         "population"].sum()
        assert total_new == pytest.approx(total_old, rel=0.002)
    assert "apportioned" in wards.population_note or "share the population" in \
        wards.population_note


def test_borough_population_is_the_sum_of_its_wards(boroughs):
    table = boroughs.table.set_index("area_code")
    assert table["population"].sum() == LONDON_RESIDENTS
    profiles = ward_population.read_ward_profiles()
    published = profiles[profiles["level"] == "borough"].set_index("code")["population"]
    assert len(published) == 33
    assert (table["population"] - published.reindex(table.index)).abs().max() <= 150
    assert table.loc["E09000001", "population"] == 8100


def test_apportionment_weights_per_old_ward_sum_to_one(wards, wards_2011):
    result = ward_population.apportion_population(wards, wards_2011, spacing_m=50)
    shares = result.weights.groupby("source_code")["share"].sum()
    assert len(shares) == 625
    assert np.allclose(shares.to_numpy(), 1.0)
    assert result.unplaced == 0


def test_any_layer_with_ons_fields_in_wgs84(tmp_path, boroughs):
    lon, lat = bng_to_wgs84(boroughs.polygons.x, boroughs.polygons.y)
    wgs84 = geometry.PolygonSet(lon, lat, boroughs.polygons.ring_offsets,
                                boroughs.polygons.part_offsets,
                                boroughs.polygons.geom_offsets)
    wkbs = np.array([_to_wkb(wgs84, g) for g in range(len(wgs84))], dtype=object)
    path = tmp_path / "lad.gpkg"
    fields = [boroughs.codes.astype(object),
              boroughs.table["area_name"].to_numpy(object),
              np.full(33, "E12000007", dtype=object)]
    raw.write(path, wkbs, fields, ["LAD22CD", "LAD22NM", "RGN22CD"], layer="lad",
              driver="GPKG", geometry_type="MultiPolygon", crs="EPSG:4326")
    assert areas.detect_fields(["FID", "LAD22CD", "LAD22NM", "RGN22CD"])["code"] == "LAD22CD"
    assert areas.detect_fields(["WD18CD", "WD18NM", "LAD18CD", "LAD18NM"]) == {
        "code": "WD18CD", "name": "WD18NM", "parent_code": "LAD18CD",
        "parent_name": "LAD18NM"}
    loaded = areas.load_area_set(path, level="borough",
                                 population={"E09000033": 230_550})
    assert loaded.table["area_code"].tolist() == boroughs.codes.tolist()
    assert loaded.table["area_name"].tolist() == boroughs.table["area_name"].tolist()
    assert np.allclose(loaded.table["area_m2"], boroughs.table["area_m2"], rtol=1e-6)
    assert loaded.table.set_index("area_code").loc["E09000033", "population"] == 230_550
    assert loaded.table["population"].isna().sum() == 32
    assert (loaded.table["parent_code"] == "E12000007").all()
    with pytest.raises(errors.ParseError, match="no field"):
        areas.load_area_set(path, code_field="NOPE")


def _to_wkb(polys, g):
    out = b"\x01" + struct.pack("<II", 6, polys.geom_offsets[g + 1] - polys.geom_offsets[g])
    for p in range(polys.geom_offsets[g], polys.geom_offsets[g + 1]):
        out += b"\x01" + struct.pack("<II", 3, polys.part_offsets[p + 1] - polys.part_offsets[p])
        for r in range(polys.part_offsets[p], polys.part_offsets[p + 1]):
            a, b = polys.ring_offsets[r], polys.ring_offsets[r + 1]
            out += struct.pack("<I", b - a)
            out += np.column_stack([polys.x[a:b], polys.y[a:b]]).astype("<f8").tobytes()
    return out


def _square(x0, y0, x1, y1):
    return [(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]


def _area_set(level, codes, parents, rings):
    polys = geometry.parse_wkb_polygons([_to_wkb(_one(r), 0) for r in rings])
    table = pd.DataFrame({"area_code": codes, "area_name": [c.lower() for c in codes],
                          "parent_code": parents, "parent_name": parents,
                          "area_m2": geometry.polygon_areas(polys),
                          "population": np.nan, "population_method": None})
    return areas.AreaSet(level, f"test_{level}", table, polys)


def _one(ring):
    x, y = zip(*ring)
    return geometry.PolygonSet(np.array(x, float), np.array(y, float), np.array([0, len(x)]),
                               np.array([0, 1]), np.array([0, 1]))


def test_layers_that_disagree_snap_to_the_nearest_ward_of_the_borough():
    # boroughs B1 = [0,10]x[0,10], B2 = [10,20]x[0,10]; the ward layer leaves a gap
    # at y in (9, 10) of B1, ward W3 (of B2) pokes 1 unit into B1, and W4 lies
    # outside every borough, as the Thames parts of riverside wards do
    boroughs = _area_set("borough", ["B1", "B2"], [None, None],
                         [_square(0, 0, 10, 10), _square(10, 0, 20, 10)])
    points = pd.DataFrame({"device_id": ["gap", "poke", "plain", "river", "edge"],
                           "x": [2.0, 9.5, 3.0, 15.0, 5.0],
                           "y": [9.8, 4.0, 3.0, 12.0, 4.0]})
    wards = _area_set("ward", ["W1", "W2", "W3", "W4"], ["B1", "B1", "B2", "B2"],
                      [_square(0, 0, 5, 9), _square(5, 0, 9, 9), _square(9, 0, 20, 10),
                       _square(10, 10, 20, 14)])
    result = areas.assign_devices(points, wards, boroughs)
    table = result.table.set_index("device_id")
    assert table.loc["gap", ["ward_code", "borough_code", "assignment_note"]].tolist() == \
        ["W1", "B1", "ward_snapped"]
    assert table.loc["poke", ["ward_code", "borough_code", "assignment_note"]].tolist() == \
        ["W2", "B1", "ward_snapped"]
    assert table.loc["plain", "assignment_note"] == "inside"
    assert table.loc["river", ["ward_code", "borough_code", "assignment_note"]].tolist() == \
        ["W4", "B2", "thames_gap"]
    # on the W1/W2 boundary: the ward to the east
    assert table.loc["edge", ["ward_code", "on_boundary"]].tolist() == ["W2", True]
    assert result.report.ward_snapped == 2 and result.report.on_ward_boundary == 1
    assert result.report.inside == 2 and result.report.thames_gap == 1
