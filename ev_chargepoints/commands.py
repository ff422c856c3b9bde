"""The CLI subcommands: each adapts arguments to the core Workspace facade."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from .cli import command
from .core.errors import EvChargepointsError, HttpError
from .core.progress import Progress

DEFAULT_DATASTORE = "https://data.london.gov.uk"
# What `fetch --datastore` without an address fetches from instead, when set: a mirror,
# or the local server the README's examples are tested against.
DATASTORE_ENV = "EV_CHARGEPOINTS_DATASTORE_URL"


def default_datastore() -> str:
    return os.environ.get(DATASTORE_ENV, "").strip() or DEFAULT_DATASTORE


def _progress(args) -> Progress:
    """A command's progress: its messages go to the log, which -v shows on stderr with
    their percentage (cli.py), each once."""
    return Progress()


def _secret_from_env(var: str | None, what: str) -> str | None:
    if not var:
        return None
    value = os.environ.get(var)
    if not value:
        raise EvChargepointsError(f"The environment variable {var} that should hold the "
                                  f"{what} is not set or empty.")
    return value


STORE_HELP = ("the history store: a GeoPackage file, or a shared PostGIS store as "
              "postgresql://user@host:port/database or service=NAME (passwords go in "
              "~/.pgpass or pg_service.conf, never on the command line)")


def add_store_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument("--store", required=True, metavar="STORE", type=store_target,
                   help=STORE_HELP)


def store_target(text: str):
    """argparse type: a parsed store target (a password in it is refused)."""
    from .core.store.address import parse_target

    try:
        return parse_target(text)
    except EvChargepointsError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def existing_store(target):
    """The target of a command that reads a store: a GeoPackage must already exist
    (a database store is checked when it is opened)."""
    if not target.is_database and not target.path.exists():
        raise EvChargepointsError(f"There is no store at {target.path}; import or fetch "
                                  "first.")
    return target


def _print_imports(reports) -> int:
    from .core.workspace import describe_import

    failed = 0
    for report in reports:
        print(describe_import(report))
        failed += report.outcome == "failed"
    return failed


# --- import ------------------------------------------------------------------------

def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_store_argument(p)
    p.add_argument("--format", choices=["ncr", "sessions", "cps-locations", "ocpi",
                                        "ocpi-locations", "ocpi-cdrs", "ocpi-sessions",
                                        "usage-return", "device-reference"],
                   help="skip auto-detection (ocpi = ocpi-locations)")


@command("import", "import NCR, session CSV, charge point location lists, OCPI, usage-return "
                   "or device reference files, and boundary files (as area layers), into a "
                   "store", _import_args)
def cmd_import(args) -> int:
    from .core.workspace import Workspace

    fmt = "ocpi-locations" if args.format == "ocpi" else args.format
    with Workspace(args.store) as ws:
        reports = ws.import_files(args.files, format=fmt, progress=_progress(args))
    failed = _print_imports(reports)
    if failed:
        print(f"error: {failed} of {len(reports)} file(s) could not be imported "
              "(see the lines above); the store keeps everything imported before.",
              file=sys.stderr)
        return 2
    return 0


# --- fetch -------------------------------------------------------------------------

def _fetch_args(p: argparse.ArgumentParser) -> None:
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--datastore", nargs="?", const=default_datastore(), metavar="URL",
                        help=f"a DataPress site (default {DEFAULT_DATASTORE}, or the "
                             f"address in the environment variable {DATASTORE_ENV})")
    source.add_argument("--ocpi", metavar="LOCATIONS_URL", help="an OCPI 2.2.1 Locations URL")
    add_store_argument(p)
    p.add_argument("--dataset", help="Datastore dataset id, e.g. 2lzpg")
    p.add_argument("--resource", action="append", default=[], metavar="ID",
                   help="only this resource (repeatable)")
    p.add_argument("--api-key-env", metavar="VAR",
                   help="environment variable holding a Datastore API key")
    p.add_argument("--token-env", metavar="VAR",
                   help="environment variable holding the OCPI token (never the token itself)")
    p.add_argument("--raw-token", action="store_true",
                   help="send the OCPI token as is (pre-2.2 servers), not Base64-encoded")
    p.add_argument("--feed-name", default="", help="name of the OCPI feed (default: host)")
    p.add_argument("--cache", type=Path, help="download cache folder")


@command("fetch", "fetch charge points from the London Datastore or an OCPI 2.2.1 feed",
         _fetch_args)
def cmd_fetch(args) -> int:
    from .core.workspace import Workspace

    with Workspace(args.store) as ws:
        if args.ocpi:
            with credentials_from(args.token_env, "--token-env", "token"):
                outcome = ws.fetch_ocpi(args.ocpi, token=_secret_from_env(args.token_env,
                                                                         "OCPI token"),
                                        token_base64=not args.raw_token,
                                        feed_name=args.feed_name, progress=_progress(args))
        else:
            if not args.dataset:
                raise EvChargepointsError("--datastore needs --dataset ID.")
            with credentials_from(args.api_key_env, "--api-key-env", "API key"):
                outcome = ws.fetch_datastore(
                    args.datastore, args.dataset, args.resource,
                    api_key=_secret_from_env(args.api_key_env, "API key"),
                    cache_dir=args.cache, progress=_progress(args))
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for skipped in outcome.skipped:
        print(f"skipped: {skipped}")
    failed = _print_imports(outcome.imports)
    if outcome.imported_nothing:
        print(f"error: {outcome.nothing_imported_message()}", file=sys.stderr)
        return 2
    return 2 if failed else 0


@contextlib.contextmanager
def credentials_from(var: str | None, option: str, what: str):
    """A 401 inside says where the CLI reads the key or token: the environment
    variable named with ``option`` (not the plugin settings)."""
    try:
        yield
    except HttpError as exc:
        if exc.status != 401:
            raise
        raise exc.with_credentials_hint(
            f"check the {what} in the environment variable {var}, named with {option}"
            if var else f"put the {what} in an environment variable and name it with "
            f"{option}") from None


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


@command("utilisation", "utilisation per device (or connector) and period, as CSV",
         _utilisation_args)
def cmd_utilisation(args) -> int:
    from .core.outputs.tables import write_csv
    from .core.store.usage_kind import stamp
    from .core.workspace import Workspace

    existing_store(args.store)
    with Workspace(args.store) as ws:
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
                                           progress=_progress(args))
    first = ["device_id", "connector_id"] if args.by == "connector" else ["device_id"]
    ordered = first + [c for c in UTILISATION_COLUMNS[1:] if c in frame.columns]
    ordered += [c for c in frame.columns if c not in ordered]
    write_csv(frame[ordered], args.out, synthetic=synthetic)
    print(stamp(f"{len(frame):,} rows ({frame['device_id'].nunique():,} devices, "
                f"{frame['period'].nunique()} periods) written to {args.out}", synthetic))
    return 0


# --- demo ------------------------------------------------------------------------------

def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo-output"))


@command("demo", "the main job on the bundled London snapshot, offline", _demo_args)
def cmd_demo(args) -> int:
    from .demo import run_demo

    for line in run_demo(args.out, progress=_progress(args)):
        print(line)
    return 0


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


@command("summary", "charge points and usage per borough, ward or your own areas, as CSV",
         _summary_args)
def cmd_summary(args) -> int:
    from .core.outputs import disclosure
    from .core.outputs.tables import write_csv
    from .core.store.usage_kind import stamp
    from .core.workspace import Workspace

    existing_store(args.store)
    if args.threshold < 1:
        raise EvChargepointsError("--threshold must be at least 1.")
    filters = {k: v for k, v in (("operator", args.operator), ("power_class", args.power_class),
                                 ("location_type", args.location_type)) if v}
    with Workspace(args.store) as ws:
        table, assignment = ws.publishable_summary(
            level=args.level, period=args.period, period_kind=args.period_kind,
            filters=filters or None, areas_path=args.areas, code_field=args.code_field,
            name_field=args.name_field, threshold=args.threshold, internal=args.internal,
            progress=_progress(args))
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
    from .core.outputs import disclosure

    if table.attrs.get("internal"):
        return f"{disclosure.INTERNAL_NOTE}."
    return (f"{disclosure.note(threshold)}: {len(table.attrs.get('suppressed', [])):,} of "
            f"{len(table):,} areas (--internal keeps them, not for publication).")




# --- watch -----------------------------------------------------------------------------

def _watch_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ocpi", required=True, metavar="LOCATIONS_URL")
    p.add_argument("--every", type=float, default=300, metavar="SECONDS",
                   help="seconds between polls (default 300; at most 3600 for continuous "
                        "coverage)")
    p.add_argument("--count", type=int, default=0, help="stop after N polls (default: run "
                                                        "until interrupted)")
    add_store_argument(p)
    p.add_argument("--token-env", metavar="VAR")
    p.add_argument("--raw-token", action="store_true")
    p.add_argument("--feed-name", default="")


@command("watch", "poll an OCPI 2.2.1 feed's live status into the store (occupancy for every "
                  "public point)", _watch_args)
def cmd_watch(args) -> int:
    import time

    from .core.workspace import Workspace, describe_import

    if args.every < 1:
        raise EvChargepointsError("--every must be at least 1 second.")
    token = _secret_from_env(args.token_env, "OCPI token")
    since, polls = None, 0
    with Workspace(args.store) as ws:
        try:
            while True:
                started = time.monotonic()
                try:
                    with credentials_from(args.token_env, "--token-env", "token"):
                        outcome, since = ws.poll_ocpi_status(
                            args.ocpi, token=token, token_base64=not args.raw_token,
                            feed_name=args.feed_name, since=since)
                    for report in outcome.imports:
                        print(f"{since:%Y-%m-%d %H:%M:%S}Z {describe_import(report)}",
                              flush=True)
                except EvChargepointsError as exc:  # keep watching through a bad poll
                    print(f"warning: poll failed, will try again: {exc.message}",
                          file=sys.stderr, flush=True)
                polls += 1
                if args.count and polls >= args.count:
                    break
                time.sleep(max(0.0, args.every - (time.monotonic() - started)))
        except KeyboardInterrupt:
            print("Stopped; every completed poll is in the store.", file=sys.stderr)
    return 0
