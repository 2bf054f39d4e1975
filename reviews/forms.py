"""Forms for the reviews app.

Shared file: each section belongs to one area (transcripts, campaigns); add classes at the end.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet, TextField
from django.db.models.functions import Cast

from clausebook.models import Role, User, Workspace
from specs.models import Clause, SpecVersion
from transcripts.models import Transcript, TranscriptImport

# --------------------------------------------------------------------------------------------------
# Campaigns (labeling)
# --------------------------------------------------------------------------------------------------


def parse_scale_lines(text: str) -> list[dict[str, str]]:
    """``value | label`` per line (label optional) into a scale list; blank lines ignored."""
    scale = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        value, _, label = line.partition("|")
        scale.append({"value": value.strip(), "label": label.strip() or value.strip()})
    return scale


def transcripts_matching(
    workspace: Workspace, *, source: str, import_run: TranscriptImport | None, tag: str, search: str
) -> QuerySet[Transcript]:
    """Transcripts picked by import, tag or text search (``messages::text`` contains)."""
    qs = Transcript.objects.in_workspace(workspace)
    if source == "import":
        return qs.filter(import_run=import_run) if import_run else qs.none()
    if source == "tag":
        return qs.filter(tags__contains=[tag]) if tag else qs.none()
    if source == "search":
        if not search:
            return qs.none()
        return qs.annotate(messages_text=Cast("messages", TextField())).filter(
            messages_text__icontains=search
        )
    return qs


class CampaignForm(forms.Form):
    SCOPES = [("all", "The whole version"), ("subtree", "A subtree"), ("list", "A list of keys")]
    SOURCES = [
        ("all", "Every transcript"),
        ("import", "From one import"),
        ("tag", "With a tag"),
        ("search", "Matching a search"),
    ]
    PRESETS = [
        ("default", "Complies / violates / borderline / not applicable"),
        ("xstest", "XSTest: full compliance / full refusal / partial refusal"),
        ("custom", "Custom (below)"),
    ]

    title = forms.CharField(max_length=200)
    spec_version = forms.ModelChoiceField(queryset=SpecVersion.objects.none())
    scope = forms.ChoiceField(choices=SCOPES, initial="all", widget=forms.RadioSelect)
    parent_key = forms.CharField(
        required=False, label="Subtree root (clause key)", help_text="That clause and all below it."
    )
    clause_keys = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Clause keys, one per line or separated by commas.",
    )
    source = forms.ChoiceField(choices=SOURCES, initial="all", label="Transcripts")
    import_run = forms.ModelChoiceField(queryset=TranscriptImport.objects.none(), required=False)
    tag = forms.CharField(required=False, max_length=60)
    search = forms.CharField(required=False, max_length=200)
    limit = forms.IntegerField(
        required=False, min_value=1, max_value=1_000_000, help_text="At most this many items."
    )
    reviewers_per_item = forms.IntegerField(min_value=1, max_value=20, initial=2, label="k")
    blind = forms.BooleanField(required=False, initial=True, label="Blind labeling")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    verdict_preset = forms.ChoiceField(choices=PRESETS, initial="default", label="Verdict scale")
    verdict_custom = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: value | label",
    )
    severity_custom = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: value | label. Empty: none / low / medium / high / critical.",
    )
    reviewers = forms.ModelMultipleChoiceField(
        queryset=User.objects.none(), required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["spec_version"].queryset = (
            SpecVersion.objects.published()
            .filter(spec__workspace=workspace)
            .select_related("spec")
            .order_by("-published_at")
        )
        self.fields["spec_version"].label_from_instance = lambda v: f"{v.spec.title} {v.label}"
        self.fields["import_run"].queryset = TranscriptImport.objects.filter(
            workspace=workspace
        ).order_by("-created_at")
        self.fields["import_run"].label_from_instance = lambda r: (
            f"#{r.pk} {r.filename or r.source} ({r.created_count})"
        )
        reviewers = User.objects.filter(
            memberships__workspace=workspace, memberships__role__gte=Role.REVIEWER
        ).order_by("email")
        self.fields["reviewers"].queryset = reviewers
        self.fields["reviewers"].label_from_instance = lambda u: f"{u.short_name} <{u.email}>"
        if not self.is_bound:
            self.fields["reviewers"].initial = list(
                reviewers.filter(memberships__role=Role.REVIEWER).values_list("pk", flat=True)
            )

    def transcripts(self) -> QuerySet[Transcript]:
        data = self.cleaned_data
        return transcripts_matching(
            self.workspace,
            source=data.get("source", "all"),
            import_run=data.get("import_run"),
            tag=data.get("tag", ""),
            search=data.get("search", ""),
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        version = data.get("spec_version")
        if version is not None:
            data["clauses"] = self._clauses(version, data)
            data["scope_description"] = {
                "all": f"All of {version.label}",
                "subtree": f"Subtree {data.get('parent_key', '')}",
                "list": f"{len(data['clauses'])} listed clauses",
            }[data.get("scope", "all")]
        ids = list(
            self.transcripts()
            .order_by("id")
            .values_list("id", flat=True)[: data.get("limit") or None]
        )
        if not ids:
            self.add_error("source", "No transcript matches.")
        data["transcript_ids"] = ids
        preset = data.get("verdict_preset")
        if preset == "custom":
            data["verdict_scale"] = parse_scale_lines(data.get("verdict_custom", ""))
        else:
            from reviews.services.campaigns import DEFAULT_VERDICT_SCALE, XSTEST_VERDICT_SCALE

            data["verdict_scale"] = (
                XSTEST_VERDICT_SCALE if preset == "xstest" else DEFAULT_VERDICT_SCALE
            )
        data["severity_scale"] = parse_scale_lines(data.get("severity_custom", "")) or None
        return data

    def _clauses(self, version: SpecVersion, data: dict[str, Any]) -> list[Clause]:
        clauses = list(version.clauses.order_by("position").only("id", "key", "parent_id"))
        scope = data.get("scope", "all")
        if scope == "subtree":
            root = next((c for c in clauses if c.key == data.get("parent_key", "").strip()), None)
            if root is None:
                self.add_error("parent_key", "No clause with this key in the version.")
                return []
            keep = {root.pk}
            for clause in clauses:  # clauses come in document order: parents before children
                if clause.parent_id in keep:
                    keep.add(clause.pk)
            return [c for c in clauses if c.pk in keep]
        if scope == "list":
            keys = [k.strip() for k in data.get("clause_keys", "").replace(",", "\n").split()]
            by_key = {c.key: c for c in clauses}
            unknown = [k for k in keys if k not in by_key]
            if unknown:
                self.add_error("clause_keys", f"Unknown keys: {', '.join(unknown[:10])}")
            chosen = [by_key[k] for k in dict.fromkeys(keys) if k in by_key]
            if not chosen and not unknown:
                self.add_error("clause_keys", "List at least one clause key.")
            return chosen
        return clauses


class SkipForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "Why?"}))
