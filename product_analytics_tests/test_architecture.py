"""The package's layers (docs/architecture.md): every import goes down, never up or sideways
into a later layer, so the folders form no loop."""

import ast
from pathlib import Path

import product_analytics

PACKAGE = Path(product_analytics.__file__).parent

# Bottom to top. A module may import its own unit and the units of lower rank.
LAYERS = [
    "config",
    "project",
    "policies",
    "simulator",
    "resources",
    "ingestion",
    "transform",
    "retention",
    "monitoring",
    "publishing",
    "automation",
    "definitions",
    "instance",
    "ui",
    "demo",
    "backfill",
    "metrics",
]
RANK = {unit: rank for rank, unit in enumerate(LAYERS)}


def unit_of(module: str) -> str:
    """``product_analytics.ingestion.load`` -> ``ingestion``."""
    return module.split(".")[1]


def imports_of(source: str) -> set[str]:
    """The package modules a file imports (at any depth of the file)."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("product_analytics."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("product_analytics."))
    return found


def violations(sources: dict[str, str]) -> list[str]:
    """Imports that go up, for files given as {path relative to the package: source}."""
    found = []
    for relative, source in sorted(sources.items()):
        unit = Path(relative).parts[0].removesuffix(".py")
        if unit == "__init__":
            continue
        for module in sorted(imports_of(source)):
            target = unit_of(module)
            if target != unit and RANK[target] > RANK[unit]:
                found.append(f"{relative} ({unit}) imports {module} ({target}), a higher layer")
    return found


def package_sources() -> dict[str, str]:
    return {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}


def test_every_unit_of_the_package_has_a_layer():
    units = {p.name.removesuffix(".py") for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").exists()}
    assert units - {"__init__"} == set(LAYERS)


def test_imports_only_go_down():
    assert violations(package_sources()) == []


def test_the_rule_catches_an_import_that_goes_up():
    # The loop this layout removed: a policy module importing the transform assets.
    sources = {"policies/freshness.py": "def f():\n    from product_analytics.transform.assets import model_key\n"}
    expected = "policies/freshness.py (policies) imports product_analytics.transform.assets (transform), a higher layer"
    assert violations(sources) == [expected]
    assert violations({"transform/assets.py": "from product_analytics.policies.freshness import DAILY_FRESHNESS\n"}) == []
