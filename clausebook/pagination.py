"""Pagination for the API lists.

:class:`KeysetPagination` serves the API's lists (transcripts, imports, scenarios, labels): keyset
pages by ``id``, which a client can start at any id and which cost the same at any depth, given an
index that leads with the list's filter and ends with ``id`` (``(workspace, id)`` for the
transcripts). :class:`DefaultPagination` (page numbers) serves the short lists.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, F, Max, Min, QuerySet
from django.db.models.fields.tuple_lookups import (
    Tuple,
    TupleGreaterThan,
    TupleGreaterThanOrEqual,
    TupleLessThan,
    TupleLessThanOrEqual,
)
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param


class DefaultPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


def _positive_int(params: Any, name: str) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > _MAX_ID:
        raise ValidationError({name: [f"'{raw[:40]}' is not an id: send an integer of 0 or more."]})
    return int(raw)


_TRUE, _FALSE = {"true", "1", "yes"}, {"false", "0", "no"}
_MAX_ID = 2**63 - 1


def _clamp(value: int) -> int:
    return min(max(value, 0), _MAX_ID)


_TUPLE_LOOKUPS = {
    "lt": TupleLessThan,
    "lte": TupleLessThanOrEqual,
    "gt": TupleGreaterThan,
    "gte": TupleGreaterThanOrEqual,
}


class KeysetPagination(BasePagination):
    """Keyset pages by ``id``: ``?after=<id>``, ``?before=<id>``, ``?page_size=``, ``?count=``.

    ``ordering`` is ``"-id"`` (newest first, the default) or ``"id"``; each list says which in its
    description. ``after=<id>`` is the page that follows that id in the list's order (for a
    newest-first list: ids below it), ``before=<id>`` the page that precedes it; the id need not
    exist, so a client can start anywhere (at 90 % of the table in one request). A page is one
    ``WHERE id < …  ORDER BY id DESC LIMIT page_size + 1`` on the list's index: no OFFSET, so its
    cost does not grow with depth, and rows inserted meanwhile never shift the pages already
    being walked (new rows appear only before the first page of a newest-first list).

    A view whose list is one value of an index's leading columns (the transcripts: one workspace,
    index ``(workspace, id)``) names them in ``keyset_prefix()`` (``{"workspace_id": 7}``). The page
    bound is then a row comparison on the whole index key, ``(workspace_id, id) < (7, after)``
    (on the first page ``<= (7, max)``), which only that index can answer as a range. With
    ``workspace_id = 7 AND id < after`` alone, the primary key offers the same order, and the
    planner, assuming rows spread evenly, may pick a backward scan of it that reads and discards
    every newer row of other workspaces before the page (the table the issue measured: 100k
    discarded rows). The EXPLAIN tests in ``tests/transcripts/test_transcript_list_api.py`` pin it.

    ``total`` (with ``min_id`` and ``max_id``, the list's id range, to aim a jump) is counted on
    the first page only (no ``after``/``before``), or on any page with ``count=true``;
    ``count=false`` skips it on the first page. Elsewhere they are ``null``. A view that keeps
    its list's total (the transcripts: a count per workspace, kept by triggers) returns them from
    ``keyset_counts()`` instead of having them counted; ``None`` there means count. The ``next`` and
    ``previous`` links keep the other parameters but not ``count``: walking pages never recounts.
    """

    page_size = 100
    max_page_size = 1000
    ordering = "-id"

    def __init__(self) -> None:
        self.request: Request | None = None
        self.counts: dict[str, int | None] = {"total": None, "min_id": None, "max_id": None}
        self.next_after: int | None = None
        self.previous_before: int | None = None

    # -- parameters -------------------------------------------------------------------------------

    def _page_size(self, params: Any) -> int:
        raw = params.get("page_size")
        if raw is None or raw == "":
            return self.page_size
        if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
            raise ValidationError(
                {"page_size": [f"'{raw[:40]}' is not a page size: send 1 to {self.max_page_size}."]}
            )
        return min(int(raw), self.max_page_size)

    @staticmethod
    def _count_wanted(params: Any, *, first_page: bool) -> bool:
        raw = (params.get("count") or "").strip().lower()
        if raw in _TRUE:
            return True
        if raw in _FALSE:
            return False
        if raw:
            raise ValidationError({"count": [f"'{raw[:40]}' is not true or false."]})
        return first_page

    # -- the page ---------------------------------------------------------------------------------

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: Any = None
    ) -> list[Any]:
        self.request = request
        params = request.query_params
        after, before = _positive_int(params, "after"), _positive_int(params, "before")
        if after is not None and before is not None:
            raise ValidationError({"before": ["Send either 'after' or 'before', not both."]})
        size = self._page_size(params)
        descending = self.ordering.startswith("-")
        # In list order, "after" is further along: smaller ids when newest first.
        forward, backward = ("lt", "gt") if descending else ("gt", "lt")
        # One step towards the front of the list, to make an id part of the page before it.
        back_step = -1 if descending else 1
        prefix: dict[str, Any] = view.keyset_prefix() if hasattr(view, "keyset_prefix") else {}
        columns = [*prefix, "id"]
        order = [f"-{c}" if descending else c for c in columns]
        reverse_order = [c if descending else f"-{c}" for c in columns]

        def bound(lookup: str, value: int) -> QuerySet[Any]:
            # Added to the queryset's own filters (its workspace among them), never instead.
            if not prefix:
                return queryset.filter(**{f"id__{lookup}": value})
            key = Tuple(*(F(c) for c in columns))
            return queryset.filter(_TUPLE_LOOKUPS[lookup](key, (*prefix.values(), value)))

        if before is not None:
            # The page just before ``before``: read towards it, then put it back in list order.
            rows = list(bound(backward, before).order_by(*reverse_order)[: size + 1])
            has_previous = len(rows) > size
            rows = rows[:size][::-1]
            self.previous_before = rows[0].pk if has_previous else None
            self.next_after = rows[-1].pk if rows else _clamp(before - back_step)
        else:
            if after is not None:
                page = bound(forward, after)
            elif prefix:
                # The first page, bounded too, so that it is the same index range.
                page = bound(f"{forward}e", _MAX_ID if descending else 0)
            else:
                page = queryset
            rows = list(page.order_by(*order)[: size + 1])
            has_next = len(rows) > size
            rows = rows[:size]
            self.next_after = rows[-1].pk if has_next else None
            if after is not None:
                self.previous_before = rows[0].pk if rows else _clamp(after + back_step)

        if self._count_wanted(params, first_page=after is None and before is None):
            # A view that keeps its list's total (transcripts: a count per workspace) says so in
            # keyset_counts(); None there means count.
            kept = view.keyset_counts() if hasattr(view, "keyset_counts") else None
            self.counts = kept or queryset.order_by().aggregate(
                total=Count("id"), min_id=Min("id"), max_id=Max("id")
            )
        return rows

    def _link(self, name: str, value: int | None) -> str | None:
        if value is None or self.request is None:
            return None
        url = remove_query_param(self.request.build_absolute_uri(), "count")
        url = remove_query_param(url, "before" if name == "after" else "after")
        return replace_query_param(url, name, value)

    def get_paginated_response(self, data: list[Any]) -> Response:
        return Response(
            {
                "total": self.counts["total"],
                "min_id": self.counts["min_id"],
                "max_id": self.counts["max_id"],
                "next": self._link("after", self.next_after),
                "previous": self._link("before", self.previous_before),
                "results": data,
            }
        )

    # -- OpenAPI ----------------------------------------------------------------------------------

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        nullable_int = {"type": "integer", "nullable": True}
        link = {"type": "string", "format": "uri", "nullable": True}
        return {
            "type": "object",
            "required": ["total", "min_id", "max_id", "next", "previous", "results"],
            "properties": {
                "total": {
                    **nullable_int,
                    "description": "Rows in the whole list (with its filters): on the first "
                    "page, or with count=true; null otherwise.",
                },
                "min_id": {**nullable_int, "description": "Smallest id in the list (as total)."},
                "max_id": {**nullable_int, "description": "Largest id in the list (as total)."},
                "next": {**link, "description": "The following page (after=<last id>)."},
                "previous": {**link, "description": "The preceding page (before=<first id>)."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        order = "newest first (descending id)" if self.ordering.startswith("-") else "by id"
        return [
            {
                "name": "after",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
                "description": f"Start after this id in the list's order ({order}). Any id "
                "will do, existing or not: a client can jump to any depth in one request.",
            },
            {
                "name": "before",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 0},
                "description": "The page just before this id in the list's order.",
            },
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                },
                "description": f"Rows per page (larger values are cut to {self.max_page_size}).",
            },
            {
                "name": "count",
                "in": "query",
                "required": False,
                "schema": {"type": "boolean"},
                "description": "Count total (and min_id, max_id): by default on the first page "
                "only; true on any page, false to skip it on the first page.",
            },
        ]


class NewestFirstKeysetPagination(KeysetPagination):
    """Keyset pages, newest first (descending id): transcripts, imports, scenarios."""

    ordering = "-id"


class OldestFirstKeysetPagination(KeysetPagination):
    """Keyset pages, oldest first (ascending id)."""

    ordering = "id"
