"""The data standard's validator and the per-operator conformance report.

Checks usage returns, device reference files (``resources/standard/
device_reference.schema.json``), National Chargepoint Registry exports and OCPI
2.2.1 Locations feeds, and reports per operator:

schema            missing or invalid fields, per field with row numbers (capped)
duplicate_ids     ids (device+connector, session, location, EVSE) used twice
outside_london    devices outside the GLA ward and borough boundaries
not_in_reference  devices/connectors in a return but not in the reference data
not_in_return     reference devices of the operator without a session in the return
impossible_energy kWh > rated kW x plugged-in hours
overlapping       two sessions at once on one connector
outside_period    sessions starting outside the return's quarter
stale             last_updated older than ``stale_days`` before the as-of date
unknown_status    EVSE status values that are not OCPI 2.2.1 values
reliability       time-weighted reliability over observed time only (status
                  snapshots, regulation grouping); a rapid network under 99 % fails,
                  one with too little observed time is not judged

The usage-return rules are the parser's (one Table Schema, read by
``parsers.usage_return.load_schema``); the checks add what needs more than one
row or more than one file. This module runs a validation; the rest of the data
standard lives beside it: :mod:`.model` (rules, constants, report records,
periods), :mod:`.inputs` (reading the files), :mod:`.checks` (the checks),
:mod:`.reliability` (the 99 % measurement) and :mod:`.report` (HTML and JSON).
The front doors reach it through the Workspace facade (``Workspace.validate``,
``Workspace.validate_files``, ``Workspace.validate_feed``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import pandas as pd

from .. import errors, schema
from ..analysis.uptime import DEFAULT_MAX_GAP_HOURS
from ..progress import Progress
from .checks import CheckRun, reliability_checks
from .inputs import LoadedInput, input_summary, read_input
from .model import (
    DEFAULT_MAX_EXAMPLES,
    DEFAULT_MAX_ROWS,
    DEFAULT_STALE_DAYS,
    DEFINITIONS,
    FAIL,
    MIN_OBSERVED_HOURS,
    PASS,
    UNKNOWN_OPERATOR,
    WARN,
    ConformanceReport,
    InputSummary,
    OperatorReport,
    format_utc,
)
from .reliability import check_reliability_options
from .report import write_report


def _as_progress(progress) -> Progress:
    if progress is None:
        return Progress()
    if isinstance(progress, Progress):
        return progress
    if callable(progress):
        return Progress(progress)
    raise TypeError("progress must be a Progress or a callable(percent, message)")


def validate_files(paths: list, reference=None, period=None,
                   stale_days: float = DEFAULT_STALE_DAYS, out_dir=None,
                   progress=None, *, as_of=None, operator: Optional[str] = None,
                   status_snapshots: Optional[pd.DataFrame] = None,
                   status_devices: Optional[pd.DataFrame] = None,
                   status_name: str = "status history",
                   max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                   min_observed_hours: float = MIN_OBSERVED_HOURS,
                   max_rows: int = DEFAULT_MAX_ROWS,
                   max_examples: int = DEFAULT_MAX_EXAMPLES) -> ConformanceReport:
    """Validate files and return the per-operator conformance report.

    ``paths``: usage returns, device reference CSVs, NCR exports and OCPI Locations
    JSON (any of them gzip-compressed); each is checked and reported. ``reference``:
    a path or list of paths (device reference, NCR or OCPI Locations) used only to
    look devices up for the returns, not reported on; device reference data among
    ``paths`` is used for that too. ``period``: the return period (``"2024-Q1"``,
    ``"2024-01-01/2024-04-01"`` or a (start, end) pair); else per return from its file
    name or data (:func:`.model.infer_period`). ``as_of``: the date ``stale_days`` counts back
    from (default: the end of the latest return period, else now). ``operator``: the
    operator of the usage returns (default: the operator owning most of a return's
    devices in the reference data, else the file name). ``status_snapshots``: a status
    history (canonical table, e.g. a store's watched history, listed as input
    ``status_name``) to compute reliability from, with the snapshots of any OCPI
    Locations input; ``status_devices``: devices (canonical) naming the operator and
    power class of its devices where the inputs do not. Reliability counts observed
    time only (:func:`.reliability.reliability`, ``max_gap_hours``); under
    ``min_observed_hours`` counted hours it is reported as :data:`.model.NOT_ENOUGH`,
    not judged. ``out_dir``: also write report.html and report.json there.
    ``progress``: a :class:`Progress` or a callable(percent, message).

    Errors in the files are findings in the report, never exceptions; only a path that
    is not a file, or a file that is not text at all (a GeoPackage, a workbook:
    :class:`errors.NotText`), raises :class:`errors.ParseError`, before anything is
    written.
    """
    sources = []
    for path in list(paths):
        path = Path(path)
        if not path.is_file():
            raise errors.ParseError("the file does not exist or is not a file", str(path))
        sources.append((path.name, path.read_bytes()))
    refs = []
    for path in ([] if reference is None else
                 [reference] if isinstance(reference, (str, Path)) else list(reference)):
        path = Path(path)
        if not path.is_file():
            raise errors.ParseError("the reference file does not exist", str(path))
        refs.append((path.name, path.read_bytes()))
    return validate_sources(sources, refs, period=period, stale_days=stale_days,
                            out_dir=out_dir, progress=progress, as_of=as_of,
                            operator=operator, status_snapshots=status_snapshots,
                            status_devices=status_devices, status_name=status_name,
                            max_gap_hours=max_gap_hours,
                            min_observed_hours=min_observed_hours,
                            max_rows=max_rows, max_examples=max_examples)


def validate_ocpi_feed(url: str, transport, *, token: Optional[str] = None,
                       token_encoding: str = "base64", discover: bool = False,
                       reference=None, period=None, stale_days: float = DEFAULT_STALE_DAYS,
                       as_of=None, out_dir=None, progress=None, http=None,
                       max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                       min_observed_hours: float = MIN_OBSERVED_HOURS,
                       max_rows: int = DEFAULT_MAX_ROWS,
                       max_examples: int = DEFAULT_MAX_EXAMPLES) -> ConformanceReport:
    """Fetch an OCPI 2.2.1 Locations feed and validate it.

    ``url`` is the Locations endpoint (``discover=False``, typical for UK open feeds)
    or the versions URL (``discover=True``). ``transport`` is any
    :class:`transport.Transport` (requests headless, QGIS's network stack in QGIS);
    ``http`` an :class:`http.HttpClient` to use instead. Each EVSE's status is
    observed once, at its ``last_updated``, and counts for at most ``max_gap_hours``:
    one fetch is far too little observed time for the 99 % test (watch the feed into
    a store and validate with its history for that).
    """
    import json

    from ..sources.http import HttpClient
    from ..sources.ocpi_feed import OcpiClient

    prog = _as_progress(progress)
    client = OcpiClient(http or HttpClient(transport), token=token,
                        token_encoding=token_encoding,
                        versions_url=url if discover else None,
                        endpoints=None if discover else {"locations": url})
    prog.report(0, "Fetching OCPI Locations")
    started = time.perf_counter()
    fetched = client.fetch_locations(is_cancelled=prog.cancelled)
    fetch_s = time.perf_counter() - started
    name = fetched.report.url
    payload = json.dumps(fetched.items).encode("utf-8")
    refs = []
    for path in ([] if reference is None else
                 [reference] if isinstance(reference, (str, Path)) else list(reference)):
        refs.append((Path(path).name, Path(path).read_bytes()))
    report = validate_sources([(name, payload)], refs, period=period, stale_days=stale_days,
                              out_dir=None, progress=prog.scaled(20, 100),
                              as_of=as_of if as_of is not None else pd.Timestamp.now("UTC"),
                              max_gap_hours=max_gap_hours,
                              min_observed_hours=min_observed_hours,
                              max_rows=max_rows, max_examples=max_examples,
                              extra_warnings={name: fetched.report.warnings})
    report.timings_s["fetch"] = round(fetch_s, 3)
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def validate_sources(sources: list, references: list = (), *, period=None,
                     stale_days: float = DEFAULT_STALE_DAYS, out_dir=None, progress=None,
                     as_of=None, operator: Optional[str] = None,
                     status_snapshots: Optional[pd.DataFrame] = None,
                     status_devices: Optional[pd.DataFrame] = None,
                     status_name: str = "status history",
                     max_gap_hours: float = DEFAULT_MAX_GAP_HOURS,
                     min_observed_hours: float = MIN_OBSERVED_HOURS,
                     max_rows: int = DEFAULT_MAX_ROWS,
                     max_examples: int = DEFAULT_MAX_EXAMPLES,
                     extra_warnings: Optional[dict] = None) -> ConformanceReport:
    """Like :func:`validate_files`, for in-memory inputs: lists of (name, bytes)."""
    check_reliability_options(max_gap_hours, min_observed_hours)
    t0 = time.perf_counter()
    prog = _as_progress(progress)
    run = CheckRun(period=period, stale_days=stale_days, as_of=as_of, operator=operator,
                   max_rows=max_rows, max_examples=max_examples, progress=prog)
    total = max(1, len(sources) + len(references))
    loaded: list[LoadedInput] = []
    lookups: list[LoadedInput] = []
    for i, (name, data) in enumerate(list(sources) + list(references)):
        prog.check_cancelled()
        prog.report(60.0 * i / total, f"Reading {name}")
        item = read_input(data, name, operator)
        for text in (extra_warnings or {}).get(name, []):
            item.warnings.append(text)
        (loaded if i < len(sources) else lookups).append(item)
    run.timings["read"] = round(time.perf_counter() - t0, 3)

    reference_items = [x for x in loaded + lookups
                       if x.kind in ("device-reference", "ncr", "ocpi-locations")
                       and x.error is None]
    ref_devices, ref_connectors = run.reference_tables(reference_items)
    have_reference = bool(len(ref_devices))

    # returns first: their periods give the default as-of date
    t1 = time.perf_counter()
    order = sorted(range(len(loaded)), key=lambda i: loaded[i].kind != "usage-return")
    summaries: dict[int, InputSummary] = {}
    for i in order:
        item = loaded[i]
        prog.check_cancelled()
        prog.report(60 + 30.0 * len(summaries) / max(1, len(loaded)), f"Checking {item.name}")
        summary = input_summary(item)
        run.inputs.append(summary)
        summaries[i] = summary
        if item.error is not None:
            for name in item.error_operators:
                run.b.add(name, "schema" if item.kind in ("usage-return", "device-reference")
                          else "file", item.name, 1, item.error)
            summary.operators = list(item.error_operators)
            continue
        if item.kind == "usage-return":
            run.return_checks(item, ref_devices, ref_connectors, have_reference)
        elif item.kind in ("device-reference", "ncr", "ocpi-locations"):
            as_of_ = run.as_of if run.as_of is not None else run.as_of_from_period
            if as_of_ is None:
                as_of_ = pd.Timestamp.now("UTC").floor("s")
            run.effective_as_of = as_of_
            run.schema_checks(item, item.operators)
            run.device_checks(item, as_of_)
            run.status_checks(item)
        else:
            name = operator or Path(item.name).name.split(".")[0]
            run.b.add(name, "file", item.name, 1,
                      f"{item.kind} files are not part of the data standard; send a usage "
                      "return (CSV) or device reference data.")
            summary.operators = [name]
    run.inputs = [summaries[i] for i in range(len(loaded))]
    run.timings["checks"] = round(time.perf_counter() - t1, 3)
    for item in lookups:
        run.inputs.append(input_summary(item, role="reference"))

    # reliability from every status observation available
    t2 = time.perf_counter()
    snaps = [x.snapshots for x in loaded if x.error is None and x.snapshots is not None
             and len(x.snapshots)]
    owners = ref_devices
    if status_snapshots is not None and len(status_snapshots):
        snaps.append(schema.conform(status_snapshots, "status_snapshots"))
        if status_devices is not None and len(status_devices):
            owners = pd.concat([ref_devices, schema.conform(status_devices, "devices")],
                               ignore_index=True).drop_duplicates("device_id", keep="first")
    as_of_final = run.as_of if run.as_of is not None else run.as_of_from_period
    # only observed time counts: the window is the period given, else all observations
    start, end = (run.period.start, run.period.end) if run.period is not None else \
        (None, None)
    reliability_checks(run, pd.concat(snaps, ignore_index=True) if snaps else None,
                       owners, start, end, max_gap_hours, min_observed_hours)
    if status_snapshots is not None and len(status_snapshots):
        observed = owners.set_index("device_id")["operator"].reindex(
            pd.unique(status_snapshots["device_id"].astype(object))) if len(owners) else None
        run.inputs.append(InputSummary(
            name=status_name, kind="status-history", role="status",
            rows=len(status_snapshots),
            operators=sorted({str(o) if pd.notna(o) else UNKNOWN_OPERATOR for o in observed})
            if observed is not None else [UNKNOWN_OPERATOR]))
    run.timings["reliability"] = round(time.perf_counter() - t2, 3)

    report = ConformanceReport(
        generated_utc=format_utc(pd.Timestamp.now("UTC")),
        as_of_utc=format_utc(run.effective_as_of or as_of_final
                             or pd.Timestamp.now("UTC")),
        stale_days=run.stale_days, period=run.period.label if run.period else None,
        max_gap_hours=float(max_gap_hours), min_observed_hours=float(min_observed_hours),
        london_check=run.london_method, inputs=run.inputs,
        operators=[_finish(op) for _, op in sorted(run.b.ops.items(),
                                                   key=lambda kv: kv[0].lower())],
        definitions=dict(DEFINITIONS))
    run.timings["total"] = round(time.perf_counter() - t0, 3)
    report.timings_s = dict(run.timings)
    prog.report(100, "Conformance report ready")
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def _finish(op: OperatorReport) -> OperatorReport:
    fails = [c for c in op.checks if c.result == FAIL]
    warns = [c for c in op.checks if c.result == WARN]
    op.verdict = FAIL if fails else WARN if warns else PASS
    op.reasons = [f"{c.title}: {c.message}" for c in fails + warns]
    return op
