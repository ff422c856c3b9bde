"""The shape of the house (docs/architecture.md): no import circles, files a reader can
hold, a small top level in core/, no private names reached across folders, and a core
that never imports QGIS or Qt."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ev_chargepoints"
MAX_LINES = 700
MAX_CORE_TOP_MODULES = 12


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(path: Path, name: str, modules) -> list[tuple[str, tuple[str, ...]]]:
    """Every project module `path` imports (at any depth of its code), with the names."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            names = tuple(alias.name for alias in node.names)
            submodules = [f"{target}.{n}" for n in names if f"{target}.{n}" in modules]
            if submodules:
                found += [(m, ()) for m in submodules]
                names = tuple(n for n in names if f"{target}.{n}" not in modules)
            if target in modules and (names or not submodules):
                found.append((target, names))
        elif isinstance(node, ast.Import):
            found += [(alias.name, ()) for alias in node.names if alias.name in modules]
    return [(m, n) for m, n in found if m != name]


def _graph():
    modules = _sources()
    return modules, {m: _imports(p, m, modules) for m, p in modules.items()}


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on_stack, result, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                result.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return result


def _is_package_init_link(importer: str, imported: str) -> bool:
    # a package's __init__ re-exporting its own submodules is not a circle a reader walks
    return imported.startswith(importer + ".") or importer.startswith(imported + ".")


def test_no_import_circles_among_the_project_modules():
    _, graph = _graph()
    edges = {m: {t for t, _ in targets if not _is_package_init_link(m, t)}
             for m, targets in graph.items()}
    assert _cycles(edges) == []


def test_the_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_module_is_longer_than_a_reader_can_hold():
    too_long = {m: n for m, p in _sources().items()
                if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert too_long == {}


def test_core_top_level_holds_at_most_a_dozen_modules():
    top = sorted(p.name for p in (PACKAGE / "core").glob("*.py"))
    assert len(top) <= MAX_CORE_TOP_MODULES, top


def _folder(module: str, path: Path) -> str:
    return module if path.name == "__init__.py" else module.rpartition(".")[0]


def test_no_private_name_is_imported_across_folders():
    modules, graph = _graph()
    crossings = []
    for importer, targets in graph.items():
        for target, names in targets:
            if _folder(importer, modules[importer]) == _folder(target, modules[target]):
                continue
            private = [n for n in names if n.startswith("_") and not n.startswith("__")]
            private += [target] if target.rpartition(".")[2].startswith("_") else []
            crossings += [f"{importer} imports {n} from {target}" for n in private]
    assert crossings == []


@pytest.mark.parametrize("forbidden", ["qgis", "PyQt5", "PyQt6", "sip"])
def test_core_never_imports_qgis_or_qt(forbidden):
    offenders = []
    for path in (PACKAGE / "core").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level
                     else [])
            offenders += [str(path) for n in names if n.split(".")[0] == forbidden]
    assert offenders == []
