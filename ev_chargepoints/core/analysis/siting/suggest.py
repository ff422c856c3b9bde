"""Suggesting sites: greedy maximal coverage among candidates, existing devices fixed."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...progress import SILENT, Progress
from ..geometry import expand_runs
from .catchment import RadiusCatchment
from .population import PopulationGrid
from .sites import as_sites, device_xy, site_sums


def suggest_sites(candidates, devices: pd.DataFrame, population: PopulationGrid, k: int,
                  distance: float = 400.0, catchment_factory=RadiusCatchment,
                  progress: Progress | None = None) -> pd.DataFrame:
    """Choose up to ``k`` candidates by greedy maximal coverage, existing devices fixed.

    Residents within ``distance`` of an existing device are covered from the
    start. Each step picks the remaining candidate that newly covers the most
    residents given the existing devices and the candidates already picked
    (its marginal gain); equal gains go to the candidate listed first. Picking
    stops early when no remaining candidate covers anyone new. Greedy
    selection is within a factor 1 - 1/e of the best possible set of k.

    Returns one row per pick: ``step`` (1, 2 ...), the candidate's fields,
    ``gain_residents`` (newly covered by this pick), ``cumulative_gain_residents``,
    ``covered_residents`` (existing plus picks), ``covered_pct`` (of all
    residents in the grid) and ``runner_up_gain_residents`` (the best gain left
    among the other candidates at that step).
    """
    progress = progress or SILENT
    if population is None:
        raise ValueError("suggesting sites needs a population grid")
    k = int(k)
    frame = as_sites(candidates)
    catchment = catchment_factory(float(distance))
    dx, dy = device_xy(devices)
    existing = catchment.reach_counts(population, dx, dy)
    weight = np.where(existing == 0, population.flat, 0.0)
    site, cell = catchment.cell_pairs(population, frame["x"].to_numpy("float64"),
                                      frame["y"].to_numpy("float64"))
    keep = weight[cell] > 0
    site, cell = site[keep], cell[keep]
    n = len(frame)
    # candidates' cells, grouped by candidate (sorted by cell within each) and by cell
    order = np.lexsort((cell, site))
    site, cell = site[order], cell[order]
    starts = np.searchsorted(site, np.arange(n + 1))
    by_cell = np.argsort(cell, kind="stable")
    cell_sorted = cell[by_cell]
    covered = np.zeros(population.size, dtype=bool)
    gain = site_sums(site, weight[cell], n)
    chosen = np.zeros(n, dtype=bool)
    picks, gains, runners = [], [], []
    for step in range(min(k, n)):
        progress.check_cancelled()
        open_gain = np.where(chosen, -np.inf, gain)
        best = int(np.argmax(open_gain))  # first of equal maxima
        if not open_gain[best] > 0:
            break
        picks.append(best)
        gains.append(float(gain[best]))
        chosen[best] = True
        rest = np.where(chosen, -np.inf, gain)
        runners.append(float(rest.max()) if (~chosen).any() else np.nan)
        new_cells = cell[starts[best]:starts[best + 1]]
        new_cells = new_cells[~covered[new_cells]]
        covered[new_cells] = True
        lo = np.searchsorted(cell_sorted, new_cells, side="left")
        hi = np.searchsorted(cell_sorted, new_cells, side="right")
        _, pos = expand_runs(np.zeros(len(lo), np.int64), lo, hi)
        touched = np.unique(site[by_cell[pos]])
        # recompute, not decrement: candidates with equal cell sets keep equal gains
        for t in touched:
            cells_t = cell[starts[t]:starts[t + 1]]
            gain[t] = weight[cells_t][~covered[cells_t]].sum()
        progress.report(100 * (step + 1) / max(k, 1), f"Picked {step + 1} of {k}")
    picks = np.asarray(picks, dtype=np.int64)
    out = frame.iloc[picks].reset_index(drop=True)
    out.insert(0, "step", np.arange(1, len(picks) + 1))
    total = population.total
    already = total - float(weight.sum())
    gains = np.asarray(gains, dtype="float64")
    out["distance_m"] = float(distance)
    out["gain_residents"] = gains
    out["cumulative_gain_residents"] = np.cumsum(gains)
    out["covered_residents"] = already + np.cumsum(gains)
    out["covered_pct"] = 100 * out["covered_residents"] / total if total else np.nan
    out["runner_up_gain_residents"] = np.asarray(runners, dtype="float64")
    return out
