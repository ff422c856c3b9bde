"""Residents of London wards: the GLA ward profiles (2015), and their population carried
onto re-drawn wards by area of intersection (:func:`apportion_population`). Areas are
:class:`~.areas.AreaSet` boundary sets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import errors
from ..paths import LONDON_SNAPSHOT
from . import geometry

WARD_PROFILES_FILE = "ward-profiles-excel-version.csv"
POPULATION_COLUMN = "Population - 2015"
POPULATION_YEAR = 2015
# housing and cars of the 2011 Census in the same file (read when present; blank = NaN)
HOUSING_COLUMNS = {"household_spaces": "Number of Household spaces - 2011",
                   "terraced_pct": "% terraced houses - 2011",
                   "flats_pct": "% Flat, maisonette or apartment - 2011",
                   "cars_per_household": "Cars per household - 2011"}
DEFAULT_SAMPLE_SPACING_M = 20.0


def read_ward_profiles(path=None) -> pd.DataFrame:
    """GLA ward profiles (2015): code, name, population, borough code.

    Returns one row per ward (E05..., plus the City of London as E09000001)
    with ``borough_code`` from the old ONS code prefix, and the published
    borough rows as ``level == "borough"``.
    """
    path = Path(path) if path else LONDON_SNAPSHOT / WARD_PROFILES_FILE
    try:
        raw = pd.read_csv(path, encoding="latin-1", dtype={"New code": str, "Old code": str})
    except (OSError, ValueError) as exc:
        raise errors.ParseError(f"the ward profiles cannot be read ({exc})",
                                path.name) from exc
    missing = {"New code", "Old code", "Ward name", POPULATION_COLUMN} - set(raw.columns)
    if missing:
        raise errors.ParseError(f"missing columns {sorted(missing)}", path.name)
    raw = raw[raw["New code"].notna()]
    code = raw["New code"].str.strip()
    old = raw["Old code"].astype(str).str.strip()
    # the City appears twice: as the one merged "ward" and as a borough row
    is_ward = code.str.startswith("E05") | ((code == "E09000001") & ~code.duplicated())
    is_borough = code.str.startswith("E09") & ~is_ward
    borough_by_old = dict(zip(old[is_borough], code[is_borough]))
    out = pd.DataFrame({
        "code": code,
        "name": raw["Ward name"].astype(str).str.strip(),
        "population": pd.to_numeric(raw[POPULATION_COLUMN], errors="coerce"),
        "level": np.where(is_ward, "ward", np.where(is_borough, "borough", "other")),
        "borough_code": [borough_by_old.get(o[:4]) if w else None
                         for o, w in zip(old, is_ward)],
    })
    for key, column in HOUSING_COLUMNS.items():
        out[key] = pd.to_numeric(raw[column], errors="coerce").to_numpy("float64") \
            if column in raw.columns else np.nan
    return out.reset_index(drop=True)


def attach_ward_population(areas, year: int, profiles: pd.DataFrame, source,
                           spacing_m: float) -> None:
    """Fill in the population of the wards ``areas`` (of ``year``) from the ward
    ``profiles``: by ward code for 2011, apportioned from the 2011 wards ``source`` for
    later years."""
    wards = profiles[profiles["level"] == "ward"]
    by_code = pd.Series(wards["population"].to_numpy(), index=wards["code"])
    table = areas.table
    if year == 2011:
        table["population"] = table["area_code"].map(by_code).astype("float64")
        table["population_method"] = [
            f"GLA ward profiles {POPULATION_YEAR}" if v == v else None
            for v in table["population"]]
        areas.population_note = (
            f"Residents {POPULATION_YEAR} from the GLA ward profiles, joined by ward code.")
        return
    result = apportion_population(areas, source, spacing_m=spacing_m)
    areas.ward_weights = result.weights  # carries other 2011 ward counts the same way
    table["population"] = result.population
    table["population_method"] = result.method
    areas.population_note = result.note


@dataclass
class Apportionment:
    population: np.ndarray
    method: list
    note: str
    unplaced: float          # source population that no target area covered
    weights: pd.DataFrame    # source_code, target_code, share of the source's population


def apportion_population(target, source, spacing_m: float = DEFAULT_SAMPLE_SPACING_M,
                         match_codes: bool = True) -> Apportionment:
    """Population of ``target`` areas from ``source`` areas, by area of intersection.

    Areas with the same code in both sets are the same area (GSS codes change
    whenever a boundary does): they keep the source population exactly. The
    rest share the remaining source areas' population in proportion to the
    area each target takes of each source, i.e. residents are assumed evenly
    spread within each source area. Intersection areas are estimated on a
    regular ``spacing_m`` grid (one sample per grid cell, located in both sets
    with the same point-in-polygon test); shares are normalised per source
    area, so the total population is conserved.

    Measured on the bundled 2011 -> 2018 London wards (150 re-drawn wards),
    against a 5 m grid: at the default 20 m, the largest difference is 78
    people (1.0 %), the mean 13 people, the median 0.08 %; the sampled area of
    each re-drawn ward is within 1.0 % of its exact area (median 0.08 %). A
    10 m grid halves the error and takes about four times as long (about 4 s).
    """
    source_pop = source.table["population"].to_numpy("float64")
    target_codes = target.codes
    source_index = pd.Index(source.codes)
    population = np.full(len(target), np.nan)
    method = [None] * len(target)
    pos = source_index.get_indexer(target_codes) if match_codes else \
        np.full(len(target), -1)
    matched = pos >= 0
    population[matched] = source_pop[pos[matched]]
    for i in np.flatnonzero(matched):
        method[i] = f"unchanged ward code: population copied ({POPULATION_YEAR})"
    rest_target = np.flatnonzero(~matched)
    used_source = np.zeros(len(source), dtype=bool)
    used_source[pos[matched]] = True
    rest_source = np.flatnonzero(~used_source & np.isfinite(source_pop))
    weights = pd.DataFrame({"source_code": source.codes[pos[matched]],
                            "target_code": target_codes[matched],
                            "share": np.ones(int(matched.sum()))})
    unplaced = 0.0
    if len(rest_target) and len(rest_source):
        t_polys = target.polygons.subset(rest_target)
        s_polys = source.polygons.subset(rest_source)
        counts = _overlap_counts(t_polys, s_polys, spacing_m)
        per_source = counts.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(per_source > 0, counts / per_source, 0.0)
        population[rest_target] = share @ source_pop[rest_source]
        unplaced = float(source_pop[rest_source][per_source == 0].sum())
        for i in rest_target:
            method[i] = (f"apportioned by area from {source.version} wards "
                         f"({spacing_m:g} m sample grid, {POPULATION_YEAR})")
        t_idx, s_idx = np.nonzero(share)
        weights = pd.concat([weights, pd.DataFrame({
            "source_code": source.codes[rest_source][s_idx],
            "target_code": target_codes[rest_target][t_idx],
            "share": share[t_idx, s_idx]})], ignore_index=True)
    n_copied, n_split = int(matched.sum()), len(rest_target)
    note = (f"Residents {POPULATION_YEAR} (GLA ward profiles, {source.version} wards). "
            f"{n_copied} wards have an unchanged code and keep their population exactly; "
            f"{n_split} re-drawn wards share the population of the old wards they overlap "
            f"in proportion to the overlapping area (people assumed evenly spread within "
            f"each old ward; overlaps measured on a {spacing_m:g} m grid"
            + (", within about 1 % per ward)." if spacing_m <= 20 else ")."))
    if unplaced:
        note += f" {unplaced:,.0f} residents of old wards no new ward covers are left out."
    return Apportionment(population, method, note, unplaced, weights)


def _overlap_counts(target: geometry.PolygonSet, source: geometry.PolygonSet,
                    spacing: float, offset: float = 0.5,
                    chunk: int = 500_000) -> np.ndarray:
    """Grid samples falling in each (target, source) pair: a (T, S) count matrix.

    Samples are the centres of a regular grid aligned on multiples of
    ``spacing``, taken only within the targets' bounding boxes.
    """
    tb = target.bounds()
    tb = tb[~np.isnan(tb[:, 0])]
    n_t, n_s = len(target), len(source)
    counts = np.zeros(n_t * n_s, dtype=np.int64)
    if len(tb) == 0:
        return counts.reshape(n_t, n_s).astype("float64")
    col0 = int(np.floor(tb[:, 0].min() / spacing))
    row0 = int(np.floor(tb[:, 1].min() / spacing))
    ncol = int(np.ceil(tb[:, 2].max() / spacing)) - col0 + 1
    nrow = int(np.ceil(tb[:, 3].max() / spacing)) - row0 + 1
    wanted = np.zeros((nrow, ncol), dtype=bool)
    for xmin, ymin, xmax, ymax in tb:
        wanted[int(np.floor(ymin / spacing)) - row0:int(np.ceil(ymax / spacing)) - row0 + 1,
               int(np.floor(xmin / spacing)) - col0:int(np.ceil(xmax / spacing)) - col0 + 1] \
            = True
    cells = np.flatnonzero(wanted)
    for start in range(0, len(cells), chunk):
        row, col = np.divmod(cells[start:start + chunk], ncol)
        x = (col + col0 + offset) * spacing
        y = (row + row0 + offset) * spacing
        t = geometry.locate_points(target, x, y).index
        keep = t >= 0
        s = geometry.locate_points(source, x[keep], y[keep]).index
        ok = s >= 0
        counts += np.bincount(t[keep][ok] * n_s + s[ok], minlength=n_t * n_s)
    return counts.reshape(n_t, n_s).astype("float64")
