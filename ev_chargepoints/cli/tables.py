"""`utilisation` and `summary`: the store's figures as CSV tables."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import EvChargepointsError
from .common import Command, add_store_argument, command_progress

# --- utilisation -----------------------------------------------------------------------

UTILISATION_COLUMNS = ["device_id", "period", "period_start", "period_end", "sessions", "kwh",
                       "plugged_hours", "available_hours", "occupancy_pct", "sessions_per_day",
                       "kwh_per_day", "capacity_factor_pct", "in_use_days", "idle_share_pct",
                       "uptime_pct", "observed_coverage_pct"]


def _utilisation_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.add_argument("--period", choices=["month", "quarter", "year"], default="quarter")
    p.add_argument("--by", choices=["device", "connector", "evse"], default="device",
                   help="evse only with --from-status")
    p.add_argument("--from-status", action="store_true",
                   help="occupancy from polled live status (see 'watch') instead of sessions: "
                        "shares of observed time, uptime, and the observed hours and "
                        "observations behind them")
    p.add_argument("--max-gap-hours", type=float, default=None, metavar="HOURS",
                   help="with --from-status: how long one observation may hold when the "
                        "next is late (default 1); the rest of a longer gap is unobserved")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")


def cmd_utilisation(args) -> int:
    from ..core.outputs.tables import write_csv
    from ..core.store.usage_kind import stamp
    from ..core.workspace import Workspace

    with Workspace(args.store, create=False) as ws:
        synthetic = ws.has_synthetic_usage()
        if args.from_status:
            frame = ws.status_occupancy(args.period, by="device" if args.by == "device"
                                        else "evse", max_gap_hours=args.max_gap_hours)
            path = write_csv(frame, args.out, synthetic=synthetic)
            print(stamp(f"{len(frame):,} rows of status-based occupancy written to {path}",
                        synthetic))
            return 0
        if args.by == "evse":
            raise EvChargepointsError("--by evse needs --from-status.")
        if args.max_gap_hours is not None:
            raise EvChargepointsError("--max-gap-hours goes with --from-status.")
        frame = ws.utilisation_with_trends(period=args.period, by=args.by,
                                           progress=command_progress(args))
    first = ["device_id", "connector_id"] if args.by == "connector" else ["device_id"]
    ordered = first + [c for c in UTILISATION_COLUMNS[1:] if c in frame.columns]
    ordered += [c for c in frame.columns if c not in ordered]
    write_csv(frame[ordered], args.out, synthetic=synthetic)
    print(stamp(f"{len(frame):,} rows ({frame['device_id'].nunique():,} devices, "
                f"{frame['period'].nunique()} periods) written to {args.out}", synthetic))
    return 0


UTILISATION = Command("utilisation", "utilisation per device (or connector) and period, as CSV",
                      _utilisation_args, cmd_utilisation)


# --- summary ---------------------------------------------------------------------------

SUMMARY_FIRST = ["area_code", "area_name", "parent_code", "parent_name", "population",
                 "devices", "connectors", "rapid_devices", "ultra_devices", "devices_per_10k",
                 "period", "sessions", "kwh", "occupancy_pct", "capacity_factor_pct"]


def _summary_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.epilog = ("On a shared PostGIS store each login sees its own devices' usage in full "
                "where it sees every device of an area and the published aggregates "
                "elsewhere (none for a filtered selection); the column usage_access and "
                "a printed line say which (docs/shared-store.md, section 6).")
    p.add_argument("--areas", type=Path, help="your own areas: a boundary file (GeoPackage, "
                                              "zipped Shapefile, GeoJSON) or the name of an "
                                              "area layer in the store (boundaries fetched "
                                              "or imported; default: bundled London wards "
                                              "2018 and boroughs)")
    p.add_argument("--code-field", help="area code field of --areas (auto-detected)")
    p.add_argument("--name-field", help="area name field of --areas (auto-detected)")
    p.add_argument("--level", choices=["borough", "ward"], default="borough")
    p.add_argument("--period", help="e.g. 2022-Q2 (default: the latest with substantial usage)")
    p.add_argument("--period-kind", choices=["month", "quarter", "year"], default="quarter")
    p.add_argument("--operator", action="append", help="only this operator (repeatable)")
    p.add_argument("--power-class", action="append", choices=["slow", "fast", "rapid", "ultra"])
    p.add_argument("--location-type", action="append")
    p.add_argument("--threshold", type=int, default=3,
                   help="suppress usage figures of areas with fewer devices (default 3) or "
                        "a single operator")
    p.add_argument("--internal", action="store_true",
                   help="not for publication: keep every usage figure; the CSV and this "
                        "command's output say INTERNAL")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")


def cmd_summary(args) -> int:
    from ..core.outputs import disclosure
    from ..core.outputs.tables import write_csv
    from ..core.store.usage_kind import stamp
    from ..core.workspace import Workspace

    if args.threshold < 1:
        raise EvChargepointsError("--threshold must be at least 1.")
    filters = {k: v for k, v in (("operator", args.operator), ("power_class", args.power_class),
                                 ("location_type", args.location_type)) if v}
    with Workspace(args.store, create=False) as ws:
        table, assignment = ws.publishable_summary(
            level=args.level, period=args.period, period_kind=args.period_kind,
            filters=filters or None, areas_path=args.areas, code_field=args.code_field,
            name_field=args.name_field, threshold=args.threshold, internal=args.internal,
            progress=command_progress(args))
        synthetic = ws.has_synthetic_usage()
    ordered = [c for c in SUMMARY_FIRST if c in table.columns]
    ordered += [c for c in table.columns if c not in ordered]
    write_csv(table[ordered], args.out, synthetic=synthetic, internal=args.internal)
    for line in assignment.report.lines():
        print(line, file=sys.stderr)
    if table.attrs.get("reconciliation"):
        print(table.attrs["reconciliation"], file=sys.stderr)
    print(suppression_line(table, args.threshold), file=sys.stderr)
    if table.attrs.get("role_note"):  # the shared store: what this login may see
        print(table.attrs["role_note"])
    period = table.attrs.get("period")
    print(disclosure.stamp(stamp(f"{len(table):,} areas ({args.level}"
                                 f"{', ' + period if period else ''}) written to {args.out}",
                                 synthetic), args.internal))
    return 0


def suppression_line(table, threshold: int) -> str:
    """What disclosure control did to a published summary, or that it was lifted."""
    from ..core.outputs import disclosure

    if table.attrs.get("internal"):
        return f"{disclosure.INTERNAL_NOTE}."
    return (f"{disclosure.note(threshold)}: {len(table.attrs.get('suppressed', [])):,} of "
            f"{len(table):,} areas (--internal keeps them, not for publication).")


SUMMARY = Command("summary", "charge points and usage per borough, ward or your own areas, "
                             "as CSV", _summary_args, cmd_summary)
