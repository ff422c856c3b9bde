"""The checks: per operator, what the inputs show against the data standard.

:class:`CheckRun` examines one input at a time (device data: inside London,
stale records, status values; usage returns: fields and ids, the period,
overlapping sessions, the devices against the reference data, energy possible
at the rated power) and :func:`reliability_checks` judges each rapid network
from the status observations; the findings collect per operator as
:class:`.model.Check` records.
"""

from __future__ import annotations

import itertools
import time
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Optional

import numpy as np
import pandas as pd

from .. import schema
from ..analysis.uptime import DEFAULT_MAX_GAP_HOURS
from ..calendar import ns_utc
from ..progress import Progress
from ..sources.parsers.common import clip
from ..sources.parsers.ocpi import normalise_status
from .inputs import LoadedInput, issues_frame
from .model import (
    CHECKS,
    FAIL,
    LONDON_BBOX,
    MIN_OBSERVED_HOURS,
    NOT_CHECKED,
    NOT_ENOUGH,
    PASS,
    RAPID_CLASSES,
    RELIABILITY_TARGET,
    UNKNOWN_OPERATOR,
    Check,
    Example,
    FieldErrors,
    InputSummary,
    OperatorReport,
    format_utc,
    infer_period,
    parse_period,
    to_utc,
)
from .reliability import describe_hours, reliability, reliability_record


class _Builder:
    """Collects checks per operator while the inputs are examined."""

    def __init__(self, max_rows: int, max_examples: int):
        self.max_rows = max_rows
        self.max_examples = max_examples
        self.ops: dict[str, OperatorReport] = {}

    def op(self, name) -> OperatorReport:
        name = str(name) if name is not None and str(name).strip() else UNKNOWN_OPERATOR
        if name not in self.ops:
            self.ops[name] = OperatorReport(operator=name)
        return self.ops[name]

    def add(self, operator, code: str, source: str, count: int = 0, message: str = "",
            examples: Iterable[Example] = (), field_errors=(), not_checked: bool = False):
        title, severity = CHECKS[code]
        result = NOT_CHECKED if not_checked else (severity if count else PASS)
        # values from the files are quoted cut short: a report stays readable and bounded
        shown = [Example(row=ex.row, id=None if ex.id is None else clip(ex.id),
                         detail=clip(ex.detail))
                 for ex in itertools.islice(examples, self.max_examples)]
        check = Check(code=code, title=title, severity=severity, result=result,
                      count=int(count), message=clip(message, 1000), source=source,
                      field_errors=list(field_errors), examples=shown)
        report = self.op(operator)
        report.checks.append(check)
        if source and source not in report.sources:
            report.sources.append(source)
        return check

    def field_errors(self, issues: pd.DataFrame) -> list[FieldErrors]:
        out = []
        for (name, reason), group in issues.groupby(["field", "reason"], sort=True):
            rows = sorted(set(group["row"].tolist()))
            out.append(FieldErrors(field=str(name), reason=str(reason), total=len(group),
                                   rows=[int(r) for r in rows[: self.max_rows]]))
        return out


def _london_outside(devices: pd.DataFrame) -> tuple[np.ndarray, str]:
    """(outside mask, how it was decided) for devices with coordinates."""
    try:
        wards, boroughs = _london_areas()
    except Exception as exc:  # noqa: BLE001 - any failure: fall back, and say why in the report
        lon = devices["longitude"].to_numpy(float)
        lat = devices["latitude"].to_numpy(float)
        west, south, east, north = LONDON_BBOX
        inside = (lon >= west) & (lon <= east) & (lat >= south) & (lat <= north)
        reason = getattr(exc, "message", None) or str(exc) or type(exc).__name__
        return ~inside, ("Greater London bounding box (boundary files could not be read: "
                         f"{reason})")
    from ..analysis.areas import assign_devices
    assignment = assign_devices(devices[["device_id", "latitude", "longitude"]],
                                wards, boroughs)
    return (assignment.table["assignment_note"] == "outside").to_numpy(), \
        "GLA London wards (2018) and boroughs"


@lru_cache(maxsize=1)
def _london_areas():
    from ..analysis.areas import BOROUGHS_FILE, LONDON_SNAPSHOT, WARDS_FILES, load_area_set
    wards = load_area_set(LONDON_SNAPSHOT / WARDS_FILES[2018], level="ward",
                          version="london_wards_2018")
    boroughs = load_area_set(LONDON_SNAPSHOT / BOROUGHS_FILE, level="borough",
                             version="london_boroughs")
    return wards, boroughs


class CheckRun:
    """One validation: its options, the findings per operator (``b``), the inputs'
    summaries and the timings."""

    def __init__(self, *, period, stale_days, as_of, operator, max_rows, max_examples,
                 progress: Progress):
        self.period = parse_period(period)
        self.stale_days = float(stale_days)
        self.as_of = to_utc(as_of) if as_of is not None else None
        self.operator = operator
        self.progress = progress
        self.b = _Builder(max_rows, max_examples)
        self.inputs: list[InputSummary] = []
        self.london_method = ""
        self.timings: dict[str, float] = {}
        self.as_of_from_period: Optional[pd.Timestamp] = \
            self.period.end if self.period is not None else None
        self.effective_as_of: Optional[pd.Timestamp] = None

    # reference data: devices and connectors from every input that has them
    def reference_tables(self, loaded: list[LoadedInput]):
        devices = [x.devices for x in loaded if x.devices is not None and len(x.devices)]
        connectors = [x.connectors for x in loaded
                      if x.connectors is not None and len(x.connectors)]
        dev = pd.concat(devices, ignore_index=True) if devices else schema.empty("devices")
        con = pd.concat(connectors, ignore_index=True) if connectors else \
            schema.empty("connectors")
        return dev.drop_duplicates("device_id", keep="first"), \
            con.drop_duplicates(["device_id", "connector_id"], keep="first")

    def device_checks(self, item: LoadedInput, as_of: pd.Timestamp):
        devices = item.devices
        if devices is None or devices.empty:
            return
        ops = devices["operator"].fillna(UNKNOWN_OPERATOR)
        started = time.perf_counter()
        located = devices["latitude"].notna() & devices["longitude"].notna()
        outside = np.zeros(len(devices), dtype=bool)
        if located.any():
            mask, self.london_method = _london_outside(devices[located])
            outside[np.flatnonzero(located.to_numpy())[mask]] = True
        self.timings["london_check"] = self.timings.get("london_check", 0.0) + \
            time.perf_counter() - started
        updated = devices["updated_utc"].where(devices["updated_utc"].notna(),
                                               devices["created_utc"])
        limit = as_of - pd.Timedelta(days=self.stale_days)
        stale = (updated < limit) | updated.isna()
        for name in sorted(set(ops)):
            mine = (ops == name).to_numpy()
            sub = devices[mine]
            out = outside[mine]
            self.b.add(name, "outside_london", item.name, int(out.sum()),
                       f"{int(out.sum()):,} of {len(sub):,} devices are outside London "
                       f"({self.london_method or 'no coordinates'}).",
                       [Example(id=str(d), detail=f"{lat:.5f}, {lon:.5f}")
                        for d, lat, lon in zip(sub["device_id"][out], sub["latitude"][out],
                                               sub["longitude"][out])])
            st = stale[mine].to_numpy()
            upd = updated[mine]
            self.b.add(name, "stale", item.name, int(st.sum()),
                       f"{int(st.sum()):,} of {len(sub):,} devices were last updated more "
                       f"than {self.stale_days:g} days before {as_of:%Y-%m-%d}.",
                       [Example(id=str(d), detail=f"last updated {format_utc(u) or 'never'}")
                        for d, u in sorted(zip(sub["device_id"][st], upd[st]),
                                           key=lambda p: (pd.notna(p[1]), p[1]))])
            report = self.b.op(name)
            report.devices += len(sub)
            report.rapid_devices += int(sub["power_class"].isin(RAPID_CLASSES).sum())
        if item.connectors is not None and len(item.connectors):
            owner = dict(zip(devices["device_id"], ops))
            per = item.connectors["device_id"].map(owner).fillna(UNKNOWN_OPERATOR)
            for name, count in per.value_counts().items():
                self.b.op(name).connectors += int(count)

    def schema_checks(self, item: LoadedInput, operators: list[str]):
        issues = item.issues if item.issues is not None else issues_frame()
        if item.kind == "ncr" and len(issues):  # rows the parser dropped: owner unknown
            issues = issues.assign(operator=UNKNOWN_OPERATOR)
        if item.kind != "usage-return" and len(issues):
            extra = set(issues["operator"].fillna(UNKNOWN_OPERATOR)) - set(operators)
            operators = list(operators) + sorted(extra)
        for name in operators:
            if item.kind == "usage-return":
                mine = issues
            else:
                mine = issues[issues["operator"].fillna(UNKNOWN_OPERATOR) == name]
            for code in ("schema", "duplicate_ids"):
                sub = mine[mine["check"] == code]
                rows = sub["row"].nunique()
                what = "row(s) with an invalid or missing field" if code == "schema" \
                    else "row(s) repeating an id"
                errors_ = self.b.field_errors(sub)
                top = "; ".join(f"{e.field} {e.reason} (\u00d7{e.total:,})"
                                for e in sorted(errors_, key=lambda e: -e.total)[:3])
                more = f"; and {len(errors_) - 3} more" if len(errors_) > 3 else ""
                self.b.add(name, code, item.name, int(rows),
                           f"{rows:,} {what}: {top}{more}." if rows else "No problems found.",
                           field_errors=errors_)

    def status_checks(self, item: LoadedInput):
        raw = item.raw_status
        if raw is None or raw.empty:
            return
        for name, group in raw.groupby("operator", sort=True):
            values = group["raw"].astype(str)
            standard = values.isin(schema.STATUS_VALUES)
            odd = values[~standard]
            examples = []
            for value, count in odd.value_counts().items():
                status, known = normalise_status(value)
                how = f"read as {status}" if known else "not recognised, counted as UNKNOWN"
                examples.append(Example(id=str(value), detail=f"{count:,} EVSE(s); {how}"))
            self.b.add(name, "unknown_status", item.name, int(len(odd)),
                       f"{len(odd):,} of {len(values):,} status values are not OCPI 2.2.1 "
                       "EVSE status values." if len(odd) else
                       f"All {len(values):,} status values are OCPI 2.2.1 values.",
                       examples)

    def return_checks(self, item: LoadedInput, ref_devices: pd.DataFrame,
                      ref_connectors: pd.DataFrame, have_reference: bool):
        sessions = item.sessions
        rows = item.session_rows
        name = self.return_operator(item, ref_devices)
        self.b.op(name).sessions += len(sessions)
        self.schema_checks(item, [name])
        period = self.period or infer_period(item.name, sessions["start_utc"])
        summary = self.inputs[-1]
        summary.operators = [name]
        if period is not None:
            summary.period, summary.period_source = period.label, period.source
            if self.as_of_from_period is None or period.end > self.as_of_from_period:
                self.as_of_from_period = period.end
        # outside the period
        if period is None:
            self.b.add(name, "outside_period", item.name, message="No sessions and no "
                       "period given.", not_checked=True)
        else:
            outside = ~period.contains(sessions["start_utc"]).to_numpy()
            self.b.add(name, "outside_period", item.name, int(outside.sum()),
                       f"{int(outside.sum()):,} of {len(sessions):,} sessions start outside "
                       f"{period.label} (period taken from: {period.source}).",
                       [Example(row=int(r), id=f"{d} / {c}", detail=f"starts {format_utc(s)}")
                        for r, d, c, s in zip(rows[outside], sessions["device_id"][outside],
                                              sessions["connector_id"][outside],
                                              sessions["start_utc"][outside])])
        self.overlap_check(name, item)
        if not have_reference:
            for code in ("not_in_reference", "not_in_return", "impossible_energy"):
                self.b.add(name, code, item.name, message="No device reference data given.",
                           not_checked=True)
            return
        self.reference_checks(name, item, ref_devices, ref_connectors)

    def return_operator(self, item: LoadedInput, ref_devices: pd.DataFrame) -> str:
        if self.operator:
            return self.operator
        ids = item.sessions["device_id"].dropna().unique()
        if len(ref_devices) and len(ids):
            owners = ref_devices.set_index("device_id")["operator"].reindex(ids).dropna()
            if len(owners):
                return str(owners.value_counts().index[0])
        return Path(item.name).name.split(".")[0]

    def overlap_check(self, name: str, item: LoadedInput):
        s = item.sessions
        frame = pd.DataFrame({
            "row": item.session_rows,
            "key": s["device_id"].fillna("") + "\x1f" + s["connector_id"].fillna(""),
            "start": ns_utc(s["start_utc"]),
            "end": ns_utc(s["end_utc"].where(s["end_utc"].notna(), s["start_utc"])),
        }).sort_values(["key", "start", "row"], kind="stable")
        running = frame.groupby("key", sort=False)["end"].cummax()
        before = running.groupby(frame["key"], sort=False).shift(1)
        hit = (frame["start"] < before).to_numpy()
        prior_row = _row_of_running_max(frame)
        flagged = frame[hit]
        examples = [Example(row=int(r), id=k.replace("\x1f", " / "),
                            detail=f"starts {_fmt_ns(st)} before the session in row "
                                   f"{int(p)} has ended")
                    for r, k, st, p in zip(flagged["row"], flagged["key"], flagged["start"],
                                           prior_row[hit])]
        self.b.add(name, "overlapping_sessions", item.name, int(hit.sum()),
                   f"{int(hit.sum()):,} session(s) start while an earlier session on the same "
                   "connector is still plugged in.", examples)

    def reference_checks(self, name, item, ref_devices, ref_connectors):
        s = item.sessions
        rows = item.session_rows
        known_devices = set(ref_devices["device_id"])
        known_pairs = set(zip(ref_connectors["device_id"], ref_connectors["connector_id"]))
        device_known = s["device_id"].isin(known_devices).to_numpy()
        pair_known = np.array([p in known_pairs for p in zip(s["device_id"],
                                                              s["connector_id"])], dtype=bool)
        unknown_devices = sorted(set(s["device_id"][~device_known].dropna()))
        unknown_pairs = sorted({(d, c) for d, c, k, pk in zip(
            s["device_id"], s["connector_id"], device_known, pair_known) if k and not pk})
        first_row = {}
        for r, d, c in zip(rows, s["device_id"], s["connector_id"]):
            first_row.setdefault((d, None), r)
            first_row.setdefault((d, c), r)
        examples = [Example(row=int(first_row[(d, None)]), id=str(d),
                            detail="device not in the reference data")
                    for d in unknown_devices]
        examples += [Example(row=int(first_row[(d, c)]), id=f"{d} / {c}",
                             detail="connector not listed for this device")
                     for d, c in unknown_pairs]
        count = len(unknown_devices) + len(unknown_pairs)
        self.b.add(name, "not_in_reference", item.name, count,
                   f"{len(unknown_devices):,} device(s) and {len(unknown_pairs):,} "
                   f"connector(s) in the return are not in the reference data "
                   f"({int((~pair_known).sum()):,} sessions).", examples)
        mine = ref_devices[ref_devices["operator"].fillna(UNKNOWN_OPERATOR) == name]
        silent = sorted(set(mine["device_id"]) - set(s["device_id"].dropna()))
        self.b.add(name, "not_in_return", item.name, len(silent),
                   f"{len(silent):,} of {len(mine):,} reference devices of {name} have no "
                   "session in the return (unused, or missing from the return).",
                   [Example(id=str(d), detail="no session") for d in silent])
        # rated power: the connector's, else the device's highest
        kw = pd.Series(list(zip(s["device_id"], s["connector_id"])), index=s.index,
                       dtype=object).map(
            dict(zip(zip(ref_connectors["device_id"], ref_connectors["connector_id"]),
                     ref_connectors["power_kw"]))).astype(float)
        kw = kw.where(kw.notna(), s["device_id"].map(
            dict(zip(ref_devices["device_id"], ref_devices["max_power_kw"]))).astype(float))
        hours = (s["end_utc"] - s["start_utc"]).dt.total_seconds().to_numpy(float) / 3600.0
        limit = kw.to_numpy(float) * hours
        kwh = s["kwh"].to_numpy(float)
        checked = np.isfinite(limit) & np.isfinite(kwh)
        bad = checked & (kwh > limit + 1e-9)
        self.b.add(name, "impossible_energy", item.name, int(bad.sum()),
                   f"{int(bad.sum()):,} of {int(checked.sum()):,} sessions with a known "
                   "rating report more energy than the connector can deliver in the "
                   "plugged-in time"
                   + (f"; {int((~checked).sum()):,} could not be checked (rating or end "
                      "unknown)." if (~checked).any() else "."),
                   [Example(row=int(r), id=f"{d} / {c}",
                            detail=f"{e:g} kWh in {h:.2f} h at {k:g} kW (at most "
                                   f"{k * h:.2f} kWh)")
                    for r, d, c, e, h, k in zip(rows[bad], s["device_id"][bad],
                                                s["connector_id"][bad], kwh[bad], hours[bad],
                                                kw.to_numpy(float)[bad])])


def _fmt_ns(ns) -> str:
    return pd.Timestamp(int(ns), tz="UTC").strftime("%Y-%m-%dT%H:%M:%SZ")


def _row_of_running_max(frame: pd.DataFrame) -> np.ndarray:
    """For each session (in frame order, sorted by connector and start), the row of the
    earlier session on the same connector with the latest end so far (0 for none)."""
    key = frame["key"]
    running = frame.groupby("key", sort=False)["end"].cummax()
    before = running.groupby(key, sort=False).shift(1)
    new_max = before.isna() | (frame["end"] > before)
    holder = frame["row"].where(new_max).groupby(key, sort=False).ffill()
    return holder.groupby(key, sort=False).shift(1).fillna(0).to_numpy("int64")


def reliability_checks(run: CheckRun, snapshots, devices, start, end,
                       max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                       min_observed_hours: float = MIN_OBSERVED_HOURS):
    """Each operator's reliability figures and the 99 % check of its rapid network."""
    if snapshots is None or snapshots.empty:
        for op in run.b.ops.values():
            run.b.add(op.operator, "reliability", "", message="No status snapshots given.",
                      not_checked=True)
        return
    per_device = reliability(snapshots, devices, start=start, end=end,
                             max_gap_hours=max_gap_hours,
                             min_observed_hours=min_observed_hours)
    for name in sorted(set(per_device["operator"]) | set(run.b.ops)):
        mine = per_device[per_device["operator"] == name]
        report = run.b.op(name)
        if mine.empty:
            run.b.add(name, "reliability", "", message="No observed status time for this "
                      "operator's devices.", not_checked=True)
            continue
        report.reliability = reliability_record("operator", name, name, mine,
                                                min_observed_hours=min_observed_hours)
        rapid = mine[mine["power_class"].isin(RAPID_CLASSES)]
        report.device_reliability = [
            reliability_record("device", r.device_id, name, mine.iloc[[i]], r.power_class,
                               min_observed_hours)
            for i, r in enumerate(mine.itertuples(index=False))]
        report.device_reliability.sort(key=lambda r: (r.reliability is None,
                                                      r.reliability or 0.0, r.id))
        if rapid.empty:
            run.b.add(name, "reliability", "status history",
                      message="No rapid devices (50 kW and more) with status history.",
                      not_checked=True)
            continue
        rec = reliability_record("rapid network", name, name, rapid, "rapid",
                                 min_observed_hours)
        report.rapid_reliability = rec
        hours = describe_hours(rec)
        if rec.result == NOT_ENOUGH:
            so_far = f"; reliability so far {rec.reliability:.2%}" \
                if rec.reliability is not None else ""
            run.b.add(name, "reliability", "status history",
                      message=f"Not enough observed time to judge: {hours} of "
                              f"{len(rapid):,} rapid device(s); the test needs at least "
                              f"{min_observed_hours:g} counted hours{so_far}.",
                      not_checked=True)
            continue
        below = rec.result == FAIL
        worst = [Example(id=r.id, detail=f"{r.reliability:.2%} over {r.counted_h:,.1f} "
                                         f"counted h ({r.down_h:.1f} h not working)")
                 for r in report.device_reliability
                 if r.power_class in RAPID_CLASSES and r.reliability is not None
                 and r.reliability < RELIABILITY_TARGET]
        run.b.add(name, "reliability", "status history", 1 if below else 0,
                  f"Rapid network reliability {rec.reliability:.2%} over {hours} of "
                  f"{len(rapid):,} rapid device(s) (target {RELIABILITY_TARGET:.0%}).", worst)
