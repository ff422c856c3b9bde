"""Headless front door: ``python -m ev_chargepoints COMMAND ...``.

Every command adapts arguments to the core :class:`~ev_chargepoints.core.workspace.Workspace`
facade and prints its results; none re-implements the pipeline. Errors the
plugin foresees end in one readable line on stderr and exit status 2.

One module per group of commands; :data:`COMMANDS` lists them all, in the order
``--help`` shows them. The command modules share only :mod:`.common`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Optional, Sequence

from ..core.errors import EvChargepointsError
from ..core.paths import plugin_version
from . import demand, demo, export, progress, reconcile, sites, sources, tables, validate

COMMAND_NAME = "ev-chargepoints"  # the console script pyproject.toml installs
COMMANDS = (sources.IMPORT, sources.FETCH, tables.UTILISATION, demo.DEMO, tables.SUMMARY,
            demand.DEMAND, sources.WATCH, export.EXPORT, export.LAYOUT_TEMPLATES,
            reconcile.RECONCILE, sites.SITES, validate.VALIDATE)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=program_name(),
        description="London EV charge points: fetch, import, analyse and export, headless.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {plugin_version()}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every progress message to stderr, with its percentage")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress on stderr (by default a bar on a terminal, else a "
                             "line per step), only warnings and errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        p = sub.add_parser(command.name, help=command.help, description=command.help)
        command.configure(p)
        p.set_defaults(func=command.run)
    return parser


class _LogFormat(logging.Formatter):
    """Progress messages with their percentage, other records with their level."""

    def format(self, record: logging.LogRecord) -> str:
        percent = getattr(record, "percent", None)
        if percent is None:
            return super().format(record)
        return f"[{percent:5.1f}%] {record.getMessage()}"


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a record is emitted (tests and
    embedding callers swap it; flushing a stream they already closed would fail)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


_STDERR = _CurrentStderr()
_STDERR.setFormatter(_LogFormat("%(levelname)s %(message)s"))


def _log_to_stderr(verbose: bool) -> None:
    """The one stderr handler, however often ``main`` runs in a process."""
    root = logging.getLogger()
    if _STDERR not in root.handlers:
        root.addHandler(_STDERR)
    root.setLevel(logging.INFO if verbose else logging.WARNING)


def program_name() -> str:
    """``ev-chargepoints`` when run by the installed command, ``python -m ev_chargepoints``
    when run as a module."""
    command = os.path.basename(sys.argv[0]) if sys.argv else ""
    return COMMAND_NAME if command == COMMAND_NAME else "python -m ev_chargepoints"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with progress.shown(enabled=not (args.verbose or args.quiet)):
            return args.func(args)
    except EvChargepointsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
