"""The candidate-site figures, score and rank: :class:`IncrementalSiteAnalyser`, kept up
to date as sites are added, moved or removed, and :func:`analyse_sites`, the one-call
form. :func:`definitions` gives each output column in plain words with units."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ...crs import bng_to_wgs84
from ...progress import SILENT, Progress
from ...schema import POWER_CLASSES
from ..demand import positive_gaps, scenario_name
from ..ratios import ratio
from .catchment import Catchment, RadiusCatchment
from .population import PopulationGrid
from .sites import as_sites, device_xy, site_sums

DEFAULT_DISTANCES = (400.0,)
# a criterion left out weighs 0 (demand_gap: existing scores unchanged unless asked)
DEFAULT_WEIGHTS = {"new_coverage": 0.6, "demand": 0.2, "gap": 0.2}
CRITERIA = ("new_coverage", "unique_coverage", "residents", "demand", "kwh", "gap",
            "demand_gap")
_NORMALISED = ("new_coverage", "unique_coverage", "residents", "demand", "kwh", "demand_gap")
_POPULATION_CRITERIA = ("new_coverage", "unique_coverage", "residents")
_USAGE_CRITERIA = ("demand", "kwh")
_USAGE_SUMS = ("sessions", "kwh", "plugged_hours", "available_hours")


def _usage_for(devices: pd.DataFrame, utilisation: pd.DataFrame | None, period):
    """Per device: usage sums for one period, and whether it has a record."""
    n = len(devices)
    sums = {name: np.zeros(n) for name in _USAGE_SUMS}
    has = np.zeros(n, dtype=bool)
    if utilisation is None or not len(utilisation):
        return sums, has, None
    frame = utilisation
    key = "period_index" if "period_index" in frame else "period"
    labels = frame.drop_duplicates(key)[["period"] if key == "period" else ["period", key]]
    labels = labels.assign(label=labels["period"].astype(str))
    if period is None:
        chosen = labels.sort_values(key).iloc[-1]
    else:
        match = labels[labels["label"] == str(period)]
        if match.empty:
            raise ValueError(f"no utilisation for period {period!r} (available: "
                             f"{', '.join(sorted(labels['label']))})")
        chosen = match.iloc[0]
    period = chosen["label"]
    frame = frame[frame[key] == chosen[key]]
    # one hash pass over both id columns (an Index lookup would first check uniqueness)
    ids = devices["device_id"].to_numpy(object)
    codes, uniques = pd.factorize(np.concatenate([ids, frame["device_id"].to_numpy(object)]))
    device_of_code = np.full(len(uniques), -1, dtype=np.int64)
    device_of_code[codes[:n][::-1]] = np.arange(n)[::-1]  # a repeated id: first row
    pos = device_of_code[codes[n:]]
    ok = pos >= 0
    for name in _USAGE_SUMS:
        values = pd.to_numeric(frame[name], errors="coerce").fillna(0).to_numpy("float64")
        sums[name] = site_sums(pos[ok], values[ok], n)
    has[pos[ok]] = True
    return sums, has, str(period)


def definitions() -> dict[str, str]:
    """Output column -> plain-English definition with units."""
    d = "the catchment distance (distance_m)"
    return {
        "site_id": "Identifier of the candidate site (as given, else site-1, site-2 ...).",
        "x": "Site easting, British National Grid EPSG:27700 (m).",
        "y": "Site northing, British National Grid EPSG:27700 (m).",
        "longitude": "Site longitude, WGS84 (degrees).",
        "latitude": "Site latitude, WGS84 (degrees).",
        "distance_m": "Catchment distance this row is for (m).",
        "catchment": "How reach is measured: 'straight line' is a circular buffer "
                     "(crow-fly distance), not a walking route.",
        "ward_code": "Code of the ward containing the site (empty outside every ward).",
        "ward_name": "Name of the ward containing the site.",
        "borough_name": "Borough of that ward.",
        "devices_within": f"Existing charge devices within {d} of the site (count).",
        "connectors_within": "Connectors on those devices (count).",
        "slow_within": "Of those devices, rated 3-7 kW at their fastest connector (count).",
        "fast_within": "Of those devices, rated 8-49 kW (count).",
        "rapid_within": "Of those devices, rated 50-149 kW (count).",
        "ultra_within": "Of those devices, rated 150 kW or more (count).",
        "unknown_power_within": "Of those devices, with no usable power rating (count).",
        "top_operators_within": "The operators with most devices within the catchment, "
                                "with their device counts, most first (ties by name).",
        "usage_period": "Utilisation period used for the demand columns.",
        "devices_with_usage_within": "Devices within the catchment with a usage record "
                                     "for the period (count).",
        "sessions_within": "Charging sessions started in the period at those devices "
                           "(count).",
        "kwh_within": "Energy delivered in the period by those devices (kWh).",
        "occupancy_pct_within": "Demand nearby: Σ plugged-in hours ÷ Σ available hours "
                                "over the devices within the catchment with usage records "
                                "(%), recomputed from sums; empty when none has a record.",
        "nearest_device_id": "The existing device nearest to the site (any distance).",
        "nearest_device_m": "Distance from the site to the nearest existing device, by the "
                            "catchment's distance measure (m); the same on every row of "
                            "a site.",
        "residents_within": f"Residents within {d}: residents of the population grid "
                            "cells whose centre the catchment reaches (people; ward "
                            "populations spread evenly over each ward, see population "
                            "note).",
        "demand_scenario": "The demand scenario behind demand_gap_within (its name; its "
                           "values in docs/demand.md and the demand command's table); "
                           "present when a demand scenario is given.",
        "demand_gap_within": f"Demand gap within {d}: each ward's public connectors "
                             "needed under the scenario minus its connectors now (a ward "
                             "with more than it needs counts 0), spread evenly over the "
                             "ward like its residents and summed over the grid cells whose "
                             "centre the catchment reaches (connectors; the rule of "
                             "residents_within, so comparable).",
        "walk_m": "Walking distance of the walking catchment (m); present when a street "
                  "network is given.",
        "walk_network": "The street network walked (file or layer name) with the credit "
                        "its data asks for (OpenStreetMap: © OpenStreetMap contributors).",
        "devices_within_walk": "Existing charge devices within walk_m of the site on foot: "
                               "the site's and the device's straight legs to their nearest "
                               "network points plus the shortest walk along the street "
                               "network (count; never more than the straight-line count "
                               "at the same distance).",
        "residents_within_walk": "Residents within walk_m on foot: residents of the "
                                 "population grid cells whose centre is reached along the "
                                 "streets, leaving a reached street by at most 50 m "
                                 "(people; the rule of residents_within, so comparable).",
        "residents_already_covered": "Of those residents, the ones within the same "
                                     "distance of at least one existing device (people).",
        "residents_already_covered_pct": "residents_already_covered ÷ residents_within "
                                         "(%); empty when no residents are within.",
        "new_coverage_residents": "Marginal new coverage: residents within the distance of "
                                  "this site and not within it of any existing device "
                                  "(people). Overlapping candidate sites each count "
                                  "their overlap.",
        "unique_new_coverage_residents": "The part of new_coverage_residents that no other "
                                         "site of this set reaches either: what this site "
                                         "adds if all the others are built (people).",
        "catchment_in_area_pct": "Share of the catchment's grid cells that lie inside the "
                                 "boundaries with population (%); residents beyond them "
                                 "(outside London) are not counted.",
        "score": "Weighted score, 0-100: Σ weight × criterion ÷ Σ weights over the "
                 "criteria with data (see CRITERIA). new_coverage, unique_coverage, "
                 "residents, demand (occupancy_pct_within), kwh (kwh_within) and "
                 "demand_gap (demand_gap_within) are each "
                 "divided by their largest value among the sites at this distance (0 when "
                 "that is 0); gap is nearest_device_m ÷ (2 × distance), capped at 1, and 0 "
                 "for a site whose catchment lies wholly outside the population "
                 "boundaries.",
        "rank": "Rank by score among the sites at this distance, 1 = best; equal scores "
                "by larger new coverage, then input order.",
        "note": "Anything to know about this row's figures (e.g. outside the population "
                "grid).",
    }


def _check_weights(weights) -> dict:
    weights = dict(DEFAULT_WEIGHTS if weights is None else weights)
    unknown = set(weights) - set(CRITERIA)
    if unknown:
        raise ValueError(f"unknown score criteria {sorted(unknown)}; use {list(CRITERIA)}")
    for name, value in weights.items():
        if not (isinstance(value, (int, float)) and value >= 0 and math.isfinite(value)):
            raise ValueError(f"weight for {name} must be a non-negative number")
    if not any(v > 0 for v in weights.values()):
        raise ValueError("at least one weight must be positive")
    return weights


class IncrementalSiteAnalyser:
    """Candidate-site analysis kept up to date as sites are added, moved or removed.

    Everything that depends only on the existing devices and the population is
    prepared once: the device index, per-device usage sums, the population
    grid and, per distance, how many existing devices reach each grid cell.
    Adding or moving one site then costs one small query per distance; the
    set-level figures (unique coverage, score, rank) are recomputed from
    arrays. :func:`analyse_sites` is this class used once.
    """

    def __init__(self, devices: pd.DataFrame, utilisation: pd.DataFrame | None = None,
                 population: PopulationGrid | None = None, distances=DEFAULT_DISTANCES,
                 weights=None, catchment_factory=RadiusCatchment, period=None,
                 top_operators: int = 3, progress: Progress | None = None,
                 walking: Catchment | None = None, demand: pd.DataFrame | None = None):
        progress = progress or SILENT
        distances = [float(d) for d in np.atleast_1d(distances)]
        if not distances or len(set(distances)) != len(distances):
            raise ValueError("give one or more distinct catchment distances")
        self.distances = distances
        self.weights = _check_weights(weights)
        self.population = population
        self.top_operators = int(top_operators)
        self.catchments = [catchment_factory(d) for d in distances]
        # a ward demand table (demand.demand_table): each ward's gap spread on the grid
        self.demand_scenario, self._gap_cells = None, None
        if demand is not None:
            if population is None or population.areas is None:
                raise ValueError("the demand gap needs the population grid of the wards")
            self._gap_cells = population.spread(positive_gaps(demand, population.areas.codes))
            self.demand_scenario = scenario_name(demand)

        devices = devices.reset_index(drop=True)
        self.device_ids = devices["device_id"].to_numpy(object)
        self.dx, self.dy = device_xy(devices)
        blank = pd.Series([None] * len(devices), dtype=object)
        self.connectors = pd.to_numeric(devices.get("connector_count", blank),
                                        errors="coerce").fillna(1).to_numpy("float64")
        classes = devices.get("power_class", blank)
        self.power_code = pd.Index(POWER_CLASSES).get_indexer(classes.to_numpy(object))
        operators = devices.get("operator", blank)
        self.operator_code, self.operator_names = pd.factorize(operators, sort=True)
        self.usage, self.has_usage, self.period = _usage_for(devices, utilisation, period)
        self.has_utilisation = utilisation is not None and len(utilisation) > 0

        progress.report(10, "Indexing devices")
        self._index = [c.index(self.dx, self.dy) for c in self.catchments]
        # the walking catchment (one distance): extra figures beside the straight-line ones
        self.walking = walking
        self._walk_index = None if walking is None else walking.index(self.dx, self.dy)
        progress.check_cancelled()
        self._uncovered = []
        if population is not None:
            for k, catchment in enumerate(self.catchments):
                progress.report(20 + 60 * k / len(distances),
                                f"Existing coverage within {distances[k]:g} m")
                existing = catchment.reach_counts(population, self.dx, self.dy)
                self._uncovered.append(np.where(existing == 0, population.flat, 0.0))
                progress.check_cancelled()
            self._site_reach = [np.zeros(population.size, dtype=np.int32)
                                for _ in distances]
        self._reset_sites()
        progress.report(100, "Ready")

    def _reset_sites(self):
        self.sites = as_sites(pd.DataFrame({"site_id": pd.Series([], dtype=object),
                                            "x": pd.Series([], dtype=float),
                                            "y": pd.Series([], dtype=float)}))
        self._pairs = [(np.empty(0, np.int64), np.empty(0, np.int64))
                       for _ in self.distances]
        self._key = np.empty(0, np.int64)
        self._next_key = 0
        self._ids = set()
        self._metrics, self._site_info, _ = self._compute(np.empty(0), np.empty(0),
                                                          self._key, SILENT)

    # -- editing ---------------------------------------------------------------

    def add_sites(self, sites, progress: Progress | None = None) -> pd.DataFrame:
        """Add sites (any table :func:`as_sites` accepts); returns their rows."""
        return self._add(as_sites(sites), progress or SILENT)

    def add_site(self, x, y, site_id=None, **fields) -> pd.DataFrame:
        """Add one site at EPSG:27700 ``x``, ``y``; returns its rows."""
        if site_id is None:
            number = len(self.sites) + 1
            while f"site-{number}" in self._ids:
                number += 1
            site_id = f"site-{number}"
        lon, lat = bng_to_wgs84(float(x), float(y))
        row = {"site_id": [str(site_id)], **{k: [v] for k, v in fields.items()},
               "x": [float(x)], "y": [float(y)], "longitude": [float(lon)],
               "latitude": [float(lat)]}
        return self._add(pd.DataFrame(row), SILENT)

    def _add(self, new: pd.DataFrame, progress: Progress) -> pd.DataFrame:
        clash = set(new["site_id"]) & self._ids
        if clash:
            raise ValueError(f"site ids already present: {sorted(clash)[:5]}")
        keys = np.arange(self._next_key, self._next_key + len(new), dtype=np.int64)
        self._next_key += len(new)
        metrics, info, pairs = self._compute(new["x"].to_numpy("float64"),
                                             new["y"].to_numpy("float64"), keys, progress)
        start = len(self.sites)
        self.sites = pd.concat([self.sites, new], ignore_index=True) if start else \
            new.reset_index(drop=True)
        self._ids.update(new["site_id"])
        self._key = np.concatenate([self._key, keys])
        self._append(metrics, info, pairs)
        return self.rows(np.arange(start, len(self.sites)))

    def move_site(self, site_id, x, y) -> pd.DataFrame:
        """Move a site to EPSG:27700 ``x``, ``y`` (keeping its id, fields and order)."""
        pos = self._position(site_id)
        x, y = float(x), float(y)
        self._drop_pairs(self._key[pos])
        key = np.array([self._next_key], dtype=np.int64)
        self._next_key += 1
        metrics, info, pairs = self._compute(np.array([x]), np.array([y]), key, SILENT)
        lon, lat = bng_to_wgs84(x, y)
        for column, value in (("x", x), ("y", y), ("longitude", float(lon)),
                              ("latitude", float(lat))):
            self.sites.at[pos, column] = value
        self._key[pos] = key[0]
        for k, m in enumerate(metrics):
            for name, values in m.items():
                self._metrics[k][name][pos] = values[0]
        for name, values in info.items():
            self._site_info[name][pos] = values[0]
        self._add_pairs(pairs)
        return self.rows(np.array([pos]))

    def remove_site(self, site_id) -> None:
        pos = self._position(site_id)
        self._drop_pairs(self._key[pos])
        keep = np.ones(len(self.sites), dtype=bool)
        keep[pos] = False
        self._ids.discard(self.sites["site_id"].iloc[pos])
        self.sites = self.sites[keep].reset_index(drop=True)
        self._key = self._key[keep]
        for m in self._metrics:
            for name in m:
                m[name] = m[name][keep]
        for name in self._site_info:
            self._site_info[name] = self._site_info[name][keep]

    def _position(self, site_id) -> int:
        found = np.flatnonzero(self.sites["site_id"].to_numpy(object) == str(site_id))
        if len(found) == 0:
            raise KeyError(f"no site {site_id!r}")
        return int(found[0])

    def _append(self, metrics, info, pairs):
        for k, m in enumerate(metrics):
            for name, values in m.items():
                self._metrics[k][name] = np.concatenate([self._metrics[k][name], values])
        for name, values in info.items():
            self._site_info[name] = np.concatenate([self._site_info[name], values])
        self._add_pairs(pairs)

    def _add_pairs(self, pairs):
        if self.population is None:
            return
        for k, (key, cell) in enumerate(pairs):
            old_key, old_cell = self._pairs[k]
            self._pairs[k] = (np.concatenate([old_key, key]), np.concatenate([old_cell, cell]))
            np.add.at(self._site_reach[k], cell, 1)

    def _drop_pairs(self, key):
        if self.population is None:
            return
        for k, (keys, cells) in enumerate(self._pairs):
            mine = keys == key
            np.subtract.at(self._site_reach[k], cells[mine], 1)
            self._pairs[k] = (keys[~mine], cells[~mine])

    # -- per-site figures --------------------------------------------------------

    def _compute(self, sx: np.ndarray, sy: np.ndarray, keys: np.ndarray,
                 progress: Progress):
        n = len(sx)
        info = {}
        if self.population is not None and self.population.areas is not None:
            ward = self.population.area_at(sx, sy)
            table = self.population.areas.table
            for name, column in (("ward_code", "area_code"), ("ward_name", "area_name"),
                                 ("borough_name", "parent_name")):
                values = table[column].to_numpy(object)
                info[name] = np.where(ward >= 0, values[np.maximum(ward, 0)], None) \
                    .astype(object)
        if self.walking is not None:
            progress.report(15, f"Walking {self.walking.distance_m:g} m")
            info.update(self._walk(sx, sy))
        metrics, all_pairs = [], []
        n_ops = max(len(self.operator_names), 1)
        for k, catchment in enumerate(self.catchments):
            progress.report(20 + 70 * k / len(self.catchments),
                            f"Devices and residents within {self.distances[k]:g} m")
            progress.check_cancelled()
            site, point, dist = catchment.device_pairs(self._index[k], sx, sy)
            if k == 0:
                info.update(self._nearest(sx, sy, site, point, dist))
            m = {
                "devices_within": np.bincount(site, minlength=n).astype(np.int64),
                "connectors_within": site_sums(site, self.connectors[point], n).astype(np.int64),
            }
            power = self.power_code[point]
            for c, name in enumerate(POWER_CLASSES):
                m[f"{name}_within"] = np.bincount(site[power == c], minlength=n) \
                    .astype(np.int64)
            m["unknown_power_within"] = np.bincount(site[power < 0], minlength=n) \
                .astype(np.int64)
            ops = self.operator_code[point]
            known = ops >= 0
            m["_operators"] = np.bincount(site[known] * n_ops + ops[known],
                                          minlength=n * n_ops).reshape(n, n_ops)
            used = self.has_usage[point]
            m["devices_with_usage_within"] = np.bincount(site[used], minlength=n) \
                .astype(np.int64)
            for name in _USAGE_SUMS:
                m[f"{name}_within"] = site_sums(site, self.usage[name][point], n)
            if self.population is not None:
                cell_site, cell = catchment.cell_pairs(self.population, sx, sy)
                grid = self.population
                m["residents_within"] = site_sums(cell_site, grid.flat[cell], n)
                m["new_coverage_residents"] = site_sums(cell_site, self._uncovered[k][cell], n)
                if self._gap_cells is not None:
                    m["demand_gap_within"] = site_sums(cell_site, self._gap_cells[cell], n)
                m["_cells"] = np.bincount(cell_site, minlength=n).astype(float)
                in_area = grid.ward.ravel()[cell] >= 0
                m["_cells_in_area"] = np.bincount(cell_site[in_area], minlength=n) \
                    .astype(float)
                keep = self._uncovered[k][cell] > 0
                all_pairs.append((keys[cell_site[keep]], cell[keep]))
            metrics.append(m)
        return metrics, info, all_pairs

    def _walk(self, sx, sy) -> dict:
        """Devices and residents within the walking catchment of each site; missing
        (NaN) for a site with no street of the network within the walk."""
        n = len(sx)
        site, _, _ = self.walking.device_pairs(self._walk_index, sx, sy)
        out = {"devices_within_walk": np.bincount(site, minlength=n).astype(np.int64),
               "residents_within_walk": np.full(n, np.nan),
               "_walk_on_network": self.walking.on_network(sx, sy)}
        if self.population is not None:
            cell_site, cell = self.walking.cell_pairs(self.population, sx, sy)
            out["residents_within_walk"] = site_sums(cell_site, self.population.flat[cell], n)
        off = ~out["_walk_on_network"]
        if off.any():
            out["devices_within_walk"] = np.where(off, np.nan, out["devices_within_walk"])
            out["residents_within_walk"] = np.where(off, np.nan, out["residents_within_walk"])
        return out

    def _nearest(self, sx, sy, site, point, dist) -> dict:
        """Nearest device: from the primary catchment's pairs, else searched further."""
        n = len(sx)
        best = np.full(n, -1, dtype=np.int64)
        best_d = np.full(n, np.inf)
        if len(site):
            # pairs come sorted by site: the first minimum of each site's run
            starts = np.flatnonzero(np.r_[True, site[1:] != site[:-1]])
            owners = site[starts]
            shortest = np.minimum.reduceat(dist, starts)
            is_min = dist == np.repeat(shortest, np.diff(np.r_[starts, len(site)]))
            first = np.flatnonzero(is_min)
            first = first[np.r_[True, site[first][1:] != site[first][:-1]]]
            best[owners] = point[first]
            best_d[owners] = shortest
        rest = np.flatnonzero(best < 0)
        if len(rest):
            found, found_d = self.catchments[0].nearest(self._index[0], sx[rest], sy[rest])
            best[rest], best_d[rest] = found, found_d
        ids = np.full(n, None, dtype=object)
        ids[best >= 0] = self.device_ids[best[best >= 0]]
        return {"nearest_device_id": ids,
                "nearest_device_m": np.where(best >= 0, best_d, np.nan)}

    # -- output ----------------------------------------------------------------

    def unique_coverage(self, k: int) -> np.ndarray:
        """Unique new coverage of every current site at distance index ``k``."""
        n = len(self.sites)
        if self.population is None or n == 0:
            return np.full(n, np.nan)
        keys, cells = self._pairs[k]
        alone = self._site_reach[k][cells] == 1
        by_key = site_sums(keys[alone], self._uncovered[k][cells[alone]], self._next_key)
        return by_key[self._key]

    def _criteria(self, k: int) -> dict:
        m = self._metrics[k]
        d = self.distances[k]
        out = {"gap": np.minimum(self._site_info["nearest_device_m"] / (2 * d), 1.0)}
        out["gap"] = np.where(np.isfinite(out["gap"]), out["gap"], 1.0)
        if self.population is not None:
            # a gap nobody lives in is no gap worth filling
            out["gap"] = np.where(m["_cells_in_area"] > 0, out["gap"], 0.0)
            out["new_coverage"] = m["new_coverage_residents"]
            out["unique_coverage"] = self.unique_coverage(k)
            out["residents"] = m["residents_within"]
            if self._gap_cells is not None:
                out["demand_gap"] = m["demand_gap_within"]
        if self.has_utilisation:
            out["demand"] = ratio(100.0 * m["plugged_hours_within"], m["available_hours_within"])
            out["kwh"] = m["kwh_within"]
        for name in _NORMALISED:
            if name in out:
                values = np.nan_to_num(out[name], nan=0.0)
                top = values.max() if len(values) else 0.0
                out[name] = values / top if top > 0 else np.zeros(len(values))
        return out

    def score(self, k: int):
        """(score 0-100, rank) of every current site at distance index ``k``."""
        n = len(self.sites)
        criteria = self._criteria(k)
        used = self.criteria_used()
        if not used:
            return np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
        total = sum(used.values())
        score = sum(w * criteria[name] for name, w in used.items()) / total * 100
        score = np.round(score, 9)  # equal mixes of criteria compare equal
        new = self._metrics[k].get("new_coverage_residents", np.zeros(n))
        order = np.lexsort((np.arange(n), -np.nan_to_num(new), -score))
        rank = np.empty(n, dtype=np.int64)
        rank[order] = np.arange(1, n + 1)
        return score, rank

    def criteria_used(self) -> dict:
        """The weights that enter the score: positive ones whose criterion has data."""
        available = {"gap"}
        if self.population is not None:
            available.update(_POPULATION_CRITERIA)
        if self._gap_cells is not None:
            available.add("demand_gap")
        if self.has_utilisation:
            available.update(_USAGE_CRITERIA)
        return {name: w for name, w in self.weights.items() if name in available and w > 0}

    def rows(self, positions=None) -> pd.DataFrame:
        """Output rows (one per site and distance) for the given site positions."""
        positions = np.arange(len(self.sites)) if positions is None else \
            np.asarray(positions, dtype=np.int64)
        base = self.sites.iloc[positions]
        reserved = set(definitions()) - {"site_id", "x", "y", "longitude", "latitude"}
        site_columns = {(f"{c}_input" if c in reserved else c): base[c].to_numpy()
                        for c in base.columns}
        info = self._site_info
        frames = []
        for k, d in enumerate(self.distances):
            m = self._metrics[k]
            n = len(positions)
            cols = dict(site_columns)
            cols["distance_m"] = np.full(n, d)
            cols["catchment"] = np.full(n, self.catchments[k].description, dtype=object)
            for name in ("ward_code", "ward_name", "borough_name"):
                cols[name] = info[name][positions] if name in info else \
                    np.full(n, None, dtype=object)
            for name in ("devices_within", "connectors_within",
                         *[f"{c}_within" for c in POWER_CLASSES], "unknown_power_within"):
                cols[name] = m[name][positions]
            cols["top_operators_within"] = self._top_operators(m, positions)
            cols["usage_period"] = np.full(n, self.period, dtype=object)
            usage = self.has_utilisation
            cols["devices_with_usage_within"] = m["devices_with_usage_within"][positions] \
                if usage else np.full(n, np.nan)
            cols["sessions_within"] = np.round(m["sessions_within"][positions]).astype(
                np.int64) if usage else np.full(n, np.nan)
            cols["kwh_within"] = m["kwh_within"][positions] if usage else np.full(n, np.nan)
            cols["occupancy_pct_within"] = ratio(
                100.0 * m["plugged_hours_within"][positions],
                m["available_hours_within"][positions]) if usage else np.full(n, np.nan)
            cols["nearest_device_id"] = info["nearest_device_id"][positions]
            cols["nearest_device_m"] = info["nearest_device_m"][positions]
            if self.walking is not None:
                cols["walk_m"] = np.full(n, self.walking.distance_m)
                cols["walk_network"] = np.full(n, self.walking.network.described, dtype=object)
                for name in ("devices_within_walk", "residents_within_walk"):
                    cols[name] = info[name][positions]
            notes = [[] for _ in range(n)]
            if self.population is not None:
                within = m["residents_within"][positions]
                new = m["new_coverage_residents"][positions]
                cols["residents_within"] = within
                cols["residents_already_covered"] = within - new
                cols["residents_already_covered_pct"] = ratio(100.0 * (within - new), within)
                cols["new_coverage_residents"] = new
                cols["unique_new_coverage_residents"] = self.unique_coverage(k)[positions]
                share = np.nan_to_num(ratio(100.0 * m["_cells_in_area"][positions],
                                            m["_cells"][positions]), nan=0.0)
                cols["catchment_in_area_pct"] = share
                if self._gap_cells is not None:
                    cols["demand_scenario"] = np.full(n, self.demand_scenario, dtype=object)
                    cols["demand_gap_within"] = m["demand_gap_within"][positions]
                for i in np.flatnonzero(share < 99.95):
                    notes[i].append(
                        "outside the population boundaries: no residents counted"
                        if share[i] == 0 else
                        f"{100 - share[i]:.0f}% of the catchment lies outside the "
                        "population boundaries; residents there are not counted")
            else:
                for name in ("residents_within", "residents_already_covered",
                             "residents_already_covered_pct", "new_coverage_residents",
                             "unique_new_coverage_residents", "catchment_in_area_pct"):
                    cols[name] = np.full(n, np.nan)
            score, rank = self.score(k)
            cols["score"] = score[positions]
            cols["rank"] = rank[positions]
            if usage:
                for i in np.flatnonzero(m["devices_with_usage_within"][positions] == 0):
                    notes[i].append("no device within has usage records for the period")
            located = np.isfinite(cols["x"]) & np.isfinite(cols["y"])
            for i in np.flatnonzero(~located):
                notes[i].append("the site has no usable coordinates")
            for i in np.flatnonzero(located & ~np.isfinite(cols["nearest_device_m"])):
                notes[i].append("no existing device located")
            if self.walking is not None:
                for i in np.flatnonzero(located & ~info["_walk_on_network"][positions]):
                    notes[i].append(f"no street of the network within "
                                    f"{self.walking.distance_m:g} m: walking figures not "
                                    "measured")
            cols["note"] = np.array(["; ".join(v) if v else None for v in notes],
                                    dtype=object)
            frames.append(pd.DataFrame(cols))
        if len(frames) == 1:
            return frames[0]
        out = pd.concat(frames, ignore_index=True)
        order = np.argsort(np.tile(np.arange(len(positions)), len(frames)), kind="stable")
        return out.iloc[order].reset_index(drop=True)

    def table(self) -> pd.DataFrame:
        """Every current site, one row per site and distance, in input order."""
        return self.rows()

    def _top_operators(self, m: dict, positions: np.ndarray) -> list:
        matrix = m["_operators"][positions] if len(positions) else np.zeros((0, 1))
        names = np.asarray(self.operator_names, dtype=object)
        out = []
        top = self.top_operators
        for row in matrix:
            present = np.flatnonzero(row)
            if len(present) == 0 or top <= 0:
                out.append(None)
                continue
            # names are sorted, so a stable sort by count keeps ties alphabetical
            best = present[np.argsort(-row[present], kind="stable")][:top]
            out.append("; ".join(f"{names[i]} ({row[i]})" for i in best))
        return out

    def coverage_summary(self) -> pd.DataFrame:
        """Per distance: residents, already covered, and covered with every site built."""
        if self.population is None:
            raise ValueError("coverage needs a population grid")
        total = self.population.total
        rows = []
        for k, d in enumerate(self.distances):
            uncovered = self._uncovered[k]
            existing = total - float(uncovered.sum())
            added = float(uncovered[self._site_reach[k] > 0].sum())
            rows.append({"distance_m": d, "residents": total,
                         "covered_by_existing": existing,
                         "covered_by_existing_pct": 100 * existing / total if total else np.nan,
                         "added_by_sites": added,
                         "covered_with_sites_pct": 100 * (existing + added) / total
                         if total else np.nan})
        return pd.DataFrame(rows)


def walking_catchment(network, walk_m: float = 400.0):
    """A :class:`~.walking.WalkingCatchment` of ``walk_m`` on ``network`` (None: none)."""
    from .walking import WalkingCatchment
    return None if network is None else WalkingCatchment(network, walk_m)


def analyse_sites(sites, devices: pd.DataFrame, utilisation: pd.DataFrame | None = None,
                  population: PopulationGrid | None = None, distances=DEFAULT_DISTANCES,
                  weights=None, catchment_factory=RadiusCatchment, period=None,
                  top_operators: int = 3, progress: Progress | None = None,
                  walking: Catchment | None = None,
                  demand: pd.DataFrame | None = None) -> pd.DataFrame:
    """Analyse candidate sites against existing devices, usage and population.

    ``sites``: a table with ``x``/``y`` (EPSG:27700) or ``longitude``/``latitude``
    and optionally ``site_id`` and other fields (carried into the output).
    ``devices``: canonical devices (``device_id``, WGS84 or ``x``/``y``,
    ``connector_count``, ``power_class``, ``operator``). ``utilisation``:
    per-device per-period sums (:mod:`utilisation`); ``period`` picks one
    (default: the latest). ``population``: a :class:`PopulationGrid`.
    ``weights``: criterion -> weight (see :data:`CRITERIA`, defaults
    :data:`DEFAULT_WEIGHTS`); criteria without data (no population, no
    utilisation) are left out of the score. Every given device counts as
    existing (filter out planned or removed ones first); the nearest device is
    measured by the first distance's catchment. ``walking``: a catchment measured on
    foot (:class:`~.walking.WalkingCatchment`) adds ``walk_m``, ``devices_within_walk``
    and ``residents_within_walk`` beside the straight-line figures. ``demand``: a ward
    demand table (:func:`~..demand.demand_table`) adds ``demand_scenario`` and
    ``demand_gap_within`` and the ``demand_gap`` criterion.

    Returns one row per site and distance (long form), sites in input order
    and, within a site, distances in the order given; rank is among the sites
    at the same distance. Columns are described by :func:`definitions`.
    """
    progress = progress or SILENT
    analyser = IncrementalSiteAnalyser(devices, utilisation, population, distances,
                                       weights, catchment_factory, period, top_operators,
                                       progress.scaled(0, 40), walking, demand)
    analyser.add_sites(sites, progress.scaled(40, 95))
    out = analyser.table()
    progress.report(100, f"Analysed {len(analyser.sites):,} sites")
    return out
