"""CLI: committee maps (PDF/PNG print layouts) and their layout templates.

These commands run QGIS print layouts outside QGIS, so each starts a headless
``QgsApplication`` first (:func:`..qgis.headless.headless_qgis`; offscreen when there
is no display).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.config import MAX_STATUS_AGE_MINUTES
from ..core.errors import EvChargepointsError
from ..core.outputs.styling import DEFAULT_STATUS_MAX_AGE_MINUTES
from ..qgis.headless import headless_qgis
from .common import Command, add_store_argument, command_progress
from .demand import add_scenario_arguments, scenario_from_args

# --- export ---------------------------------------------------------------------------

def _export_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    which = p.add_mutually_exclusive_group(required=True)
    which.add_argument("--borough", action="append", metavar="NAME",
                       help="a borough page (name or E09 code; repeatable)")
    which.add_argument("--all", action="store_true", help="the atlas of all 33 boroughs")
    which.add_argument("--london", action="store_true", help="the London overview page")
    p.add_argument("--combined", action="store_true",
                   help="all borough pages in one PDF (default: one PDF per borough)")
    p.add_argument("--png", action="store_true", help="also a PNG of every page")
    p.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    p.add_argument("--period",
                   help="e.g. 2022-Q2 (default: the latest quarter with substantial usage)")
    p.add_argument("--threshold", type=int, default=3,
                   help="suppress usage figures of cells with fewer devices (default 3)")
    p.add_argument("--orientation", choices=["portrait", "landscape"], default="portrait")
    p.add_argument("--live-status", action="store_true",
                   help="also show the latest watched live status on the maps (off by default)")
    p.add_argument("--stale-after", type=int, default=DEFAULT_STATUS_MAX_AGE_MINUTES,
                   metavar="MINUTES",
                   help="with --live-status: a device not reported for longer than this "
                        f"before printing is shown as stale (default "
                        f"{DEFAULT_STATUS_MAX_AGE_MINUTES})")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    demand = p.add_argument_group("demand line of the borough pages (the scenario, default "
                                  "the GLA 2030 preset)")
    add_scenario_arguments(demand)


def cmd_export(args) -> int:
    if args.threshold < 1:
        raise EvChargepointsError("--threshold must be at least 1.")
    if not 1 <= args.stale_after <= MAX_STATUS_AGE_MINUTES:
        raise EvChargepointsError(f"--stale-after must be 1 to {MAX_STATUS_AGE_MINUTES} "
                                  "minutes.")
    boroughs = None if args.london else ("all" if args.all else args.borough)
    scenario = scenario_from_args(args)
    with headless_qgis():
        from ..qgis.layout_export.export import export_committee_maps

        result = export_committee_maps(args.store, args.out, boroughs=boroughs,
                                       combined=args.combined,
                                       png_dpi=args.dpi if args.png else None,
                                       period=args.period, threshold=args.threshold,
                                       orientation=args.orientation,
                                       progress=command_progress(args),
                                       live_status=args.live_status,
                                       status_max_age_minutes=args.stale_after,
                                       scenario=scenario)
    from ..core.store.usage_kind import stamp

    files = result.files
    pages = [f for f in files if f.suffix == ".pdf"]
    for path in files:
        print(path)
    print(stamp(f"{len(pages)} PDF file(s), {len(files) - len(pages)} other file(s) written "
                f"to {args.out}", result.synthetic_usage))
    return 0


EXPORT = Command("export", "committee maps: A4 PDF pages for London, one borough or all 33",
                 _export_args, cmd_export)


# --- layout templates ---------------------------------------------------------------------

def _templates_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, help="folder (default: the plugin's resources/layouts)")


def cmd_layout_templates(args) -> int:
    with headless_qgis():
        from ..qgis.layout_export.templates import write_templates

        for path in write_templates(args.out):
            print(path)
    return 0


LAYOUT_TEMPLATES = Command("layout-templates", "write the committee page layout templates (.qpt)",
                           _templates_args, cmd_layout_templates)
