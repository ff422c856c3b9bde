"""The month sums summed to periods, as (group × period) grids, and the sessions per
device, source and period (the coverage rule's counts); the last of each made from a
month cache held in memory for the next utilisation in the same process.

After an import, :class:`.usage_sql_engine.MonthCache` recomputes only the months from
the first one the new sessions touch; every earlier month keeps its sums. The periods
before that month therefore hold what the previous utilisation of this process found
(in QGIS: the view before the import), and only the later periods are summed again.
Nothing else is reused: another generation of the cache, another level or period
length, or groups in another order (another Prepared) sum every month again. Grids and
counts are never changed once made: the next utilisation copies what it keeps.
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


@dataclass
class _HeldCounts:
    gen: str
    groups: tuple  # as _Held's
    rows: dict  # the arrays of :func:`period_counts`
    sources: np.ndarray  # what their source codes stand for


@dataclass
class _HeldPrepared:
    gen: str
    device_stamp: str
    prep: object  # a :class:`.usage_sql_engine.Prepared`
    key: str  # its key (:meth:`.usage_sql_engine.MonthCache._prepared_key`)


_HELD: dict = {}  # (cache folder, level, months per period) -> _Held; one entry
_HELD_COUNTS: dict = {}  # the same key -> _HeldCounts; one entry
_HELD_PREPARED: dict = {}  # a month cache's folder -> _HeldPrepared; one entry


def hold_prepared(folder: str, gen: str, device_stamp: str, prep, key: str) -> None:
    """Hold ``prep``, the Prepared of generation ``gen`` of the month cache in ``folder``
    (made under ``device_stamp``; ``key``: its key), for the next refresh of that cache
    in this process: its reconciled keys, device facts and key tables are not made
    again."""
    _HELD_PREPARED.clear()
    _HELD_PREPARED[folder] = _HeldPrepared(gen, device_stamp, prep, key)


def held_prepared(folder: str, gen: str, device_stamp: str):
    """(Prepared, key) held for generation ``gen`` of the cache in ``folder`` under
    ``device_stamp`` (:func:`hold_prepared`), or None."""
    held = _HELD_PREPARED.get(folder)
    if held is None or held.gen != gen or held.device_stamp != device_stamp:
        return None
    return held.prep, held.key


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
        _HELD.clear()  # (another store's or level's grids: not kept beside these)
    n_codes = len(groups)
    grids = {name: np.zeros((n_codes, n_periods), np.float64 if name == "kwh" else np.int64)
             for name in q.SUM_COLUMNS}
    grids.update({name: np.full((n_codes, n_periods), none, np.int64)
                  for name, none in _CLOSED.items()})
    shape = (prep.dev_ids, prep.pair_device, prep.pair_connector)
    since = _first_again(held, cache, shape, step)  # (None: every period)
    if since is not None:
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


def period_counts(con, counts: str, step: int, prep, cache=None) -> tuple[dict, np.ndarray]:
    """The sessions per device, usage source and period (month // ``step``) of the month
    counts of relation ``counts`` (columns dev, source, m, n): (arrays "dev" (codes into
    ``prep.dev_ids``, which hold every device of the counts), "source" (codes into the
    returned sources), "period" (absolute), "n", in period order; the distinct sources, "" for
    none). With ``cache`` as :func:`period_grids`: the periods its refresh left unchanged come
    from memory. Raises ValueError for counts of a device ``prep`` does not have."""
    key = None if cache is None else (str(cache.folder), cache.by, step)
    held = None
    if key is not None:
        held = _HELD_COUNTS.pop(key, None)
        _HELD_COUNTS.clear()
    shape = (prep.dev_ids, prep.pair_device, prep.pair_connector)
    since = _first_again(held, cache, shape, step)
    if since is None:
        rows, sources = _counted(con, counts, step, prep.dev_ids, None)
    else:  # (the rows are in period order: those kept are the first)
        kept = int(np.searchsorted(held.rows["period"], since))
        rows = {name: values[:kept] for name, values in held.rows.items()}
        sources = held.sources
        if since != _EVERY:
            new, new_sources = _counted(con, counts, step, prep.dev_ids, since)
            # the sources of both as one list: the held ones first, keeping their codes
            at = pd.Index(sources, dtype=object).get_indexer(new_sources)
            added = new_sources[at < 0]
            at[at < 0] = len(sources) + np.arange(len(added))
            sources = np.concatenate([sources, added]).astype(object)
            new["source"] = at[new["source"]] if len(new["source"]) else new["source"]
            rows = {name: np.concatenate([rows[name], new[name]]) for name in rows}
    if key is not None:
        _HELD_COUNTS[key] = _HeldCounts(cache.gen, shape, rows, sources)
    return rows, sources


def _counted(con, counts: str, step: int, dev_ids: np.ndarray, since) -> tuple[dict, np.ndarray]:
    where = "" if since is None else f" WHERE m >= {int(since) * step}"
    relation = f"(SELECT * FROM {counts} AS c{where})"
    sources = np.asarray(con.execute(f"SELECT DISTINCT source FROM {relation}")
                         .fetchnumpy()["source"], dtype=object)
    tables = {"_ucs_sources": pd.DataFrame({"source": sources,
                                            "i": np.arange(len(sources), dtype=np.int64)}),
              "_ucs_devs": pd.DataFrame({"dev": np.asarray(dev_ids, dtype=object),
                                         "i": np.arange(len(dev_ids), dtype=np.int64)})}
    for name, table in tables.items():
        con.register(name, table)
    try:
        data = con.execute(f"""
            SELECT d.i AS dev, s.i AS source, c.m // {step} AS period,
                   CAST(sum(c.n) AS BIGINT) AS n
            FROM {relation} AS c JOIN _ucs_sources AS s ON s.source = c.source
            LEFT JOIN _ucs_devs AS d ON d.dev = c.dev
            GROUP BY ALL""").fetchnumpy()
    finally:
        for name in tables:
            con.unregister(name)
    if np.ma.getmaskarray(data["dev"]).any():
        raise ValueError("session counts of a device the sessions do not have")
    order = np.argsort(np.asarray(data["period"], dtype=np.int64), kind="stable")
    return {name: np.asarray(data[name], dtype=np.int64)[order]
            for name in ("dev", "source", "period", "n")}, sources


def _first_again(held, cache, shape, step):
    """The first period to sum again when ``held`` extends to ``cache``'s refresh
    (:data:`_EVERY`: none), or None when nothing held can be used."""
    if held is None or cache is None or cache.extends is None \
            or held.gen != cache.extends[0] or not _same_groups(held.groups, shape):
        return None
    return _EVERY if cache.extends[1] is None else cache.extends[1] // step


def release() -> None:
    """Let the held grids, counts and Prepared go (a full recompute is about to need the
    memory)."""
    _HELD.clear()
    _HELD_COUNTS.clear()
    _HELD_PREPARED.clear()


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
