"""Imports flow one way, from the entry points down to the core: a module never imports
from a layer above its own (checked on the source, lazy imports inside functions too)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "simple_async_tasks"

LAYERS = {
    "core": 0,  # the task, errors, clock, conditions, contracts, parcel, serialization, ...
    "lifecycle": 1,  # enqueue and execute, sweeps, scheduler, routing of deliveries
    "backends": 2,  # memory, SQLite, DynamoDB, SQS: send, receive and dead letters
    "entry": 3,  # TaskApp and its wiring, the worker, the Lambda handlers, the dashboard, ...
    "cli": 4,  # the command line
    "root": 5,  # the package's own __init__, operations, typedefs: re-exports
}


def layer_of(module: str) -> str:
    parts = module.split(".")[1:]  # without "simple_async_tasks"
    if not parts or parts[0] in ("operations", "typedefs", "observability", "aio"):
        return "root"
    head = parts[0]
    if head in ("lifecycle", "routing"):
        return "lifecycle"
    if head == "backends":
        return "backends"
    if head in ("app", "worker", "aws", "testing", "dashboard"):
        return "entry"
    if head == "cli":
        return "cli"
    return "core"


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(source: str, name: str, *, is_package: bool = False) -> list[tuple[int, str]]:
    """The modules of this package that ``source`` (module ``name``) imports, by line."""
    package = name if is_package else name.rsplit(".", 1)[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package.split(".")
            base = base[: len(base) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            if node.module is None:
                found.extend((node.lineno, f"{target}.{a.name}") for a in node.names)
            else:
                found.append((node.lineno, target))
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "simple_async_tasks"
        ):
            found.append((node.lineno, node.module or ""))
    return found


def upward(source: str, name: str, *, is_package: bool = False) -> list[str]:
    own = LAYERS[layer_of(name)]
    return [
        f"{name}:{line} imports {target}"
        for line, target in imports_of(source, name, is_package=is_package)
        if LAYERS[layer_of(target)] > own
    ]


def test_no_module_imports_from_a_layer_above_its_own():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        wrong += upward(source, module_name(path), is_package=path.name == "__init__.py")
    assert wrong == []


def test_the_check_sees_an_upward_import_even_a_lazy_one():
    source = "def source():\n    from ..worker import SqsSource\n"
    assert upward(source, "simple_async_tasks.backends.opened") == [
        "simple_async_tasks.backends.opened:2 imports simple_async_tasks.worker"
    ]
    assert upward("from .. import aws", "simple_async_tasks.backends.sqs") == [
        "simple_async_tasks.backends.sqs:1 imports simple_async_tasks.aws"
    ]
    assert upward("from ..backends.sqs import SqsSource", "simple_async_tasks.worker") == []
