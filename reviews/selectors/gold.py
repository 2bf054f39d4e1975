"""Reads for gold: the searchable gold list (pages, the API and exports share its filters).

Gold is each (item, clause)'s current decision when it is adjudicated or agreed
(``GoldDecision.objects.gold()``). The list is newest first, in keyset pages by id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, fields
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from clausebook.models import Membership, Role, User, Workspace
from reviews.models import Campaign, DecisionKind, GoldDecision, GoldExport
from reviews.models.gold import GOLD_KINDS
from specs.models import SpecVersion

MAX_QUERY = 200
MAX_VALUE = 200
PAGE_SIZE = 50
_MAX_ID = 2**63 - 1


def _raw(params: Any, name: str) -> str:
    """The parameter as text (a JSON body may send a number); ``ValidationError`` otherwise."""
    raw = params.get(name)
    if raw is None:
        return ""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)
    if not isinstance(raw, str):
        raise ValidationError({name: "Send text or a number."})
    return raw.strip()


def _id(params: Any, name: str) -> int | None:
    raw = _raw(params, name)
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()) or int(raw) > _MAX_ID:
        raise ValidationError({name: f"'{raw[:40]}' is not an id: send a whole number."})
    return int(raw)


def _date(params: Any, name: str) -> dt.date | None:
    raw = _raw(params, name)
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw[:10]) if len(raw) == 10 else _bad_date(name, raw)
    except ValueError:
        return _bad_date(name, raw)


def _bad_date(name: str, raw: str) -> dt.date:
    raise ValidationError({name: f"'{raw[:40]}' is not a date: send YYYY-MM-DD."})


@dataclass(frozen=True)
class GoldFilters:
    """What the gold list, its API and exports filter by. Every field narrows; empty ones don't.

    ``spec_version``, ``campaign`` and ``adjudicator`` (a user id) are ids; ``clause`` is a
    clause key; ``decided_from`` / ``decided_to`` are days, both inclusive, in the server's
    time zone; ``q`` searches the rationale (case-insensitive substring); ``how`` is
    ``adjudicated`` or ``agreed``.
    """

    spec_version: int | None = None
    clause: str = ""
    verdict: str = ""
    campaign: int | None = None
    adjudicator: int | None = None
    decided_from: dt.date | None = None
    decided_to: dt.date | None = None
    q: str = ""
    how: str = ""

    #: Query parameter names (``from``/``to`` read better in a URL than the field names).
    PARAMS = {"decided_from": "from", "decided_to": "to"}

    @classmethod
    def from_params(cls, params: Any) -> GoldFilters:
        """Read a query dict (GET or JSON); ``ValidationError`` keyed by the parameter for a
        value that cannot mean anything (a 400, never an empty list that hides the typo)."""
        errors: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        readers = {"spec_version": _id, "campaign": _id, "adjudicator": _id}
        for name in ("spec_version", "campaign", "adjudicator"):
            try:
                values[name] = readers[name](params, name)
            except ValidationError as error:
                errors.update(error.message_dict)
        for field, param in cls.PARAMS.items():
            try:
                values[field] = _date(params, param)
            except ValidationError as error:
                errors.update(error.message_dict)
        for name, limit in (("clause", MAX_VALUE), ("verdict", MAX_VALUE), ("q", MAX_QUERY)):
            raw = params.get(name) or ""
            if not isinstance(raw, str):
                errors[name] = ["Send text."]
                continue
            values[name] = raw.strip()[:limit]
        how = params.get("how") or ""
        if not isinstance(how, str) or how.strip() not in {"", *GOLD_KINDS}:
            errors["how"] = [f"'{str(how)[:40]}' is not one of: adjudicated, agreed."]
        else:
            values["how"] = how.strip()
        start, end = values.get("decided_from"), values.get("decided_to")
        if start and end and start > end:
            errors["to"] = ["The end date is before the start date."]
        if errors:
            raise ValidationError(errors)
        return cls(**values)

    def to_json(self) -> dict[str, Any]:
        """The filters as the export row stores them (only the ones set)."""
        data = {}
        for name, value in asdict(self).items():
            if value in (None, ""):
                continue
            data[self.PARAMS.get(name, name)] = (
                value.isoformat() if isinstance(value, dt.date) else value
            )
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GoldFilters:
        return cls.from_params({k: str(v) for k, v in data.items()})

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) not in (None, "") for f in fields(self))


def gold_filters_check(workspace: Workspace, filters: GoldFilters) -> None:
    """Refuse filters that name another workspace's campaign, spec version or adjudicator
    (``ValidationError`` keyed by the parameter, a 400): a list would simply come back empty,
    but an export is a job someone waits for, and it must not record another workspace's ids."""
    errors: dict[str, str] = {}
    if (
        filters.campaign is not None
        and not Campaign.objects.filter(workspace=workspace, pk=filters.campaign).exists()
    ):
        errors["campaign"] = f"There is no campaign {filters.campaign} in this workspace."
    if (
        filters.spec_version is not None
        and not SpecVersion.objects.filter(
            spec__workspace=workspace, pk=filters.spec_version
        ).exists()
    ):
        errors["spec_version"] = (
            f"There is no spec version {filters.spec_version} in this workspace."
        )
    if (
        filters.adjudicator is not None
        and not Membership.objects.filter(workspace=workspace, user_id=filters.adjudicator).exists()
    ):
        errors["adjudicator"] = f"There is no member {filters.adjudicator} in this workspace."
    if errors:
        raise ValidationError(errors)


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def gold_list(workspace: Workspace, filters: GoldFilters | None = None) -> QuerySet[GoldDecision]:
    """The workspace's current gold, newest first, each with its campaign, clause, spec version
    and adjudicator (one query for a page)."""
    filters = filters or GoldFilters()
    qs = GoldDecision.objects.gold().filter(workspace=workspace)
    if filters.spec_version is not None:
        qs = qs.filter(spec_version_id=filters.spec_version)
    if filters.clause:
        qs = qs.filter(clause__key=filters.clause)
    if filters.verdict:
        qs = qs.filter(verdict=filters.verdict)
    if filters.campaign is not None:
        qs = qs.filter(campaign_id=filters.campaign)
    if filters.adjudicator is not None:
        qs = qs.filter(decided_by_id=filters.adjudicator)
    if filters.decided_from is not None:
        qs = qs.filter(decided_at__gte=_day_start(filters.decided_from))
    if filters.decided_to is not None:
        qs = qs.filter(decided_at__lt=_day_start(filters.decided_to + dt.timedelta(days=1)))
    if filters.q:
        qs = qs.filter(rationale__icontains=filters.q)
    if filters.how:
        qs = qs.filter(kind=filters.how)
    return (
        qs.select_related("campaign", "clause", "spec_version__spec", "decided_by", "transcript")
        .defer("transcript__messages", "transcript__metadata")
        .order_by("-id")
    )


@dataclass
class GoldPage:
    rows: list[GoldDecision]
    #: The id to pass as ``after`` for the next page (None on the last page).
    next_after: int | None
    #: Whether this is not the first page (a link back to the first page is shown).
    has_previous: bool


def gold_page(
    decisions: QuerySet[GoldDecision], *, after: int | None, size: int = PAGE_SIZE
) -> GoldPage:
    """One keyset page of a newest-first list: ids below ``after``; no OFFSET, so any depth
    costs the same."""
    page = decisions.filter(id__lt=after) if after is not None else decisions
    rows = list(page[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    return GoldPage(
        rows=rows, next_after=rows[-1].pk if has_next else None, has_previous=after is not None
    )


@dataclass
class GoldChoices:
    """What the filter form offers."""

    campaigns: list[Campaign]
    spec_versions: list[SpecVersion]
    adjudicators: list[User]
    kinds: list[tuple[str, str]]


def gold_filter_choices(workspace: Workspace) -> GoldChoices:
    """The campaigns, spec versions and adjudicators of the workspace (three queries)."""
    campaigns = list(
        Campaign.objects.filter(workspace=workspace).only("id", "title").order_by("-id")
    )
    versions = list(
        SpecVersion.objects.filter(spec__workspace=workspace, campaigns__isnull=False)
        .select_related("spec")
        .distinct()
        .order_by("spec__slug", "-id")
    )
    adjudicators = [
        m.user
        for m in Membership.objects.filter(workspace=workspace, role__gte=Role.ADJUDICATOR)
        .select_related("user")
        .order_by("user__email")
    ]
    kinds = [(k.value, k.label) for k in (DecisionKind.ADJUDICATED, DecisionKind.AGREED)]
    return GoldChoices(
        campaigns=campaigns, spec_versions=versions, adjudicators=adjudicators, kinds=kinds
    )


@dataclass
class GoldExportPage:
    rows: list[GoldExport]
    next_after: int | None
    has_previous: bool


def gold_export_page(
    workspace: Workspace, *, after: int | None, size: int = PAGE_SIZE
) -> GoldExportPage:
    """The workspace's exports, newest first, with who asked (one query; keyset by id on the
    ``goldexport_workspace_id`` index)."""
    exports = (
        GoldExport.objects.filter(workspace=workspace).select_related("created_by").order_by("-id")
    )
    if after is not None:
        exports = exports.filter(id__lt=after)
    rows = list(exports[: size + 1])
    has_next = len(rows) > size
    rows = rows[:size]
    return GoldExportPage(
        rows=rows, next_after=rows[-1].pk if has_next else None, has_previous=after is not None
    )
