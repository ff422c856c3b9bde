"""Qt 6 / QGIS 4 regression guard: a cheap static scan of the repository's Python files.

QGIS's own migration checker (scripts/pyqt5_to_pyqt6/pyqt5_to_pyqt6.py) is the thorough
check; this test keeps the constructs that break on Qt 6 builds of QGIS from coming back:

* ``exec_()`` (removed in PyQt6: ``exec()``);
* ``QVariant.<Type>`` field types (``QMetaType.Type.<Type>``; QgsField takes it from 3.38);
* ``isinstance(value, QVariant)`` NULL checks (NULL is None on Qt 6 builds:
  use ``QgsVariantUtils.isNull``);
* PyQt5 or PyQt6 imported directly instead of through ``qgis.PyQt``.

Python held in string constants (the scripts the tests run in a child process) is scanned
too. Needs neither QGIS nor Qt.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("__init__.py", "ev_chargepoints", "tests", "tools", "bench")
THIS_FILE = Path(__file__).resolve()
QT_BINDINGS = ("PyQt5", "PyQt6")


def python_files() -> list[Path]:
    files = []
    for name in SCANNED:
        path = ROOT / name
        if path.is_file():
            files.append(path)
        elif path.is_dir():
            files += [p for p in sorted(path.rglob("*.py")) if "__pycache__" not in p.parts]
    return [p for p in files if p.resolve() != THIS_FILE]


def _dotted(node) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def _is_qvariant(node) -> bool:
    return _dotted(node).split(".")[-1] == "QVariant"


def _embedded_code(value: str):
    """A string constant holding a Python script (several lines that parse), or None."""
    if "\n" not in value.strip() or "import" not in value:
        return None
    try:
        return ast.parse(textwrap.dedent(value))
    except SyntaxError:
        return None


def problems_in(source: str, label: str, first_line: int = 0) -> list[str]:
    found = []
    tree = ast.parse(source)
    for node in ast.walk(tree):
        where = f"{label}:{first_line + getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "exec_":
                found.append(f"{where}: exec_() is gone in PyQt6, call exec()")
            if name == "isinstance" and len(node.args) == 2:
                kinds = node.args[1].elts if isinstance(node.args[1], ast.Tuple) \
                    else [node.args[1]]
                if any(_is_qvariant(k) for k in kinds):
                    found.append(f"{where}: isinstance(..., QVariant): NULL is None on Qt 6 "
                                 "builds, use QgsVariantUtils.isNull()")
        elif isinstance(node, ast.Attribute) and _is_qvariant(node.value) \
                and node.attr[:1].isupper():
            found.append(f"{where}: QVariant.{node.attr}: use QMetaType.Type")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in QT_BINDINGS:
                    found.append(f"{where}: import {alias.name}: import through qgis.PyQt")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0 and (node.module or "").split(".")[0] in QT_BINDINGS:
                found.append(f"{where}: from {node.module} import: import through qgis.PyQt")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            script = _embedded_code(node.value)
            if script is not None:
                found += problems_in(textwrap.dedent(node.value), f"{label} (script)",
                                     first_line + node.lineno - 1)
    return found


def test_the_scan_sees_the_repository():
    files = python_files()
    names = {p.relative_to(ROOT).as_posix() for p in files}
    assert {"__init__.py", "ev_chargepoints/gui/plugin.py", "ev_chargepoints/qgis/tables.py",
            "tests/qgis/test_network_cancel.py", "bench/worker.py"} <= names
    assert len(files) > 100


def test_repository_has_no_qt5_only_constructs():
    found = []
    for path in python_files():
        text = path.read_text(encoding="utf-8")
        label = path.relative_to(ROOT).as_posix()
        found += problems_in(text, label)
        if "exec_(" in text and not any("exec_()" in f for f in found if f.startswith(label)):
            found.append(f"{label}: contains 'exec_(' (in a string or comment?)")
    assert not found, "Qt 6 / QGIS 4 incompatible code:\n" + "\n".join(found)


@pytest.mark.parametrize("code, expected", [
    ("dialog.exec_()\n", "exec_()"),
    ("from qgis.core import QgsField\nf = QgsField('a', QVariant.String)\n", "QVariant.String"),
    ("t = QtCore.QVariant.Type.Int\n", "QVariant.Type"),
    ("ok = isinstance(v, QVariant) and v.isNull()\n", "isinstance(..., QVariant)"),
    ("ok = isinstance(v, (str, QtCore.QVariant))\n", "isinstance(..., QVariant)"),
    ("from PyQt5.QtCore import Qt\n", "from PyQt5.QtCore"),
    ("import PyQt5.QtWidgets\n", "import PyQt5.QtWidgets"),
    ("from PyQt6 import QtCore\n", "from PyQt6"),
    ("SCRIPT = '''\n    import sys\n    loop.exec_()\n'''\n", "(script)"),
])
def test_the_scan_catches(code, expected):
    found = problems_in(code, "sample.py")
    assert found and any(expected in f for f in found), found


@pytest.mark.parametrize("code", [
    "dialog.exec()\n",
    "spec.loader.exec_module(module)\n",
    "from qgis.PyQt.QtCore import QMetaType\nt = QMetaType.Type.QString\n",
    "from qgis.core import NULL\nok = value is None or value == NULL\n",
    "from qgis.core import QgsVariantUtils\nok = QgsVariantUtils.isNull(v)\n",
    "from qgis.PyQt import sip\nfrom qgis.PyQt.QtWidgets import QAction\n",
    "FORBIDDEN = ('qgis', 'PyQt5', 'PyQt6', 'sip')\n",
])
def test_the_scan_allows(code):
    assert problems_in(code, "sample.py") == []
