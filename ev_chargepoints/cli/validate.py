"""`validate`: check usage returns, device reference data or OCPI feeds against the
data standard and write the per-operator conformance report (HTML + JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from ..core.errors import EvChargepointsError
from .common import (
    STORE_HELP,
    Command,
    command_progress,
    secret_from_env,
    store_target,
)


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="*", metavar="FILE_OR_URL",
                   help="usage returns, device reference CSV, NCR export, OCPI JSON, or an "
                        "OCPI 2.2.1 Locations URL (none: only the --store's status history)")
    p.add_argument("--store", metavar="STORE", type=store_target,
                   help="also compute reliability from this store's watched status history "
                        "(see 'watch'): " + STORE_HELP)
    p.add_argument("--max-gap-hours", type=float, default=None, metavar="HOURS",
                   help="how long one status observation may hold when the next is late "
                        "(default 1); the rest of a longer gap is unobserved")
    p.add_argument("--min-observed-hours", type=float, default=None, metavar="HOURS",
                   help="counted hours needed before reliability gets a pass or fail "
                        "(default 24); below it: not enough observed time")
    p.add_argument("--out", required=True, type=Path, help="folder for report.html/.json")
    p.add_argument("--reference", action="append", type=Path, default=[],
                   help="device reference data to look devices up in (repeatable)")
    p.add_argument("--period", help="return period, e.g. 2024-Q1 (default: inferred)")
    p.add_argument("--stale-days", type=float, default=90)
    p.add_argument("--token-env", metavar="VAR", help="environment variable with the OCPI token")
    p.add_argument("--raw-token", action="store_true")


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


def cmd_validate(args) -> int:
    from ..core.standard.reliability import describe_rapid
    from ..core.store.usage_kind import stamp
    from ..core.workspace import Workspace

    urls = [i for i in args.inputs if _is_url(i)]
    files = [Path(i) for i in args.inputs if not _is_url(i)]
    if not args.inputs and args.store is None:
        raise EvChargepointsError("Give files or OCPI URLs to check, or --store for the "
                                  "reliability of its watched status history.")
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise EvChargepointsError(f"No such file: {', '.join(missing)}.")
    options = {"max_gap_hours": args.max_gap_hours,
               "min_observed_hours": args.min_observed_hours}
    reports = []
    synthetic = False
    if args.store is not None:
        with Workspace(args.store, create=False) as ws:
            synthetic = ws.has_synthetic_usage()
            report = ws.validate(files, reference=args.reference or None,
                                 period=args.period, stale_days=args.stale_days,
                                 progress=command_progress(args), **options)
        reports.append((args.out, report))
    elif files:
        report = Workspace.validate_files(
            files, reference=args.reference or None, period=args.period,
            stale_days=args.stale_days, progress=command_progress(args), **options)
        reports.append((args.out, report))
    if urls:
        from ..core.sources.transport import RequestsTransport

        token = secret_from_env(args.token_env, "OCPI token")
        for n, url in enumerate(urls, start=1):
            report = Workspace.validate_feed(
                url, RequestsTransport(), token=token,
                token_encoding="raw" if args.raw_token else "base64",
                reference=args.reference or None, period=args.period,
                stale_days=args.stale_days, progress=command_progress(args), **options)
            folder = args.out if not reports and len(urls) == 1 else \
                args.out / f"feed-{n}-{urlsplit(url).hostname or 'ocpi'}"
            reports.append((folder, report))
    for folder, report in reports:
        html_path, json_path = Workspace.write_report(report, folder)
        for op in report.operators:
            print(f"{op.verdict.upper():5} {op.operator}{describe_rapid(op)}")
        print(stamp(f"Report: {html_path} (and {json_path.name})", synthetic))
    print("Checked; the verdicts above are findings, not errors.", file=sys.stderr)
    return 0


VALIDATE = Command("validate", "check files or OCPI feeds against the data standard; writes "
                               "a conformance report", _validate_args, cmd_validate)
