"""Specs, their immutable published versions, clauses, examples, eval prompts and amendments."""

from __future__ import annotations

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from clausebook.models import Workspace
from specs.spec_markdown import AUTHORITY_LABELS

# Field limits, their one home: the model fields below, the forms, the API serializers and the
# importer's checks of parsed Markdown all read these names.
SPEC_SLUG_MAX_LENGTH = 80
SPEC_TITLE_MAX_LENGTH = 200
VERSION_LABEL_MAX_LENGTH = 60
SOURCE_FILENAME_MAX_LENGTH = 255
CLAUSE_KEY_MAX_LENGTH = 120
CLAUSE_TITLE_MAX_LENGTH = 300
TAG_MAX_LENGTH = 40
FOOTNOTE_ID_MAX_LENGTH = 20
AMENDMENT_TITLE_MAX_LENGTH = 200
# The largest Markdown source accepted for one version (the reference spec is ~270 KB).
SPEC_SOURCE_MAX_BYTES = 5 * 1024 * 1024

# What a version label may look like (it is a URL segment and a file name on export).
version_label_validator = RegexValidator(
    rf"^[A-Za-z0-9][A-Za-z0-9._-]{{0,{VERSION_LABEL_MAX_LENGTH - 1}}}$",
    "Use letters, digits, dots, dashes or underscores, such as 2025-12-18.",
)

# The levels and labels come from the dialect (spec_markdown.AUTHORITY_LABELS).
Authority = models.TextChoices(  # type: ignore[misc]
    "Authority", [(value.upper(), (value, label)) for value, label in AUTHORITY_LABELS.items()]
)


class Spec(models.Model):
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="specs")
    slug = models.SlugField(max_length=SPEC_SLUG_MAX_LENGTH)
    title = models.CharField(max_length=SPEC_TITLE_MAX_LENGTH)
    description = models.TextField(blank=True)
    is_public = models.BooleanField(
        default=False, help_text="Published versions readable without an account."
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "slug"], name="spec_slug_unique")
        ]

    def __str__(self) -> str:
        return self.title


class VersionStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class SpecVersionQuerySet(models.QuerySet["SpecVersion"]):
    def published(self) -> SpecVersionQuerySet:
        return self.filter(status=VersionStatus.PUBLISHED)


class SpecVersion(models.Model):
    """One version of a spec. Once published, the database refuses any change to it, its
    clauses, examples and eval prompts, and anything moving into or out of it (see the triggers
    in ``migrations/0002_published_versions_are_immutable.py``)."""

    spec = models.ForeignKey(Spec, on_delete=models.CASCADE, related_name="versions")
    label = models.CharField(max_length=VERSION_LABEL_MAX_LENGTH)
    status = models.CharField(
        max_length=12, choices=VersionStatus.choices, default=VersionStatus.DRAFT
    )
    dialect = models.CharField(max_length=20, default="model_spec")
    preamble = models.TextField(blank=True)
    source_sha256 = models.CharField(max_length=64, blank=True)
    source_filename = models.CharField(max_length=SOURCE_FILENAME_MAX_LENGTH, blank=True)
    warnings = models.JSONField(default=list, blank=True)
    changelog = models.TextField(blank=True)
    based_on = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    clause_count = models.PositiveIntegerField(default=0)
    example_count = models.PositiveIntegerField(default=0)
    eval_prompt_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    objects = SpecVersionQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["spec", "label"], name="spec_version_label_unique"),
            models.CheckConstraint(
                condition=~models.Q(status="published") | models.Q(published_at__isnull=False),
                name="spec_version_published_has_date",
            ),
            # Amendments merge into "the" draft: a spec has at most one at a time.
            models.UniqueConstraint(
                fields=["spec"],
                condition=models.Q(status="draft"),
                name="spec_version_one_draft",
            ),
        ]
        ordering = ["spec_id", "label"]

    def __str__(self) -> str:
        return f"{self.spec.title} {self.label}"

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED


class Clause(models.Model):
    """A section of a spec version. ``key`` identifies the same clause across versions."""

    version = models.ForeignKey(SpecVersion, on_delete=models.CASCADE, related_name="clauses")
    key = models.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    title = models.CharField(max_length=CLAUSE_TITLE_MAX_LENGTH)
    level = models.PositiveSmallIntegerField()
    parent = models.ForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    position = models.PositiveIntegerField()
    authority = models.CharField(max_length=12, choices=Authority.choices, blank=True)
    authority_source = models.CharField(max_length=12, blank=True)
    tags = ArrayField(models.CharField(max_length=TAG_MAX_LENGTH), default=list, blank=True)
    body = models.TextField(blank=True)
    # The body as the clause page reads it (specs.plaintext.clause_text), computed at import:
    # search indexes it and shows snippets of it, and the version diff compares it.
    text = models.TextField(blank=True, default="")
    references = ArrayField(
        models.CharField(max_length=CLAUSE_KEY_MAX_LENGTH), default=list, blank=True
    )
    footnotes = ArrayField(
        models.CharField(max_length=FOOTNOTE_ID_MAX_LENGTH), default=list, blank=True
    )
    source_line = models.PositiveIntegerField(default=0)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["version", "key"], name="clause_key_unique"),
            models.UniqueConstraint(fields=["version", "position"], name="clause_position_unique"),
        ]
        indexes = [GinIndex(fields=["search_vector"], name="clause_search")]
        ordering = ["version_id", "position"]

    def __str__(self) -> str:
        return f"{self.key} ({self.version.label})"


class ClauseAlias(models.Model):
    """An editor's decision on a probable rename between versions of a spec."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        REJECTED = "rejected", "Rejected"

    spec = models.ForeignKey(Spec, on_delete=models.CASCADE, related_name="aliases")
    old_key = models.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    new_key = models.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    status = models.CharField(max_length=10, choices=Status.choices)
    similarity = models.FloatField(default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    decided_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["spec", "old_key", "new_key"], name="clause_alias_unique"
            ),
            models.UniqueConstraint(
                fields=["spec", "old_key"],
                condition=models.Q(status="confirmed"),
                name="clause_alias_one_target",
            ),
        ]


class ExampleOrigin(models.TextChoices):
    SPEC = "spec", "Spec source"
    GOLD = "gold", "Gold case"


class Example(models.Model):
    """A worked example: a conversation with graded candidate responses.

    ``turns`` is a list of ``{"message": {...}}`` or ``{"comparison": [candidates]}``;
    each candidate has content, grade (good/bad/ok), reason and the clause key it cites.
    """

    clause = models.ForeignKey(Clause, on_delete=models.CASCADE, related_name="examples")
    position = models.PositiveIntegerField()
    title = models.TextField()
    turns = models.JSONField(default=list)
    # The title and the conversation as the page reads them (plain text, computed at import):
    # what search indexes and quotes.
    title_text = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    between_turns = models.JSONField(
        default=dict,
        blank=True,
        help_text="Elision lines such as '[...]' keyed by the turn they precede.",
    )
    body_offset = models.PositiveIntegerField(default=0)
    fingerprint = models.CharField(max_length=64)
    origin = models.CharField(
        max_length=8, choices=ExampleOrigin.choices, default=ExampleOrigin.SPEC
    )
    source_line = models.PositiveIntegerField(default=0)
    search_vector = SearchVectorField(null=True, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["clause", "position"], name="example_position_unique")
        ]
        indexes = [GinIndex(fields=["search_vector"], name="example_search")]
        ordering = ["clause_id", "position"]


class EvalPrompt(models.Model):
    """A prompt from the spec's eval set, attached to the clause citing its footnote.

    Spec content: it belongs to its clause's version and is as immutable as the clause once the
    version is published. A re-run scenario (in ``transcripts``) may point at it.
    """

    clause = models.ForeignKey(Clause, on_delete=models.CASCADE, related_name="eval_prompts")
    footnote_id = models.CharField(max_length=FOOTNOTE_ID_MAX_LENGTH)
    position = models.PositiveIntegerField(default=0)
    title = models.TextField(blank=True)
    messages = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["clause", "footnote_id", "position"], name="eval_prompt_unique"
            )
        ]
        ordering = ["clause_id", "footnote_id", "position"]


class AmendmentState(models.TextChoices):
    OPEN = "open", "Open"
    APPROVED = "approved", "Approved"
    MERGED = "merged", "Merged"
    REJECTED = "rejected", "Rejected"
    WITHDRAWN = "withdrawn", "Withdrawn"


class Amendment(models.Model):
    """A proposed set of clause changes against a base version."""

    spec = models.ForeignKey(Spec, on_delete=models.CASCADE, related_name="amendments")
    base_version = models.ForeignKey(
        SpecVersion, on_delete=models.PROTECT, related_name="amendments"
    )
    merged_into = models.ForeignKey(
        SpecVersion,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="merged_amendments",
    )
    title = models.CharField(max_length=AMENDMENT_TITLE_MAX_LENGTH)
    rationale = models.TextField(blank=True)
    state = models.CharField(
        max_length=10, choices=AmendmentState.choices, default=AmendmentState.OPEN
    )
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField(
        default=1, help_text="Optimistic lock: bumped on every change."
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)


class AmendmentChange(models.Model):
    """One change of an amendment. ``base`` is the clause as the change found it (its fields in the
    base version), so a merge can tell whether the draft moved under it."""

    class Kind(models.TextChoices):
        ADD_CLAUSE = "add_clause", "Add clause"
        CHANGE_CLAUSE = "change_clause", "Change clause"
        REMOVE_CLAUSE = "remove_clause", "Remove clause"
        MOVE_CLAUSE = "move_clause", "Move clause"
        RENAME_KEY = "rename_key", "Rename key"
        ADD_EXAMPLE = "add_example", "Add example"
        REMOVE_EXAMPLE = "remove_example", "Remove example"

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="changes")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    clause_key = models.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    base = models.JSONField(default=dict, blank=True)
    payload = models.JSONField(default=dict, blank=True)
    position = models.PositiveIntegerField(default=0)


class AmendmentApproval(models.Model):
    """An editor's approval of one revision of an amendment: editing it after asks again."""

    amendment = models.ForeignKey(Amendment, on_delete=models.CASCADE, related_name="approvals")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    revision = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["amendment", "user", "revision"], name="amendment_approval_unique"
            )
        ]
