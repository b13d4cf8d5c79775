"""Helpers several test modules share (test modules never import from one another)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts


def route_table(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path template) of every route the app serves, HEAD aside."""
    table = []
    for route in iter_route_contexts(app.routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                table.append((method, route.path_format or route.path))
    return sorted(set(table))
