"""The CLI package lists its commands explicitly, in one place no command module imports."""

from __future__ import annotations

import ast
import importlib
import io
import pkgutil
from contextlib import redirect_stdout
from pathlib import Path

import ev_chargepoints.cli as cli
from ev_chargepoints.cli.common import Command

CLI_DIR = Path(cli.__file__).parent


def _command_modules():
    return [importlib.import_module(f"{cli.__name__}.{info.name}")
            for info in pkgutil.iter_modules([str(CLI_DIR)])]


def test_every_command_a_module_defines_is_listed_once():
    defined = [value for module in _command_modules() for value in vars(module).values()
               if isinstance(value, Command)]
    assert len(defined) >= 11
    assert sorted(id(c) for c in cli.COMMANDS) == sorted(id(c) for c in defined)
    names = [c.name for c in cli.COMMANDS]
    assert len(set(names)) == len(names)


def test_help_shows_the_commands_in_the_listed_order():
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main([]) == 0
    text = out.getvalue()
    positions = [text.index(f"\n    {c.name}") for c in cli.COMMANDS]
    assert positions == sorted(positions)


def _imports_the_package(path: Path) -> list[str]:
    """Import statements of a module in cli/ that reach the package ``__init__`` (where
    the list of commands lives) rather than a sibling module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1 and node.module is None:  # from . import x
                found.append(ast.unparse(node))
            elif node.level == 2 and node.module is None and \
                    any(a.name == "cli" for a in node.names):  # from .. import cli
                found.append(ast.unparse(node))
            elif node.level == 0 and node.module == cli.__name__:
                found.append(ast.unparse(node))
        elif isinstance(node, ast.Import):
            found += [ast.unparse(node) for a in node.names if a.name == cli.__name__]
    return found


def test_no_command_module_imports_the_list_of_commands():
    offenders = {p.name: found for p in sorted(CLI_DIR.glob("*.py"))
                 if p.name != "__init__.py" and (found := _imports_the_package(p))}
    assert offenders == {}


def test_the_import_check_finds_an_import_of_the_package(tmp_path):
    module = tmp_path / "example.py"
    module.write_text("from . import COMMANDS\nfrom .common import Command\n")
    assert _imports_the_package(module) == ["from . import COMMANDS"]
