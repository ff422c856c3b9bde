"""Headless front door: ``python -m ev_chargepoints COMMAND ...``.

Every command adapts arguments to the core :class:`~.core.workspace.Workspace`
facade and prints its results; none re-implements the pipeline. Errors the
plugin foresees end in one readable line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Callable, Optional, Sequence

from .core.errors import EvChargepointsError
from .core.paths import plugin_version

Command = Callable[[argparse.Namespace], int]
_COMMANDS: list[tuple[str, str, Callable[[argparse.ArgumentParser], None], Command]] = []


def command(name: str, help_text: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register a subcommand: ``configure`` adds its arguments."""
    def register(func: Command) -> Command:
        _COMMANDS.append((name, help_text, configure, func))
        return func
    return register


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ev_chargepoints",
        description="London EV charge points: fetch, import, analyse and export, headless.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {plugin_version()}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_text, configure, func in _COMMANDS:
        p = sub.add_parser(name, help=help_text, description=help_text)
        configure(p)
        p.set_defaults(func=func)
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    from . import (  # noqa: F401  (importing registers the subcommands)
        commands,
        commands_export,
        commands_reconcile,
        commands_sites,
        commands_validate,
    )

    parser = build_parser()
    args = parser.parse_args(argv)
    _log_to_stderr(args.verbose)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return args.func(args)
    except EvChargepointsError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
