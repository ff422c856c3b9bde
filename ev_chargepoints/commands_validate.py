"""`validate`: check usage returns, device reference data or OCPI feeds against the
data standard and write the per-operator conformance report (HTML + JSON)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit

from .cli import command
from .commands import _progress, _secret_from_env
from .core.errors import EvChargepointsError


def _validate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("inputs", nargs="+", metavar="FILE_OR_URL",
                   help="usage returns, device reference CSV, NCR export, OCPI JSON, or an "
                        "OCPI 2.2.1 Locations URL")
    p.add_argument("--out", required=True, type=Path, help="folder for report.html/.json")
    p.add_argument("--reference", action="append", type=Path, default=[],
                   help="device reference data to look devices up in (repeatable)")
    p.add_argument("--period", help="return period, e.g. 2024-Q1 (default: inferred)")
    p.add_argument("--stale-days", type=float, default=90)
    p.add_argument("--token-env", metavar="VAR", help="environment variable with the OCPI token")
    p.add_argument("--raw-token", action="store_true")


def _is_url(text: str) -> bool:
    return urlsplit(text).scheme in ("http", "https")


@command("validate", "check files or OCPI feeds against the data standard; writes a "
                     "conformance report", _validate_args)
def cmd_validate(args) -> int:
    from .core import conformance
    from .core.report_html import write_report

    urls = [i for i in args.inputs if _is_url(i)]
    files = [Path(i) for i in args.inputs if not _is_url(i)]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        raise EvChargepointsError(f"No such file: {', '.join(missing)}.")
    reports = []
    if files:
        report = conformance.validate_files(files, reference=args.reference or None,
                                            period=args.period, stale_days=args.stale_days,
                                            progress=_progress(args))
        reports.append((args.out, report))
    if urls:
        from .core.transport import RequestsTransport

        token = _secret_from_env(args.token_env, "OCPI token")
        for n, url in enumerate(urls, start=1):
            report = conformance.validate_ocpi_feed(
                url, RequestsTransport(), token=token,
                token_encoding="raw" if args.raw_token else "base64",
                reference=args.reference or None, period=args.period,
                stale_days=args.stale_days, progress=_progress(args))
            folder = args.out if not files and len(urls) == 1 else \
                args.out / f"feed-{n}-{urlsplit(url).hostname or 'ocpi'}"
            reports.append((folder, report))
    for folder, report in reports:
        html_path, json_path = write_report(report, folder)
        for op in report.operators:
            print(f"{op.verdict.upper():5} {op.operator}")
        print(f"Report: {html_path} (and {json_path.name})")
    print("Checked; the verdicts above are findings, not errors.", file=sys.stderr)
    return 0
