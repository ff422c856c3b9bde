"""The month sums summed to periods, as (group × period) grids, and the last grids of a
month cache held in memory for the next utilisation in the same process.

After an import, :class:`.usage_sql_engine.MonthCache` recomputes only the months from
the first one the new sessions touch; every earlier month keeps its sums. The periods
before that month therefore hold what the previous utilisation of this process found
(in QGIS: the view before the import), and only the later periods are summed again.
Nothing else is reused: another generation of the cache, another level or period
length, or groups in another order (another Prepared) sum every month again. Grids are
never changed once made: the next utilisation copies what it keeps into new ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import usage_sql as q

FIRST_NONE = np.iinfo(np.int64).max  # first_closed of a group with no closed session
LAST_NONE = np.iinfo(np.int64).min  # last_closed likewise
_CLOSED = {"first_closed": FIRST_NONE, "last_closed": LAST_NONE}
_EVERY = np.iinfo(np.int64).max  # "the first period to sum again": none


@dataclass
class _Held:
    gen: str
    groups: tuple  # (dev_ids, pair_device, pair_connector) the group numbers stand for
    first: int  # the absolute period (month // step) of the grids' first column
    grids: dict


_HELD: dict = {}  # (cache folder, level, months per period) -> _Held; one entry


def period_grids(con, months: str, groups: pd.DataFrame, on: str, step: int,
                 first: int, n_periods: int, prep, cache=None) -> dict:
    """(len(groups) × ``n_periods``) grids, column j the absolute period ``first`` + j
    (period = month // ``step``): the :data:`.usage_sql.SUM_COLUMNS` of the month rows
    of relation ``months`` per group ``g`` of ``groups`` (integer sums exact, as
    BIGINT) and their first/last closed end (µs; :data:`FIRST_NONE` /
    :data:`LAST_NONE` where none). ``on``: the join of ``months`` (c) and ``groups``
    (g). With ``cache`` (the :class:`.usage_sql_engine.MonthCache` ``months`` comes
    from, after its refresh) the periods its refresh left unchanged come from memory.
    Raises ValueError for month rows outside the periods."""
    key = None if cache is None else (str(cache.folder), cache.by, step)
    held = None
    if key is not None:
        held = _HELD.pop(key, None)
        release()  # (another store's or level's grids: not kept beside these)
    n_codes = len(groups)
    grids = {name: np.zeros((n_codes, n_periods), np.float64 if name == "kwh" else np.int64)
             for name in q.SUM_COLUMNS}
    grids.update({name: np.full((n_codes, n_periods), none, np.int64)
                  for name, none in _CLOSED.items()})
    shape = (prep.dev_ids, prep.pair_device, prep.pair_connector)
    since = None  # the first period summed again (None: every period)
    if held is not None and cache.extends is not None and held.gen == cache.extends[0] \
            and _same_groups(held.groups, shape):
        since = _EVERY if cache.extends[1] is None else cache.extends[1] // step
        held_n = next(iter(held.grids.values())).shape[1]
        lo, hi = max(first, held.first), min(since, held.first + held_n, first + n_periods)
        for name, grid in grids.items():
            if hi > lo:
                grid[:, lo - first:hi - first] = held.grids[name][:, lo - held.first:
                                                                  hi - held.first]
    if since is None or since < first + n_periods:
        rows = _summed(con, months, groups, on, step, since)
        g, p = rows["g"], rows["period"] - first
        if len(p) and (p.min() < 0 or p.max() >= n_periods):
            raise ValueError("month sums outside the analysis window")
        for name, grid in grids.items():
            grid[g, p] = rows[name]
    if key is not None:
        _HELD[key] = _Held(cache.gen, shape, first, grids)
    return grids


def release() -> None:
    """Let the held grids go (a full recompute is about to need the memory)."""
    _HELD.clear()


def _summed(con, months: str, groups: pd.DataFrame, on: str, step: int, since) -> dict:
    sums_sql = ", ".join(
        f"coalesce(sum(c.{n}), 0){'' if n == 'kwh' else '::BIGINT'} AS {n}"
        for n in q.SUM_COLUMNS)
    where = "" if since is None else f"WHERE c.m >= {int(since) * step}"
    con.register("_ucs_groups", groups)
    try:
        data = con.execute(f"""
            SELECT g.g, c.m // {step} AS period, {sums_sql},
                   coalesce(min(c.first_closed), {FIRST_NONE}) AS first_closed,
                   coalesce(max(c.last_closed), {LAST_NONE}) AS last_closed
            FROM {months} AS c JOIN _ucs_groups AS g ON {on} {where}
            GROUP BY ALL""").fetchnumpy()
    finally:
        con.unregister("_ucs_groups")
    return {name: np.asarray(data[name], dtype=np.float64 if name == "kwh" else np.int64)
            for name in ("g", "period", *q.SUM_COLUMNS, *_CLOSED)}


def _same_groups(a: tuple, b: tuple) -> bool:
    if all(x is y for x, y in zip(a, b)):
        return True
    return (len(a[0]) == len(b[0]) and len(a[1]) == len(b[1])
            and pd.Series(a[0], dtype=object).equals(pd.Series(b[0], dtype=object))
            and np.array_equal(a[1], b[1])
            and pd.Series(a[2], dtype=object).equals(pd.Series(b[2], dtype=object)))


def closed_ends(grids: dict, code_device: np.ndarray, n_devices: int) -> tuple:
    """(first closed end, last closed end) per device, in ns (int64 max / min where
    none), from the grids of :func:`period_grids` (group ``g`` is on device
    ``code_device[g]``)."""
    out = []
    for name, none in _CLOSED.items():
        per_group = (grids[name].min(axis=1) if name == "first_closed"
                     else grids[name].max(axis=1))
        known = per_group != none
        per_group = np.where(known, per_group * 1000, none)
        target = np.full(n_devices, none, dtype=np.int64)
        at = np.minimum.at if name == "first_closed" else np.maximum.at
        if len(code_device) == n_devices and np.array_equal(code_device,
                                                            np.arange(n_devices)):
            target = per_group
        else:
            at(target, code_device[known], per_group[known])
        out.append(target)
    return tuple(out)
