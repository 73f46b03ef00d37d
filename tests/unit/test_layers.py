"""Arrows point down (/work/shared/DESIGN.md "Architecture"): every import of every module under
src/unitrace, those inside functions included, is read from its source and checked against the
layers — `core` at the bottom, then `db`, the heart (`ledger`, `catalog`, `access`), the
capabilities and, on top, the edges (`api`, `web`, `cli`).

A package's `routes.py` (or `routes/` package) is an edge room kept beside its use cases: it
may import `api.*`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path

import unitrace

SRC = Path(unitrace.__file__).parent
CORE = "core"
DB = "db"
HEART = frozenset({"ledger", "catalog", "access"})
# today's capabilities and those the design names for later: a rule written now holds for them
CAPABILITIES = frozenset(
    {"production", "channel", "logistics", "aftersales", "verify", "labels", "interop", "trace"}
)
EDGES = frozenset({"api", "web", "cli"})

Arrow = tuple[str, str]  # (importing module, imported module)


def _module_name(path: Path) -> str:
    parts = ("unitrace", *path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    relative = Path(*name.split(".")[1:])
    return (SRC / relative).with_suffix(".py").is_file() or (SRC / relative).is_dir()


def _imports(path: Path) -> Iterator[str]:
    """Every unitrace module a file imports, wherever the import statement is."""
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == "unitrace")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            if target.split(".")[0] != "unitrace":
                continue
            for alias in node.names:  # `from unitrace.ledger import service` names a module
                member = f"{target}.{alias.name}"
                yield member if _is_module(member) else target


@cache
def arrows() -> tuple[Arrow, ...]:
    found = {
        (_module_name(path), imported) for path in SRC.rglob("*.py") for imported in _imports(path)
    }
    return tuple(sorted(found))


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_routes(module: str) -> bool:
    """`routes.py`, or a module of a `routes` package (after-sales keeps one an area)."""
    return "routes" in module.split(".")[2:]


def _offending(rule: Callable[[str, str], bool], skip: frozenset[str] = frozenset()) -> list[str]:
    return [
        f"{module} → {imported}"
        for module, imported in arrows()
        if module not in skip and not rule(module, imported)
    ]


def _check(rule: Callable[[str, str], bool], what: str, skip: frozenset[str] = frozenset()) -> None:
    offending = _offending(rule, skip)
    assert not offending, f"{what}; upward arrows:\n  " + "\n  ".join(offending)


def _core_rule(module: str, imported: str) -> bool:
    return _layer(module) != CORE or _layer(imported) == CORE


def _db_rule(module: str, imported: str) -> bool:
    return _layer(module) != DB or _layer(imported) in {CORE, DB, "config"}


def _heart_rule(module: str, imported: str) -> bool:
    if _layer(module) not in HEART:
        return True
    if _layer(imported) in CAPABILITIES:
        return False
    return _layer(imported) not in EDGES or (_is_routes(module) and _layer(imported) == "api")


def _capability_rule(module: str, imported: str) -> bool:
    if _layer(module) not in CAPABILITIES or _layer(imported) not in EDGES:
        return True
    return _is_routes(module) and _layer(imported) == "api"


def _edge_rule(module: str, imported: str) -> bool:
    return _layer(module) not in EDGES or imported != "unitrace.db.tables"


def test_the_walk_finds_imports_at_module_level_and_inside_functions() -> None:
    found = set(arrows())
    assert ("unitrace.ledger.service", "unitrace.ledger.write") in found  # from … import names
    assert ("unitrace.ledger.group", "unitrace.ledger.service") in found  # inside a function
    assert ("unitrace.api.app", "unitrace.ledger.routes") in found


def test_core_imports_nothing_of_unitrace_but_core() -> None:
    _check(_core_rule, "core is pure: it imports only core")


def test_db_imports_only_core_db_and_config() -> None:
    _check(_db_rule, "db imports only core, db and config")


def test_the_heart_imports_no_capability_and_no_edge() -> None:
    _check(_heart_rule, "ledger, catalog and access import no capability and no edge")


def test_capabilities_import_no_edge_except_their_routes_import_api() -> None:
    _check(_capability_rule, "a capability imports no edge (its routes.py may import api)")


def test_edges_never_import_the_tables() -> None:
    _check(_edge_rule, "api, web and cli reach tables only through use cases and queries")


def test_a_rule_names_every_offending_import() -> None:
    # the failure message is the list to work from: each (module → import), not the first
    message = ""
    try:
        _check(lambda module, imported: not imported.startswith("unitrace.core"), "no core")
    except AssertionError as error:
        message = str(error)
    assert "unitrace.ledger.write → unitrace.core.errors" in message
    assert "unitrace.api.problems → unitrace.core.errors" in message


# the tables a capability owns (its migrations made them); the heart reaches them only through
# the steps and reads the capability registers (ledger/pipeline.py, ledger/reads.py)
CAPABILITY_TABLES = frozenset(
    {
        "bom_lines", "route_steps", "unit_steps", "lot_uses", "recalls", "recall_units",
        "shipments", "diversion_alerts", "stocktakes", "stocktake_expected", "stocktake_scans",
        "containers", "event_containers",
    }
)  # fmt: skip


def _tables_named(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.ImportFrom) and node.module == "unitrace.db.tables":
            names.update(alias.name for alias in node.names)
    return names


def test_the_heart_reads_no_capability_table() -> None:
    offending = [
        f"{_module_name(path)} → db.tables.{name}"
        for path in sorted(SRC.rglob("*.py"))
        if _layer(_module_name(path)) in HEART
        for name in sorted(_tables_named(path) & CAPABILITY_TABLES)
    ]
    assert not offending, "the heart reads capability tables:\n  " + "\n  ".join(offending)


def test_the_table_rule_sees_a_capability_reading_its_own_tables() -> None:
    # the check that could fail: production's reads do import its tables
    assert "unit_steps" in _tables_named(SRC / "production" / "reads.py")
