"""Static check: QGIS expressions in qgis/ and gui/ never take data unquoted.

Reads the sources (no QGIS import: this runs in the core suite). An f-string counts as
an expression when it is passed to an expression sink (``setSubsetString``,
``selectByExpression``, ``setFilterExpression``, ``QgsExpression(...)``, a rule's
filter) or when it already quotes something with ``QgsExpression.quotedValue`` /
``quotedColumnRef``, or hand-quotes a column before an operator. Every value placed
in such an f-string must come from ``quotedValue``/``quotedColumnRef`` (directly, through
an alias, a variable or a ``join`` of them) or be numeric (``int()``/``float()``, a
numeric format spec). The runtime check is in tests/qgis/test_reliability_qgis.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "ev_chargepoints" / "qgis", ROOT / "ev_chargepoints" / "gui"]
QUOTERS = ("quotedValue", "quotedColumnRef", "quotedString")
SINKS = {"setSubsetString", "selectByExpression", "setFilterExpression", "QgsExpression",
         "setFilterExpressionString", "QgsFeatureRequest", "setExpression"}
NUMERIC = {"int", "float", "len", "round", "abs", "max", "min", "sum"}
# Reviewed exceptions: (file, value) -> why it is not data.
ALLOWED = {
    ("ev_chargepoints/qgis/styling.py", "band.lower"): "numeric band limit from the styling "
    "configuration, written with repr()",
    ("ev_chargepoints/qgis/styling.py", "band.upper"): "numeric band limit from the styling "
    "configuration, written with repr()",
}
CONSTANT = re.compile(r"^(?:[a-z_][a-z0-9_]*\.)*_?[A-Z][A-Z0-9_]*$")
HAND_QUOTED = re.compile(r"\"\w+\"\s*(=|<>|!=|<|>|\bIN\b|\bLIKE\b|\bILIKE\b|\bIS\b)",
                         re.IGNORECASE)


def _name(func) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


class FunctionScope(ast.NodeVisitor):
    """Finds unsafe values in expression f-strings, one function at a time."""

    def __init__(self, path: Path):
        self.path = path
        self.problems: list[str] = []

    def visit_FunctionDef(self, node):  # noqa: N802
        self._check_scope(node)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Module(self, node):  # noqa: N802
        self._check_scope(node)

    def _check_scope(self, scope):
        aliases: set[str] = set()   # names bound to a quoter function
        safe: set[str] = set()      # names bound to quoted text or constants
        quoted: set[str] = set()    # names bound to quoted text only
        body_nodes = list(_walk_scope(scope))
        for node in body_nodes:  # loop variables over constants: for k, v in SIZES.items()
            if isinstance(node, ast.comprehension) and _is_constant(node.iter):
                safe.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
        for _ in range(3):  # settle simple chains of assignments
            for node in body_nodes:
                if isinstance(node, ast.Assign):
                    self._bind(node.targets, node.value, aliases, safe, quoted)
                elif isinstance(node, ast.AnnAssign) and node.value is not None:
                    self._bind([node.target], node.value, aliases, safe, quoted)
        sink_args = set()
        for node in body_nodes:
            if isinstance(node, ast.Call) and _name(node.func) in SINKS:
                for arg in list(node.args) + [k.value for k in node.keywords]:
                    sink_args.add(id(arg))
        for node in body_nodes:
            if not isinstance(node, ast.JoinedStr):
                continue
            literal = "".join(v.value for v in node.values
                              if isinstance(v, ast.Constant) and isinstance(v.value, str))
            uses_quoter = any(self._is_quoted(v.value, aliases, quoted, strict=True)
                              for v in node.values if isinstance(v, ast.FormattedValue))
            if not (id(node) in sink_args or uses_quoter or HAND_QUOTED.search(literal)):
                continue
            relative = str(self.path.relative_to(ROOT))
            for value in node.values:
                if isinstance(value, ast.FormattedValue) and not (
                        value.format_spec is not None
                        or self._is_quoted(value.value, aliases, safe)
                        or (relative, ast.unparse(value.value)) in ALLOWED):
                    self.problems.append(
                        f"{self.path.relative_to(ROOT)}:{node.lineno}: "
                        f"{ast.unparse(value.value)} is placed in an expression unquoted")
        for child in ast.iter_child_nodes(scope):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.visit(child)

    def visit_ClassDef(self, node):  # noqa: N802
        for child in node.body:
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                self.visit(child)

    def _bind(self, targets, value, aliases, safe, quoted):
        names, values = [], []
        for target in targets:
            if isinstance(target, ast.Tuple) and isinstance(value, ast.Tuple):
                names += [t.id for t in target.elts if isinstance(t, ast.Name)]
                values += list(value.elts)
            elif isinstance(target, ast.Name):
                names.append(target.id)
                values.append(value)
        for name, val in zip(names, values):
            if isinstance(val, ast.Attribute) and val.attr in QUOTERS:
                aliases.add(name)
            elif self._is_quoted(val, aliases, quoted, strict=True) or (
                    isinstance(val, ast.Call) and _name(val.func) == "join"
                    and self._is_quoted(val, aliases, safe)
                    and not self._is_quoted(val, set(), set())):
                quoted.add(name)
                safe.add(name)
            elif self._is_quoted(val, aliases, safe):
                safe.add(name)

    def _is_quoted(self, node, aliases, safe, strict=False) -> bool:
        if isinstance(node, ast.Call):
            called = _name(node.func)
            if called in QUOTERS or called in aliases:
                return True
            if strict:
                return False
            if called in NUMERIC:
                return True
            if called == "join" and node.args:  # ", ".join(quote(v) for v in values)
                arg = node.args[0]
                if isinstance(arg, (ast.GeneratorExp, ast.ListComp)):
                    return self._is_quoted(arg.elt, aliases, safe)
                return isinstance(arg, ast.Name) and arg.id in safe
            return False
        if strict:
            return isinstance(node, ast.Name) and node.id in safe
        if isinstance(node, ast.Constant) or _is_constant(node):
            return True
        if isinstance(node, ast.Name):
            return node.id in safe
        if isinstance(node, ast.JoinedStr):
            return all(not isinstance(v, ast.FormattedValue) or v.format_spec is not None
                       or self._is_quoted(v.value, aliases, safe) for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self._is_quoted(node.left, aliases, safe) and \
                self._is_quoted(node.right, aliases, safe)
        if isinstance(node, ast.IfExp):
            return self._is_quoted(node.body, aliases, safe) and \
                self._is_quoted(node.orelse, aliases, safe)
        return False


def _walk_scope(scope):
    """Every node of a function or module, without the bodies of nested defs."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            todo.extend(ast.iter_child_nodes(node))


def _is_constant(node) -> bool:
    """An UPPER_CASE module constant (or its .items()/.values()/.keys())."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr in ("items", "values", "keys") and not node.args:
        node = node.func.value
    return isinstance(node, (ast.Name, ast.Attribute)) and bool(
        CONSTANT.match(ast.unparse(node)))


def sources():
    return sorted(p for package in PACKAGES for p in package.rglob("*.py"))


def problems_in(path: Path) -> list[str]:
    checker = FunctionScope(path)
    checker.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return sorted(set(checker.problems), key=lambda line: int(line.split(":")[1]))


def test_the_checker_catches_data_in_expressions(tmp_path):
    bad = tmp_path / "ev_chargepoints" / "gui" / "bad.py"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "from qgis.core import QgsExpression\n"
        "def select(layer, name, codes):\n"
        "    layer.selectByExpression(f\"\\\"name\\\" = '{name}'\")\n"
        "    ref = QgsExpression.quotedColumnRef('code')\n"
        "    return f\"{ref} IN ({', '.join(codes)})\"\n"
        "def good(layer, name, codes):\n"
        "    quote = QgsExpression.quotedValue\n"
        "    values = ', '.join(quote(c) for c in codes)\n"
        "    layer.setSubsetString(f\"{QgsExpression.quotedColumnRef('n')} = {quote(name)}\")\n"
        "    return f\"\\\"code\\\" IN ({values}) AND \\\"kw\\\" > {float(name):g}\"\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = problems_in(bad)
    finally:
        ROOT = saved
    assert len(found) == 2, found
    assert "name is placed" in found[0] and "', '.join(codes)" in found[1]


@pytest.mark.parametrize("path", sources(), ids=lambda p: str(p.relative_to(ROOT)))
def test_expressions_quote_their_data(path, reliability_record):
    found = problems_in(path)
    assert found == [], "\n".join(found)
    reliability_record("hostile", "QGIS expressions in qgis/ and gui/ (static check)",
                       "values from data placed in expression f-strings",
                       "every value quoted with quotedValue/quotedColumnRef or numeric",
                       "", cases=1)
