"""No import cycle anywhere in the package: a module that imports another one, directly or
through others, is never imported back by it.

The graph is read from the source as tests/test_layout.py reads it (every import, also those
inside functions). Importing ``mailer.a.b`` runs the ``__init__`` of ``mailer.a`` first, so that
package is an import too, except for a module of the package itself: every module of a package
imports it that way, and that alone is no cycle.
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from test_layout import ALL, imports_of, known


def packages_of(module: str) -> set[str]:
    """``mailer.a.b`` -> ``{"mailer", "mailer.a"}``: the packages importing it runs first."""
    parts = module.split(".")
    return {".".join(parts[:n]) for n in range(1, len(parts))}


def import_graph() -> dict[str, set[str]]:
    """Each module of the package -> the modules of the package it imports."""
    graph = {}
    for module, path in ALL:
        named = {name for name in imports_of(module, path) if known(name)}
        implied = set().union(*(packages_of(name) for name in named))
        graph[module] = (named | implied) - packages_of(module) - {module}
    return graph


def cycle_in(graph: Mapping[str, Set[str]]) -> list[str]:
    """One cycle of ``graph`` as the path around it (``[a, b, a]``), or ``[]`` if it has none."""
    done: set[str] = set()
    path: list[str] = []  # the depth-first walk's current branch
    on_path: set[str] = set()

    def walk(node: str) -> list[str]:
        path.append(node)
        on_path.add(node)
        for following in sorted(graph.get(node, ())):
            if following in on_path:
                return [*path[path.index(following):], following]
            if following not in done:
                found = walk(following)
                if found:
                    return found
        on_path.discard(path.pop())
        done.add(node)
        return []

    for start in sorted(graph):
        if start not in done:
            found = walk(start)
            if found:
                return found
    return []


def test_no_module_imports_itself_back() -> None:
    cycle = cycle_in(import_graph())
    assert cycle == [], "an import cycle: " + " -> ".join(cycle)


def test_the_cycle_finder_names_a_cycle_and_only_one() -> None:
    assert cycle_in({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert cycle_in({"a": {"b", "c"}, "b": {"c"}, "c": set()}) == []  # a diamond is no cycle
    assert cycle_in({"a": {"a"}}) == ["a", "a"]


def test_the_graph_counts_the_packages_an_import_runs() -> None:
    graph = import_graph()
    assert "mailer.web" in graph["mailer.cli"]  # mailer.cli imports mailer.web.server
    assert "mailer.web" not in graph["mailer.web.server"]  # its own package
