"""The app's router: Starlette's, without reading every route on every request.

Starlette's router tries its routes one by one until one matches: a page near the end of
the list (a lab, a contest) paid for ~200 regular expressions first, about 2 µs each on the
shared machine (130 µs before `/organisations`, with its 69 predecessors). Every route of
ours starts with a literal first segment (`/organisations/{slug}` → `organisations`), and a
path can only be matched by routes with its own first segment: those are tried, in the
same order as before. Anything else (no route matched in full: 404, 405, a slash to add or
drop; a route without a literal first segment) takes Starlette's own loop over every route,
so the answers are exactly Starlette's.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette._utils import get_route_path
from starlette.routing import BaseRoute, Match, Mount, Route, Router
from starlette.types import Receive, Scope, Send

ANY_SEGMENT = None  # the key of routes that may match whatever the first segment


def first_segment(path: str) -> str:
    """`/organisations/x` → `organisations`; `/` → ``."""
    return path[1:].split("/", 1)[0] if path.startswith("/") else path


def literal_first_segment(route: BaseRoute) -> str | None:
    """The first segment every path this route matches starts with, or `ANY_SEGMENT`."""
    if isinstance(route, Route | Mount):
        path = route.path
        if path.startswith("/") and "{" not in (segment := first_segment(path)):
            if isinstance(route, Mount) and not segment:
                return ANY_SEGMENT  # mounted at the root: any path
            return segment
    return ANY_SEGMENT


class SegmentRouter(Router):
    """A Starlette router that tries only the routes of the path's first segment."""

    _index: dict[str, tuple[BaseRoute, ...]]
    _anywhere: tuple[BaseRoute, ...]
    _indexed: tuple[int, int] = (0, -1)

    def _build_index(self, routes: Sequence[BaseRoute]) -> None:
        keys = [literal_first_segment(route) for route in routes]
        index: dict[str, list[BaseRoute]] = {key: [] for key in keys if key is not ANY_SEGMENT}
        for route, key in zip(routes, keys, strict=True):
            for segment, bucket in index.items():
                if key is ANY_SEGMENT or key == segment:
                    bucket.append(route)  # the original order within each bucket
        self._index = {segment: tuple(bucket) for segment, bucket in index.items()}
        self._anywhere = tuple(r for r, k in zip(routes, keys, strict=True) if k is ANY_SEGMENT)
        self._indexed = (id(routes), len(routes))

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().app(scope, receive, send)
            return
        routes = self.routes
        if self._indexed != (id(routes), len(routes)):  # routes added since: index again
            self._build_index(routes)
        segment = first_segment(get_route_path(scope))
        for route in self._index.get(segment, self._anywhere):
            match, child_scope = route.matches(scope)
            if match is Match.FULL:  # the first full match of the whole list: see above
                if "router" not in scope:
                    scope["router"] = self
                scope["route"] = route
                scope.update(child_scope)
                await route.handle(scope, receive, send)
                return
        await super().app(scope, receive, send)
