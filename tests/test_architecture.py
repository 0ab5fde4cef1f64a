"""The package structure stays what docs/architecture.md says: read from every module's
imports with ``ast`` (top-level and inside functions).

- no module imports a ``_private`` module or name from another package (directory);
- the adapters import the core only through its public surface (``redis_agent_core``,
  its top-level modules and its packages' ``__init__``), names listed in ``__all__``;
- the two adapters never import each other, and the core imports neither;
- the module import graph has no cycle, lazy (function-level) imports included. Imports
  under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import python_without

ROOT = Path(__file__).resolve().parent.parent
CORE = "redis_agent_core"
ADAPTERS = ("langchain_redis_agent", "llamaindex_redis_agent")
SERVICE = "redis_agent_service"  # the application: may use the LangChain adapter
PACKAGES = (CORE, *ADAPTERS, SERVICE)


@dataclass(frozen=True)
class Module:
    name: str
    path: Path
    is_package: bool

    @property
    def directory(self) -> str:
        """The package the module sits in (itself for an ``__init__``)."""
        return self.name if self.is_package else self.name.rpartition(".")[0]


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    module: str  # imported module (or the package a name is taken from)
    name: str | None  # the name taken from ``module``, None for a module import
    line: int
    typing_only: bool  # under ``if TYPE_CHECKING:``


def discover(root: Path = ROOT) -> dict[str, Module]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            modules[".".join(parts)] = Module(".".join(parts), path, is_package)
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _walk(node: ast.AST, typing_only: bool = False) -> Iterator[tuple[ast.AST, bool]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield stmt, True
                yield from _walk(stmt, True)
            for stmt in child.orelse:
                yield stmt, typing_only
                yield from _walk(stmt, typing_only)
            continue
        yield child, typing_only
        yield from _walk(child, typing_only)


def imports_of(module: Module, modules: Mapping[str, Module]) -> list[Import]:
    tree = ast.parse(module.path.read_text(encoding="utf-8"), str(module.path))
    found = []
    for node, typing_only in _walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(module.name, alias.name, None, node.lineno, typing_only))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.name.split(".")
                if not module.is_package:
                    base.pop()
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, *([node.module] if node.module else [])])
            else:
                target = node.module or ""
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:  # ``from pkg import submodule``
                    found.append(Import(module.name, sub, None, node.lineno, typing_only))
                else:
                    found.append(Import(module.name, target, alias.name, node.lineno, typing_only))
    return found


def all_imports(modules: Mapping[str, Module]) -> list[Import]:
    return [imp for module in modules.values() for imp in imports_of(module, modules)]


def _private(part: str) -> bool:
    return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))


def find_cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def _public_names(module: Module) -> set[str] | None:
    """A module's ``__all__`` (None when it has none)."""
    tree = ast.parse(module.path.read_text(encoding="utf-8"))
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id == "__all__" and node.value:
                return set(ast.literal_eval(node.value))
    return None


MODULES = discover()
IMPORTS = all_imports(MODULES)


def test_the_parser_sees_top_level_lazy_and_typing_imports() -> None:
    """Guards the checks below against passing because nothing was read."""
    assert len(MODULES) > 80
    seen = {(i.source, i.module, i.name, i.typing_only) for i in IMPORTS}
    # a top-level relative import, a lazy one inside a function, a typing-only one
    assert (
        "redis_agent_core.cache.exact",
        "redis_agent_core.cache.base",
        "CacheStore",
        False,
    ) in seen
    assert ("redis_agent_core.tasks.batch", "redis_agent_core.cache", "ExactCache", False) in seen
    assert any(i.typing_only for i in IMPORTS)


def test_cycle_finder_finds_a_lazy_loop() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert find_cycles(graph) == [["a", "b", "c"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []


def test_no_private_import_across_packages() -> None:
    offenders = []
    for imp in IMPORTS:
        target = MODULES.get(imp.module)
        if target is None:
            continue  # a third-party module
        parts = imp.module.split(".")[1:] + ([imp.name] if imp.name else [])
        if not any(_private(p) for p in parts):
            continue
        source = MODULES[imp.source]
        # private names are shared inside one package (its directory), never outside it
        target_dir = target.name.rpartition(".")[0] if not target.is_package else target.name
        inside = source.directory == target_dir or (
            target.is_package
            and source.directory.startswith(target.name + ".")
            and imp.name is None
        )
        if not inside:
            offenders.append(f"{imp.source}:{imp.line} imports {imp.module} {imp.name or ''}")
    assert not offenders, "\n".join(offenders)


def _core_public_surface(name: str) -> bool:
    module = MODULES.get(name)
    if module is None or not name.startswith(CORE):
        return False
    if any(_private(p) for p in name.split(".")):
        return False
    return module.is_package or name.count(".") == 1


@pytest.mark.parametrize("adapter", (*ADAPTERS, SERVICE))
def test_adapters_use_only_the_cores_public_surface(adapter: str) -> None:
    offenders = []
    for imp in IMPORTS:
        if not imp.source.startswith(adapter + ".") and imp.source != adapter:
            continue
        if imp.module.split(".")[0] != CORE:
            continue
        where = f"{imp.source}:{imp.line} imports {imp.module}"
        if not _core_public_surface(imp.module):
            offenders.append(
                f"{where} (not a public module: use redis_agent_core.kit or the package)"
            )
            continue
        if imp.name is None:
            continue
        exported = _public_names(MODULES[imp.module])
        if _private(imp.name) or (exported is not None and imp.name not in exported):
            offenders.append(f"{where}.{imp.name} (not in its __all__)")
    assert not offenders, "\n".join(offenders)


def test_adapters_never_import_each_other_and_the_core_imports_neither() -> None:
    """...and no library imports the application; the application uses the LangChain
    adapter's public modules and names only."""
    offenders = []
    for imp in IMPORTS:
        src, dst = imp.source.split(".")[0], imp.module.split(".")[0]
        service_use = src == SERVICE and dst == "langchain_redis_agent"
        private = any(_private(p) for p in [*imp.module.split("."), imp.name or ""])
        if service_use and private:
            offenders.append(f"{imp.source}:{imp.line} imports {imp.module} {imp.name} (private)")
        elif dst in ADAPTERS and src != dst and not service_use:
            offenders.append(f"{imp.source}:{imp.line} imports {imp.module}")
        elif dst == SERVICE and src != SERVICE:
            offenders.append(f"{imp.source}:{imp.line} imports the application {imp.module}")
    assert not offenders, "\n".join(offenders)


def test_no_import_cycle_lazy_imports_included() -> None:
    graph: dict[str, set[str]] = {name: set() for name in MODULES}
    for imp in IMPORTS:
        if imp.typing_only or imp.module not in MODULES or imp.module == imp.source:
            continue
        graph[imp.source].add(imp.module)
    cycles = find_cycles(graph)
    lines = []
    for members in cycles:
        lines.append(" <-> ".join(members))
        for a in members:
            lines.extend(f"    {a} -> {b}" for b in sorted(graph[a]) if b in members)
    assert not cycles, "import cycles:\n" + "\n".join(lines)


def _string_literals(path: Path) -> Iterator[tuple[int, str]]:
    """(line, text) of every str / bytes literal in a module (docstrings included)."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str | bytes):
            value = node.value.decode("latin-1") if isinstance(node.value, bytes) else node.value
            yield node.lineno, value


def _modules_of_packages() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def test_commands_are_built_in_one_place_each() -> None:
    """Lua only in ``.lua`` files, run only through ``scripts.Script`` (the one place
    that spells EVALSHA / EVAL); RediSearch commands built only in the search layer; raw
    RESP only in ``fastpath``."""
    misplaced: list[str] = []
    for path in _modules_of_packages():
        rel = path.relative_to(ROOT).as_posix()
        for line, text in _string_literals(path):
            where = f"{rel}:{line}"
            if "redis.call(" in text:
                misplaced.append(f"{where}: Lua source in Python (put it in a .lua file)")
            if text in ("EVALSHA", "EVAL") and rel != "redis_agent_core/scripts.py":
                misplaced.append(f"{where}: {text} outside redis_agent_core/scripts.py")
            if "\r\n" in text and rel != "redis_agent_core/fastpath.py":
                misplaced.append(f"{where}: raw RESP outside redis_agent_core/fastpath.py")
            if text.startswith(("FT.SEARCH", "FT.CREATE", "FT.AGGREGATE")) and not (
                rel.startswith("redis_agent_core/search/") or rel == "redis_agent_core/acl.py"
            ):
                misplaced.append(f"{where}: {text.split()[0]} outside redis_agent_core/search/")
    assert misplaced == []


def test_every_lua_file_is_loaded_by_a_script() -> None:
    """No stale .lua file: each is named in a ``Script.load`` call of its package."""
    stale = []
    for lua in sorted((ROOT / CORE).rglob("*.lua")):
        sources = "".join(p.read_text() for p in lua.parent.glob("*.py"))
        if f'"{lua.name}"' not in sources:
            stale.append(lua.relative_to(ROOT).as_posix())
    assert stale == []


def _redis_py_exception_classes() -> frozenset[str]:
    """Every exception class redis-py defines (``redis.exceptions``, the sentinel's, the
    cluster's...), read from the installed redis-py: a new one is covered unlisted."""
    import sys

    import redis.asyncio
    import redis.cluster
    import redis.sentinel  # noqa: F401  (loads the modules that define their own)

    return frozenset(
        name
        for module_name, module in list(sys.modules.items())
        if module_name == "redis" or module_name.startswith("redis.")
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseException)
        and value.__module__.split(".")[0] == "redis"
    )


# redis-py's exception classes: named in the libraries only through redis_errors
_FAULT_CLASSES = _redis_py_exception_classes()


def _redis_aliases(tree: ast.Module) -> set[str]:
    """The names a module binds to redis-py modules (``redis``, ``aredis``, ``exceptions``)."""
    aliases: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "redis" or alias.name.startswith("redis."):
                    aliases.add(alias.asname or alias.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "redis":
            aliases.update(alias.asname or alias.name for alias in node.names)
    return aliases


def test_redis_py_exception_classes_are_derived_from_redis_py() -> None:
    assert {"ConnectionError", "ResponseError", "NoScriptError", "WatchError"} <= _FAULT_CLASSES
    assert {"MasterNotFoundError", "RedisClusterException", "LockError"} <= _FAULT_CLASSES


def test_redis_faults_are_named_only_in_redis_errors() -> None:
    """A library names a redis-py exception class only through ``redis_errors``
    (``FAULTS``, ``UNAVAILABLE``, ``CLEANUP``, ``fault_kind``, the reply classes...), so
    each is classified and mapped in one way; the application may name them."""
    named: list[str] = []
    for package in (CORE, *ADAPTERS):
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel == f"{CORE}/redis_errors.py":
                continue
            tree = ast.parse(path.read_text())
            aliases = _redis_aliases(tree)
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in _FAULT_CLASSES
                    and ast.unparse(node.value).split(".")[0] in aliases
                ) or (
                    isinstance(node, ast.ImportFrom)
                    and (node.module or "").split(".")[0] == "redis"
                    and any(alias.name in _FAULT_CLASSES for alias in node.names)
                ):
                    named.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert named == []


# what only the plumbing does with a pool's connections: borrow one, write bytes, read replies
_CONNECTION_CALLS = {"get_connection", "send_packed_command", "read_response", "make_connection"}


def test_pooled_connections_are_handled_only_in_fastpath() -> None:
    """No module but ``fastpath`` borrows a pool connection or writes/reads it raw (the
    vector index's batches go through ``fastpath.send_batch``): one place keeps a
    connection with unread replies out of the pool and retries a batch."""
    found: list[str] = []
    for path in _modules_of_packages():
        rel = path.relative_to(ROOT).as_posix()
        if rel == f"{CORE}/fastpath.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in _CONNECTION_CALLS:
                found.append(f"{rel}:{node.lineno}: {ast.unparse(node)[:60]}")
    assert found == []


def test_the_adapters_and_the_tasks_package_import_without_celery() -> None:
    # Celery is the `tasks` extra: `pip install redis-agent-pack[langchain]` must give a
    # working `import langchain_redis_agent` (its task helpers load Celery on first use)
    code = (
        "import langchain_redis_agent, llamaindex_redis_agent, redis_agent_core.tasks\n"
        "from redis_agent_core.tasks import sign_payload, register_model\n"
    )
    done = python_without(("celery", "kombu"), code)
    assert done.returncode == 0, done.stderr[-2000:]
