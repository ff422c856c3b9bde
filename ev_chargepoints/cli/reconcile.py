"""`reconcile`: join the registry and the OCPI feeds into one device per charge point,
record officers' decisions and write the review table of ambiguous candidates."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .common import Command, add_store_argument


def _pair(text: str) -> tuple[str, str]:
    """argparse type: ``A=B``, two record names."""
    a, sep, b = text.partition("=")
    if not sep or not a.strip() or not b.strip():
        raise argparse.ArgumentTypeError(f"expected RECORD=RECORD, got {text!r}")
    return a.strip(), b.strip()


def _reconcile_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.add_argument("--out", type=Path, help="CSV file for the review table (ambiguous "
                                            "candidates, one row per pair)")
    p.add_argument("--accept", action="append", type=_pair, default=[], metavar="A=B",
                   help="A and B are the same charge point: a registry device and a feed "
                        "EVSE (or Location), named as in the review table (repeatable)")
    p.add_argument("--reject", action="append", type=_pair, default=[], metavar="A=B",
                   help="A and B are different charge points (repeatable)")
    p.add_argument("--note", default="", help="a note kept with the decisions")


def cmd_reconcile(args) -> int:
    from ..core.outputs.tables import write_csv
    from ..core.workspace import Workspace

    with Workspace(args.store, create=False) as ws:
        decided = []
        for verdict, pairs in (("same", args.accept), ("different", args.reject)):
            for a, b in pairs:
                ws.decide(a, b, verdict, args.note)
                decided.append(f"{a} {'=' if verdict == 'same' else '≠'} {b}")
        rec = ws.reconciliation()
    for line in decided:
        print(f"decision recorded: {line}")
    counts = rec.counts
    print(f"{counts['records']:,} source records ({counts['registry_devices']:,} registry "
          f"devices, {counts['feed_evses']:,} feed EVSEs in {counts['feed_locations']:,} "
          f"Locations) -> {len(rec.devices):,} devices")
    print(f"matched by reference: {counts['reference']:,}")
    print(f"matched by proximity: {counts['proximity']:,}")
    print(f"matched by decision: {counts['decision']:,}")
    print(f"ambiguous (for review): {counts['ambiguous']:,}")
    print(f"feed-only devices: {counts['feed_only']:,}")
    if counts["renamed"]:
        print(f"source-qualified ids (an id another device holds): {counts['renamed']:,}")
    if counts["decisions_unused"]:
        print(f"decisions about records no longer current: {counts['decisions_unused']:,}",
              file=sys.stderr)
    if args.out:
        write_csv(rec.review, args.out)
        print(f"{len(rec.review):,} review rows written to {args.out}")
    elif counts["ambiguous"]:
        print("use --out FILE to write the review table", file=sys.stderr)
    return 0


RECONCILE = Command("reconcile", "join registry and feed records into one device per charge "
                                 "point; record decisions and write the review table",
                    _reconcile_args, cmd_reconcile)
