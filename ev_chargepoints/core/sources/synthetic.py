"""SYNTHETIC London usage, drawn from real Dundee session distributions.

London session data is not public, so demos and benchmarks use sessions made
here: durations, kWh, start hour and weekday come from the real Dundee sessions
(ChargePlace Scotland, OGL), intensity varies per device so that occupancy
covers every utilisation band, and everything made is labelled synthetic
(``source = "synthetic"``, keys ``synthetic:...``, device ids ``synthetic-...``).
Seeded and vectorised: the same inputs and seed give the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .. import paths, schema
from ..calendar import as_utc
from .parsers.common import UK_TZ

SOURCE = "synthetic"
RAPID_POOL_KW = 20.0          # Dundee devices whose p95 session power exceeds this are rapids
RAPID_CONNECTOR_KW = 50.0     # synthetic connectors at or above this draw from the rapid pool
MAX_SESSION_HOURS = 48.0
MAX_SESSION_KWH = 150.0
DUNDEE_FILES = ("cpdata.csv.gz", "cp-data-dec-mar-2018.csv.gz",
                "cp-data-mar-may-2018.csv.gz", "charge-sessions-june-sept.csv.gz")
_NS = 1_000_000_000


@dataclass(frozen=True)
class Pool:
    """Joint (duration, kWh) samples and start hour-of-week weights of one charger kind."""

    duration_h: np.ndarray
    kwh: np.ndarray
    hour_of_week: np.ndarray  # 168 weights, Monday 00:00 local first

    @property
    def mean_duration_h(self) -> float:
        return float(self.duration_h.mean())


@dataclass(frozen=True)
class SessionDistributions:
    standard: Pool
    rapid: Pool


def dundee_sessions() -> pd.DataFrame:
    """The bundled real Dundee sessions (67,112 rows read), one row per session key."""
    from .parsers import parse_file
    from .parsers.sessions_csv import combine

    results = [parse_file(paths.resource("data", "dundee", name)) for name in DUNDEE_FILES]
    sessions, _ = combine(results)
    return sessions


def session_distributions(sessions: pd.DataFrame, tz: str = UK_TZ,
                          rapid_pool_kw: float = RAPID_POOL_KW) -> SessionDistributions:
    """Extract the pools from parsed (canonical) sessions such as :func:`dundee_sessions`.

    Closed sessions of 1 minute to 48 hours with 0-150 kWh are used. Devices are split
    into rapid and standard by the 95th percentile of their sessions' mean power.
    """
    s = sessions.dropna(subset=["start_utc", "end_utc", "kwh", "device_id"])
    hours = (s["end_utc"] - s["start_utc"]).dt.total_seconds() / 3600.0
    usable = (hours >= 1 / 60) & (hours <= MAX_SESSION_HOURS) & s["kwh"].between(
        0, MAX_SESSION_KWH)
    s, hours = s[usable], hours[usable]
    if s.empty:
        raise ValueError("no usable reference sessions (closed, 1 min-48 h, 0-150 kWh)")
    power = s["kwh"] / hours
    p95 = power.groupby(s["device_id"]).quantile(0.95)
    is_rapid = s["device_id"].map(p95 > rapid_pool_kw).fillna(False).to_numpy(bool)
    local = s["start_utc"].dt.tz_convert(tz)
    how = (local.dt.dayofweek * 24 + local.dt.hour).to_numpy()

    def pool(mask: np.ndarray) -> Pool:
        if not mask.any():
            mask = np.ones(len(s), dtype=bool)
        weights = np.bincount(how[mask], minlength=168).astype(float)
        weights += max(weights.sum() * 1e-4, 1e-9)  # every hour stays possible
        return Pool(duration_h=hours.to_numpy(float)[mask], kwh=s["kwh"].to_numpy(float)[mask],
                    hour_of_week=weights / weights.sum())

    return SessionDistributions(standard=pool(~is_rapid), rapid=pool(is_rapid))


def synthetic_sessions(devices: pd.DataFrame, connectors: pd.DataFrame, reference_sessions,
                       start, end, seed: int, *, idle_share: float = 0.08,
                       occupancy_range: tuple[float, float] = (0.01, 0.45),
                       min_gap_minutes: float = 5.0, default_power_kw: float = 7.0,
                       tz: str = UK_TZ) -> pd.DataFrame:
    """SYNTHETIC sessions for ``connectors`` of ``devices`` between ``start`` and ``end``.

    ``reference_sessions`` is a sessions table (e.g. :func:`dundee_sessions`) or a
    :class:`SessionDistributions`. Each device gets a target occupancy: none for
    ``idle_share`` of them, log-uniform in ``occupancy_range`` for the rest. Sessions on
    one connector never overlap (a driver arriving while it is busy starts when it is
    free, ``min_gap_minutes`` later), and kWh never exceeds rated kW × hours.
    """
    dist = reference_sessions if isinstance(reference_sessions, SessionDistributions) \
        else session_distributions(reference_sessions, tz=tz)
    start_ts, end_ts = _utc(start), _utc(end)
    if end_ts <= start_ts:
        raise ValueError("end must be after start")
    rng = np.random.default_rng(seed)
    period_h = (end_ts - start_ts).total_seconds() / 3600.0

    device_ids = devices["device_id"].astype(object).to_numpy()
    low, high = occupancy_range
    target = np.exp(rng.uniform(np.log(low), np.log(high), size=len(device_ids)))
    target[rng.random(len(device_ids)) < idle_share] = 0.0

    conn = connectors[connectors["device_id"].isin(device_ids)]
    conn_device = conn["device_id"].astype(object).to_numpy()
    conn_connector = conn["connector_id"].astype(object).to_numpy()
    position = pd.Series(np.arange(len(device_ids)), index=device_ids)
    position = position[~position.index.duplicated()]
    device_target = target[position.reindex(conn_device).to_numpy(int)]
    conn_target = np.clip(device_target * rng.lognormal(0.0, 0.2, size=len(conn)), 0, high)
    power = pd.to_numeric(conn["power_kw"], errors="coerce").fillna(default_power_kw)
    power = power.where(power > 0, default_power_kw).to_numpy(float)
    is_rapid = power >= RAPID_CONNECTOR_KW
    mean_h = np.where(is_rapid, dist.rapid.mean_duration_h, dist.standard.mean_duration_h)
    counts = rng.poisson(conn_target * period_h / mean_h)

    session_conn = np.repeat(np.arange(len(conn)), counts)
    n = len(session_conn)
    duration_h = np.empty(n)
    kwh = np.empty(n)
    start_s = np.empty(n, dtype="int64")
    slot_ns = np.arange(start_ts.value, end_ts.value, 3600 * _NS, dtype="int64")
    local = pd.DatetimeIndex(slot_ns, tz="UTC").tz_convert(tz)
    slot_how = np.asarray(local.dayofweek * 24 + local.hour)
    for pool, in_pool in ((dist.standard, ~is_rapid[session_conn]),
                          (dist.rapid, is_rapid[session_conn])):
        k = int(in_pool.sum())
        if not k:
            continue
        pick = rng.integers(0, len(pool.duration_h), size=k)
        duration_h[in_pool] = pool.duration_h[pick]
        kwh[in_pool] = pool.kwh[pick]
        cdf = np.cumsum(pool.hour_of_week[slot_how])
        slot = np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right")
        slot = np.minimum(slot, len(slot_ns) - 1)
        start_s[in_pool] = slot_ns[slot] // _NS + rng.integers(0, 3600, size=k)

    first_s = int(start_s.min()) if n else 0
    span = (int(start_s.max()) - first_s + 1) if n else 1
    order = np.argsort(session_conn.astype("int64") * span + (start_s - first_s), kind="stable")
    session_conn, duration_h, kwh, start_s = (a[order] for a in
                                              (session_conn, duration_h, kwh, start_s))
    duration_s = np.maximum(np.round(duration_h * 3600).astype("int64"), 60)
    start_s = _queue_starts(session_conn, start_s,
                            duration_s + int(round(min_gap_minutes * 60)))
    inside = start_s < end_ts.value // _NS
    session_conn, duration_s, kwh, start_s = (a[inside] for a in
                                              (session_conn, duration_s, kwh, start_s))

    rated = power[session_conn]
    kwh = np.minimum(kwh, rated * duration_s / 3600.0)
    charging_s = np.minimum(duration_s, np.ceil(kwh / rated * 3600.0).astype("int64"))
    start_ns = start_s * _NS
    m = len(start_s)
    prefix = f"synthetic:{seed}:"
    columns = {
        "session_key": np.array([f"{prefix}{i}" for i in range(m)], dtype=object),
        "source_session_id": np.full(m, None, dtype=object),
        "device_id": conn_device[session_conn],
        "connector_id": conn_connector[session_conn],
        "start_utc": _utc_array(start_ns),
        "end_utc": _utc_array(start_ns + duration_s * _NS),
        "charging_end_utc": _utc_array(start_ns + charging_s * _NS),
        "kwh": np.floor(kwh * 1000.0) / 1000.0,  # rounding down keeps kWh <= kW x h
        "source": np.full(m, SOURCE, dtype=object),
    }
    # built with canonical dtypes directly: schema.conform would copy 10 M rows again
    assert list(columns) == list(schema.TABLES["sessions"])
    return pd.DataFrame(columns, copy=False)


def _queue_starts(group: np.ndarray, arrival_s: np.ndarray, busy_s: np.ndarray) -> np.ndarray:
    """First-come first-served start times per group, without a Python loop.

    start_i = max(arrival_i, start_{i-1} + busy_{i-1}) within a group (sorted by arrival)
    solves to start_i = B_i + max_{j<=i}(arrival_j - B_j), B = busy time queued before i;
    the running max is kept inside each group by lifting every group above the last.
    """
    if len(group) == 0:
        return arrival_s
    first = np.r_[0, np.flatnonzero(np.diff(group)) + 1]
    sizes = np.diff(np.r_[first, len(group)])
    exclusive = np.cumsum(busy_s) - busy_s
    before = exclusive - np.repeat(exclusive[first], sizes)
    x = arrival_s - before
    x = x - x.min()
    lift = np.repeat(np.arange(len(first), dtype="int64"), sizes) * (int(x.max()) + 1)
    running = np.maximum.accumulate(x + lift) - lift
    return running + before + (arrival_s - before).min()


def synthetic_devices(n: int, real_devices: pd.DataFrame, real_connectors: pd.DataFrame,
                      seed: int, jitter_m: float = 250.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` SYNTHETIC devices, each a copy of a random real device (with its connectors)
    moved by a normal jitter of ``jitter_m`` metres; for benchmarks at scale."""
    rng = np.random.default_rng(seed)
    has_connectors = real_devices["device_id"].isin(real_connectors["device_id"])
    templates = real_devices[has_connectors & real_devices["latitude"].notna()
                             & real_devices["longitude"].notna()].reset_index(drop=True)
    if templates.empty:
        raise ValueError("no real devices with coordinates and connectors to copy")
    pick = rng.integers(0, len(templates), size=n)
    devices = templates.iloc[pick].reset_index(drop=True)
    new_ids = "synthetic-" + pd.Series(np.arange(n)).astype(str).str.zfill(max(6, len(str(n))))
    lat = devices["latitude"].to_numpy(float)
    lon = devices["longitude"].to_numpy(float)
    devices["latitude"] = lat + rng.normal(0, jitter_m, n) / 111_320.0
    devices["longitude"] = lon + rng.normal(0, jitter_m, n) / (
        111_320.0 * np.cos(np.radians(lat)))
    devices["device_id"] = new_ids
    devices["source"] = SOURCE

    conn = real_connectors.sort_values("device_id", kind="mergesort").reset_index(drop=True)
    ids, first, count = np.unique(conn["device_id"].astype(str).to_numpy(),
                                  return_index=True, return_counts=True)
    where = np.searchsorted(ids, templates["device_id"].astype(str).to_numpy()[pick])
    sizes = count[where]
    offsets = np.arange(sizes.sum()) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    rows = np.repeat(first[where], sizes) + offsets
    connectors = conn.iloc[rows].reset_index(drop=True)
    connectors["device_id"] = np.repeat(new_ids.to_numpy(object), sizes)
    devices["connector_count"] = sizes
    return schema.conform(devices, "devices"), schema.conform(connectors, "connectors")


def _utc(value) -> pd.Timestamp:
    return as_utc(value)


def _utc_array(ns: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")
