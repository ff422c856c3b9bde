"""``sites``: candidate-site buffer analysis and greedy suggestions, headless.

One output row (GeoPackage feature) per site. The first ``--distance`` is the
primary one and keeps the plain column names (devices_within, score, rank ...);
each further distance adds the same per-distance columns with a suffix such as
``_800m`` (see :mod:`ev_chargepoints.core.analysis.site_files`). ``--suggest K``
also writes the greedy picks among the given sites, at the primary distance, to
``OUT_suggested.gpkg`` (or ``.csv``) and prints them with their gains.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..core.errors import EvChargepointsError
from .common import Command, add_store_argument, command_progress
from .demand import add_scenario_arguments, scenario_from_args, scenario_given

SUMMARY_COLUMNS = ("devices_within", "connectors_within", "nearest_device_m",
                   "residents_within", "new_coverage_residents", "score", "rank")


def parse_distance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise EvChargepointsError(f"--distance: {text!r} is not a number of metres.") from None
    if not (value > 0 and math.isfinite(value)):
        raise EvChargepointsError(f"--distance: {text!r} must be a positive number of metres.")
    return value


def _sites_args(p: argparse.ArgumentParser) -> None:
    add_store_argument(p)
    p.add_argument("--sites", required=True, type=Path,
                   help="candidate sites: point GeoPackage (EPSG:27700 or 4326) or CSV with "
                        "x/y (EPSG:27700) or longitude/latitude columns")
    p.add_argument("--layer", help="layer of the sites GeoPackage (default: the first)")
    p.add_argument("--distance", action="append", metavar="METRES",
                   help="catchment distance, repeatable (default 400); the first is "
                        "primary and keeps plain column names, each further one adds the "
                        "same figures suffixed _<d>m, e.g. devices_within_800m")
    p.add_argument("--weights", help="score weights, e.g. new_coverage=0.6,demand=0.2,gap=0.2 "
                                     "(criteria: new_coverage, unique_coverage, residents, "
                                     "demand, kwh, gap, demand_gap)")
    p.add_argument("--demand-weight", type=float, metavar="W",
                   help="weight of demand_gap in the score (sets it in --weights or the "
                        "default weights): the demand gap of the wards the catchment "
                        "reaches, under the scenario below (default preset if none given)")
    add_scenario_arguments(p)
    p.add_argument("--period", help="usage period for demand, e.g. 2022-Q2 (default: latest)")
    p.add_argument("--suggest", metavar="K",
                   help="also pick K of the sites by greedy maximal new coverage at the "
                        "primary distance; written to OUT_suggested.gpkg (or .csv)")
    p.add_argument("--network", type=Path,
                   help="street network line layer (GeoPackage, any CRS) for walking "
                        "catchments: adds devices_within_walk and residents_within_walk "
                        "and a walking_catchments polygon layer (to OUT_catchments.gpkg "
                        "when OUT is a CSV)")
    p.add_argument("--network-layer", help="layer of the network GeoPackage (default: "
                                           "the first)")
    p.add_argument("--walk", default="400", metavar="METRES|Nmin",
                   help="walk distance with --network: metres (default 400) or minutes at "
                        "4.8 km/h, e.g. 5min")
    p.add_argument("--out", required=True, type=Path, help="OUT.gpkg or OUT.csv")


def parse_walk(text: str) -> float:
    """``400`` -> 400 m; ``5min`` -> 400 m (4.8 km/h)."""
    from ..core.analysis.siting.network import walk_metres

    value = str(text).strip().lower()
    minutes = value.endswith("min")
    try:
        number = float(value[:-3] if minutes else value)
    except ValueError:
        raise EvChargepointsError(f"--walk: {text!r} is not metres or minutes (e.g. 400 "
                                  "or 5min).") from None
    if not (number > 0 and math.isfinite(number)):
        raise EvChargepointsError(f"--walk: {text!r} must be positive.")
    return walk_metres(number) if minutes else number


def suggestions_path(out: Path) -> Path:
    return out.with_name(f"{out.stem}_suggested{out.suffix}")


def cmd_sites(args) -> int:
    from ..core.analysis import site_files
    from ..core.store.usage_kind import stamp
    from ..core.workspace import Workspace

    distances = [parse_distance(d) for d in args.distance or ["400"]]
    if len(set(distances)) != len(distances):
        raise EvChargepointsError("--distance: give each distance once.")
    weights = site_files.parse_weights(args.weights) if args.weights else None
    if args.demand_weight is not None:
        if not (args.demand_weight >= 0 and math.isfinite(args.demand_weight)):
            raise EvChargepointsError("--demand-weight must be 0 or more.")
        from ..core.analysis.siting.analyser import DEFAULT_WEIGHTS
        weights = {**(weights or DEFAULT_WEIGHTS), "demand_gap": args.demand_weight}
    scenario = scenario_from_args(args) if scenario_given(args) else None
    if args.suggest is not None:
        if not args.suggest.strip().isdigit() or int(args.suggest) < 1:
            raise EvChargepointsError(f"--suggest: K must be a whole number, 1 or more "
                                      f"(got {args.suggest!r}).")
        args.suggest = int(args.suggest)
    if args.out.suffix.lower() not in (".gpkg", ".csv"):
        raise EvChargepointsError(f"--out must end in .gpkg or .csv: {args.out}")
    walk = parse_walk(args.walk)
    sites = site_files.read_sites(args.sites, args.layer)
    progress = command_progress(args)
    network = None
    if args.network is not None:
        from ..core.analysis.siting.network import read_network
        progress.report(0, "Building the street network")
        network = read_network(args.network, args.network_layer)
    with Workspace(args.store, create=False) as ws:
        long = ws.analyse_sites(sites, distances, weights, period=args.period,
                                progress=progress.scaled(0, 80), network=network,
                                walk_m=walk, scenario=scenario)
        picks = ws.suggest_sites(sites, args.suggest, distances[0],
                                 progress.scaled(80, 100)) if args.suggest else None
        synthetic = ws.has_synthetic_usage()
    table = site_files.wide(long, distances)
    site_files.write_sites(table, args.out, synthetic=synthetic)
    print(stamp(f"{len(table):,} sites analysed within "
                f"{', '.join(f'{d:g}' for d in distances)} m written to {args.out}", synthetic))
    columns = list(SUMMARY_COLUMNS)
    if network is not None:
        target = args.out if args.out.suffix.lower() == ".gpkg" else \
            args.out.with_name(f"{args.out.stem}_catchments.gpkg")
        site_files.write_catchments(table, network, walk, target, synthetic)
        print(f"walking catchments ({walk:g} m on {network.name}: {network.n_edges:,} "
              f"edges) written to {target}, layer {site_files.CATCHMENT_LAYER}")
        if network.attribution:
            print(f"street network: {network.attribution}")
        unwalked = site_files.unwalked_message(table)
        if unwalked:
            print(unwalked, file=sys.stderr)
        columns[1:1] = ["devices_within_walk"]
        columns.insert(columns.index("residents_within") + 1, "residents_within_walk")
    if "demand_gap_within" in table:
        columns.insert(columns.index("score"), "demand_gap_within")
        print(f"demand gap: scenario '{table['demand_scenario'].iloc[0]}'")
    top = table.sort_values("rank").head(10)
    print(top[["site_id", *columns]].to_string(index=False, float_format=_fmt))
    if picks is not None:
        target = suggestions_path(args.out)
        site_files.write_sites(picks, target, layer="suggested_sites",
                               description="Greedy site suggestions", synthetic=synthetic)
        print(stamp(f"{len(picks)} of {args.suggest} suggestions (greedy, {distances[0]:g} m) "
                    f"written to {target}", synthetic))
        for row in picks.itertuples(index=False):
            r = row._asdict()
            print(f"  {r['step']}. {r['site_id']}: +{r['gain_residents']:,.0f} residents "
                  f"(covered {r['covered_pct']:.2f}%)")
        if len(picks) < args.suggest:
            print(f"  no other site covers anyone new within {distances[0]:g} m",
                  file=sys.stderr)
    return 0


SITES = Command("sites", "analyse candidate charge-point sites within distances of each site "
                         "(devices, usage, residents, new coverage, score, rank)",
                _sites_args, cmd_sites)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"
