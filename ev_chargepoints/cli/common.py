"""What the CLI's commands share: the command record, the --store argument, progress,
secrets read from the environment and the one-line reports of imports."""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import dataclass
from typing import Callable

from ..core.errors import EvChargepointsError, HttpError
from ..core.progress import Progress


@dataclass(frozen=True)
class Command:
    """A subcommand: ``configure`` adds its arguments, ``run`` does the work and returns
    the exit status."""

    name: str
    help: str
    configure: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


def command_progress(args) -> Progress:
    """A command's progress: its messages go to the log, which -v shows on stderr with
    their percentage (cli/__init__.py), each once, and to the run's display (a bar on a
    terminal, plain lines elsewhere: cli/progress.py) unless -v or -q."""
    from .progress import on_progress

    return Progress(on_progress=on_progress())


def secret_from_env(var: str | None, what: str) -> str | None:
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
    from ..core.store.address import parse_target

    try:
        return parse_target(text)
    except EvChargepointsError as exc:
        raise argparse.ArgumentTypeError(exc.message) from None


def print_imports(reports) -> int:
    from ..core.sources.intake import describe_import

    failed = 0
    for report in reports:
        print(describe_import(report))
        failed += report.outcome == "failed"
    return failed


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
