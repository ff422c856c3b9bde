"""`demand`: public connectors a scenario needs per ward, against those there now, as CSV."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..core.errors import EvChargepointsError
from .common import Command, add_store_argument, command_progress


def _demand_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.epilog = ("Per ward: cars = household spaces x cars per household (GLA ward profiles, "
                "2011 Census), evs = cars x ev share, public_evs = evs x share without "
                "off-street parking, connectors_needed = ceil(public_evs x kWh per EV a day "
                "/ kWh one connector delivers a day), gap = connectors_needed - "
                "connectors_now (reconciled devices). Every row names the scenario values "
                "and data vintage behind it (docs/demand.md).")
    add_scenario_arguments(p)
    p.add_argument("--areas", type=Path, help="your own ward boundaries (codes of 2011 "
                                              "wards get ward-profile figures; default: "
                                              "bundled London wards 2018)")
    p.add_argument("--code-field", help="ward code field of --areas (auto-detected)")
    p.add_argument("--name-field", help="ward name field of --areas (auto-detected)")
    p.add_argument("--out", required=True, type=Path, help="CSV file to write")


def add_scenario_arguments(p: argparse.ArgumentParser) -> None:
    """The demand scenario options (``demand``, ``sites``, ``export``): a preset or a
    scenario saved as JSON, then single values; read with :func:`scenario_from_args`."""
    from ..core.analysis.demand import DEFAULT_PRESET, PRESETS

    p.add_argument("--preset", choices=list(PRESETS), default=None,
                   help=f"named scenario to start from (default: {DEFAULT_PRESET}); the "
                        "options below change single values of it")
    p.add_argument("--scenario", type=Path, metavar="JSON",
                   help="a scenario saved as JSON (instead of --preset)")
    p.add_argument("--ev-share", type=float, help="share of cars that are electric, 0-1")
    p.add_argument("--no-offstreet-share", type=float,
                   help="share of EVs without off-street parking, the same in every ward "
                        "(default: each ward's share of flats and terraced houses)")
    p.add_argument("--no-offstreet-factor", type=float,
                   help="multiply each ward's housing-mix share by this (capped at 1)")
    p.add_argument("--kwh-per-ev-day", type=float, help="energy one EV needs a day, kWh")
    p.add_argument("--connector-kw", type=float, help="rated power of a public connector")
    p.add_argument("--target-occupancy", type=float,
                   help="share of the day a public connector delivers power, 0-1")
    p.add_argument("--connector-kwh-per-day", type=float,
                   help="what one public connector delivers a day, kWh (instead of "
                        "connector kW x 24 h x target occupancy)")


SCENARIO_OPTIONS = ("preset", "scenario", "ev_share", "no_offstreet_share",
                    "no_offstreet_factor", "kwh_per_ev_day", "connector_kw",
                    "target_occupancy", "connector_kwh_per_day")


def scenario_given(args) -> bool:
    """Whether any demand scenario option was given."""
    return any(getattr(args, name, None) is not None for name in SCENARIO_OPTIONS)


def scenario_from_args(args):
    """The scenario the options describe: --scenario or --preset, then single values."""
    from ..core.analysis import demand

    base = None
    if args.scenario is not None:
        if args.preset:
            raise EvChargepointsError("give --preset or --scenario, not both.")
        try:
            base = demand.Scenario.from_json(args.scenario.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError, TypeError) as exc:
            raise EvChargepointsError(f"{args.scenario.name}: {exc}") from None
    try:
        return demand.scenario_for(
            args.preset, base, ev_share=args.ev_share,
            no_offstreet_share=args.no_offstreet_share,
            no_offstreet_factor=args.no_offstreet_factor, kwh_per_ev_day=args.kwh_per_ev_day,
            connector_kw=args.connector_kw, target_occupancy=args.target_occupancy,
            connector_kwh_per_day=args.connector_kwh_per_day)
    except ValueError as exc:
        raise EvChargepointsError(str(exc)) from None


def cmd_demand(args) -> int:
    from ..core.outputs.tables import write_csv
    from ..core.workspace import Workspace

    scenario = scenario_from_args(args)
    with Workspace(args.store, create=False) as ws:
        table = ws.demand(scenario, areas_path=args.areas, code_field=args.code_field,
                          name_field=args.name_field, progress=command_progress(args))
    write_csv(table, args.out)
    for line in table.attrs["notes"]:
        print(line, file=sys.stderr)
    t = table.attrs["totals"]
    print(f"{len(table):,} wards written to {args.out}: {t['connectors_needed']:,} connectors "
          f"needed, {t['connectors_now']:,} now, gap {t['gap']:,} "
          f"({t['wards_short']:,} wards short)")
    return 0


DEMAND = Command("demand", "public connectors needed per ward under a scenario, against "
                           "those there now, as CSV", _demand_args, cmd_demand)
