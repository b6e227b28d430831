"""No import circle in any package, and the kernel never imports a domain package.

The graph is read from the source with `ast` (nothing is imported): every `import` and
`from … import` anywhere in a module, inside functions too, relative imports resolved,
`from package import module` counted as an import of that module. Only imports under
`if TYPE_CHECKING:` are left out (they never run). Migrations are not part of the graph.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "ecosystem"
DOMAIN_PACKAGES = ("labs", "incubator", "hackathon")
PACKAGES = (KERNEL, *DOMAIN_PACKAGES)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def source_modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" not in path.relative_to(ROOT).parts:
                found[module_name(path)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _import_nodes(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement under `node`, except the bodies of `if TYPE_CHECKING:`."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for other in child.orelse:
                yield from _import_nodes(ast.Module(body=[other], type_ignores=[]))
        else:
            yield from _import_nodes(child)


def imported_names(module: str, path: Path) -> Iterator[str]:
    """Dotted names this module imports (a `from x import y` gives both x and x.y)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in _import_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
            continue
        base = node.module or ""
        if node.level:
            parts = package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, base] if base else parts)
        yield base
        yield from (f"{base}.{alias.name}" for alias in node.names)


def import_graph() -> dict[str, set[str]]:
    """Module → the modules of our packages it imports (the longest known prefix of a name)."""
    modules = source_modules()
    graph: dict[str, set[str]] = {module: set() for module in modules}
    for module, path in modules.items():
        for name in imported_names(module, path):
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                graph[module].add(name)
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of two or more modules (Tarjan, without recursion)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def top(module: str) -> str:
    return module.partition(".")[0]


def test_the_graph_reader_sees_imports_inside_functions_and_skips_type_checking(tmp_path):
    """The reader itself: a circle through an import inside a function is one."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert circles(graph) == [["a", "b", "c"]]
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from ecosystem import models\n"
        "def f():\n    from . import web\n    import ecosystem.db\n"
        "from ..labs import api\n"
    )
    path = tmp_path / "mod.py"
    path.write_text(source)
    names = set(imported_names("ecosystem.routes.mod", path))
    assert "ecosystem.models" not in names
    assert {"ecosystem.routes.web", "ecosystem.db", "ecosystem.labs.api"} <= names


@pytest.mark.parametrize("package", PACKAGES)
def test_no_import_circle_in_the_package(package: str) -> None:
    found = [c for c in circles(import_graph()) if any(top(m) == package for m in c)]
    assert found == [], f"import circles in {package}: " + "; ".join(
        " <-> ".join(component) for component in found
    )


def test_the_kernel_never_imports_a_domain_package() -> None:
    graph = import_graph()
    upward = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if top(module) == KERNEL
        for target in targets
        if top(target) in DOMAIN_PACKAGES
    )
    assert upward == []


def test_domain_packages_do_not_import_each_other() -> None:
    graph = import_graph()
    across = sorted(
        f"{module} imports {target}"
        for module, targets in graph.items()
        if top(module) in DOMAIN_PACKAGES
        for target in targets
        if top(target) in DOMAIN_PACKAGES and top(target) != top(module)
    )
    assert across == []


def _loaded_after_import(module: str) -> list[str]:
    """Modules of ours that a fresh interpreter holds after importing `module`."""
    code = (
        f"import sys, {module}\n"
        "print('\\n'.join(sorted(n for n in sys.modules if n.split('.')[0] in "
        f"{PACKAGES!r})))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.mark.parametrize("module", ["ecosystem.db", "ecosystem.services.accounts", "ecosystem.web"])
def test_a_kernel_module_imports_alone_without_routes_or_packages(module: str) -> None:
    loaded = _loaded_after_import(module)
    assert module in loaded
    heavy = [
        name
        for name in loaded
        if name.startswith(("ecosystem.routes", "ecosystem.api", "ecosystem.package"))
        and name != "ecosystem.packages"
        or top(name) in DOMAIN_PACKAGES
    ]
    assert heavy == []


def test_reading_the_packages_loads_no_route() -> None:
    """A package's `package.py` declares by dotted name; the app factory loads the routes."""
    code = (
        "from ecosystem.packages import declared_packages\n"
        "declared_packages(('labs', 'incubator', 'hackathon'))\n"
        "import ecosystem.db as db\n"
        "db.config_from_env()\n"
    )
    probe = f"{code}import sys\nprint('\\n'.join(sorted(sys.modules)))"
    result = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    loaded = set(result.stdout.split())
    assert {"labs.package", "incubator.package", "hackathon.package"} <= loaded
    heavy = sorted(
        name
        for name in loaded
        if top(name) in PACKAGES
        and (".routes" in name or name.endswith((".api", ".jobs", ".services", ".tasks")))
    )
    assert heavy == []


def test_every_dotted_name_a_package_declares_resolves() -> None:
    """A moved function or list breaks here, by name, rather than at the first request."""
    from ecosystem.packages import Hook, declared_packages

    for package in declared_packages(DOMAIN_PACKAGES):
        loaded = package.loaded()
        hooks = [
            *package.dashboard_panels,
            package.indicators,
            package.pending_publications,
            package.credit_issuers,
            package.seed_demo,
        ]
        for hook in hooks:
            if isinstance(hook, Hook):
                assert callable(hook.target), hook
        assert all(callable(panel) for panel in loaded.dashboard_panels)
        assert all(callable(job) for job in loaded.jobs)
        assert all(hasattr(route, "path") for route in [*loaded.routes, *loaded.api_routes])
        assert all(isinstance(title, str) for title in loaded.indicator_titles.values())
        assert all(callable(h.paid) for h in loaded.payment_handlers.values())
