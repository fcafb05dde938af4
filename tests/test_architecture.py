"""The code's layering: no import cycle between the project's modules, and the import-linter
contracts in pyproject.toml (plain-Python engine, services never import tasks, training builds on
detection). `make lint` runs the same contracts with `lint-imports`."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import networkx as nx

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("accounts", "detection", "training", "maskportal")


def project_graph() -> nx.DiGraph:
    """Module -> module imports among the project's packages (imports inside functions included)."""
    imports = grimp.build_graph(*PACKAGES, cache_dir=None)
    graph = nx.DiGraph()
    for module in imports.modules:
        if ".migrations" in module:
            continue
        graph.add_node(module)
        for imported in imports.find_modules_directly_imported_by(module):
            if ".migrations" not in imported:
                graph.add_edge(module, imported)
    return graph


def test_no_import_cycle_between_modules():
    # A package's __init__ importing its own submodules is not a cycle of design; the rest is.
    graph = project_graph()
    graph.remove_edges_from([(a, b) for a, b in list(graph.edges) if b.startswith(a + ".") or a.startswith(b + ".")])
    cycles = [sorted(group) for group in nx.strongly_connected_components(graph) if len(group) > 1]
    assert cycles == [], f"import cycles: {cycles}"


def test_import_contracts_are_kept():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300, check=False
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
