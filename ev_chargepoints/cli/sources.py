"""`import`, `fetch` and `watch`: bring files, the London Datastore and OCPI feeds into
a store."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..core.errors import EvChargepointsError
from .common import (
    Command,
    add_store_argument,
    command_progress,
    credentials_from,
    print_imports,
    secret_from_env,
)

DEFAULT_DATASTORE = "https://data.london.gov.uk"
# What `fetch --datastore` without an address fetches from instead, when set: a mirror,
# or the local server the README's examples are tested against.
DATASTORE_ENV = "EV_CHARGEPOINTS_DATASTORE_URL"


def default_datastore() -> str:
    return os.environ.get(DATASTORE_ENV, "").strip() or DEFAULT_DATASTORE


# --- import ------------------------------------------------------------------------

def _import_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    add_store_argument(p)
    p.add_argument("--format", choices=["ncr", "sessions", "cps-locations", "ocpi",
                                        "ocpi-locations", "ocpi-cdrs", "ocpi-sessions",
                                        "usage-return", "device-reference"],
                   help="skip auto-detection (ocpi = ocpi-locations)")


def cmd_import(args) -> int:
    from ..core.workspace import Workspace

    fmt = "ocpi-locations" if args.format == "ocpi" else args.format
    with Workspace(args.store) as ws:
        reports = ws.import_files(args.files, format=fmt, progress=command_progress(args))
    failed = print_imports(reports)
    if failed:
        print(f"error: {failed} of {len(reports)} file(s) could not be imported "
              "(see the lines above); the store keeps everything imported before.",
              file=sys.stderr)
        return 2
    return 0


IMPORT = Command("import", "import NCR, session CSV, charge point location lists, OCPI, "
                           "usage-return or device reference files, and boundary files (as "
                           "area layers), into a store", _import_args, cmd_import)


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


def cmd_fetch(args) -> int:
    from ..core.workspace import Workspace

    with Workspace(args.store) as ws:
        if args.ocpi:
            with credentials_from(args.token_env, "--token-env", "token"):
                outcome = ws.fetch_ocpi(args.ocpi, token=secret_from_env(args.token_env,
                                                                        "OCPI token"),
                                        token_base64=not args.raw_token,
                                        feed_name=args.feed_name,
                                        progress=command_progress(args))
        else:
            if not args.dataset:
                raise EvChargepointsError("--datastore needs --dataset ID.")
            with credentials_from(args.api_key_env, "--api-key-env", "API key"):
                outcome = ws.fetch_datastore(
                    args.datastore, args.dataset, args.resource,
                    api_key=secret_from_env(args.api_key_env, "API key"),
                    cache_dir=args.cache, progress=command_progress(args))
    for warning in outcome.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for skipped in outcome.skipped:
        print(f"skipped: {skipped}")
    failed = print_imports(outcome.imports)
    if outcome.imported_nothing:
        print(f"error: {outcome.nothing_imported_message()}", file=sys.stderr)
        return 2
    return 2 if failed else 0


FETCH = Command("fetch", "fetch charge points from the London Datastore or an OCPI 2.2.1 feed",
                _fetch_args, cmd_fetch)


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


def cmd_watch(args) -> int:
    import time

    from ..core.sources.intake import describe_import
    from ..core.workspace import Workspace

    if args.every < 1:
        raise EvChargepointsError("--every must be at least 1 second.")
    token = secret_from_env(args.token_env, "OCPI token")
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


WATCH = Command("watch", "poll an OCPI 2.2.1 feed's live status into the store (occupancy for "
                         "every public point)", _watch_args, cmd_watch)
