"""`demo`: the main job on the bundled London snapshot, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from .common import Command, command_progress


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=Path("demo-output"))


def cmd_demo(args) -> int:
    from ..demo import run_demo

    for line in run_demo(args.out, progress=command_progress(args)):
        print(line)
    return 0


DEMO = Command("demo", "the main job on the bundled London snapshot, offline", _demo_args,
               cmd_demo)
