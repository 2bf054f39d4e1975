"""Forms for the reviews app.

Shared file: each section belongs to one area (transcripts, campaigns); add classes at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet

from clausebook.models import Role, User, Workspace
from reviews.models import Campaign, CampaignReviewer, RerunJob
from reviews.selectors.campaigns import (
    SCOPE_MODES,
    TRANSCRIPT_SOURCES,
    ScopeChoice,
    TranscriptChoice,
    clause_outline,
    eligible_reviewers,
    members_by_email,
    spec_versions_in,
)
from reviews.services.campaigns import VERDICT_PRESETS, Scale
from specs.models import SpecVersion
from transcripts.models import TranscriptImport

# --------------------------------------------------------------------------------------------------
# Campaigns (labeling)
# --------------------------------------------------------------------------------------------------


def parse_scale_lines(text: str) -> Scale:
    """``value | label`` per line (label optional) into a scale list; blank lines ignored."""
    scale = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        value, _, label = line.partition("|")
        scale.append({"value": value.strip(), "label": label.strip() or value.strip()})
    return scale


class _ResolvedByService:
    """The choices only feed the widget. The raw values go to the service, which resolves them
    exactly as it does the API's (which has no list of choices) and names the ones it refuses,
    so a form and a script hear the same answer."""

    def valid_value(self, value: Any) -> bool:
        return True


class OfferedChoiceField(_ResolvedByService, forms.ChoiceField):
    pass


class OfferedMultipleChoiceField(_ResolvedByService, forms.MultipleChoiceField):
    pass


class ReviewerEmailsField(OfferedMultipleChoiceField):
    """Reviewers as checkboxes whose values are email addresses, the API's own input. The form
    resolves them with ``members_by_email`` (the API's call too): anything but a current member
    is refused with the same message whether or not the address has an account."""

    widget = forms.CheckboxSelectMultiple

    def offer(self, users: QuerySet[User]) -> None:
        self.choices = [(user.email, f"{user.short_name} <{user.email}>") for user in users]


def _members(form: forms.Form, emails: list[str]) -> list[User]:
    try:
        return members_by_email(form.workspace, emails)  # type: ignore[attr-defined]
    except ValidationError as error:
        raise ValidationError(error.message_dict["reviewers"]) from error


@dataclass(frozen=True)
class ClauseOption:
    """One checkbox of the clause picker."""

    key: str
    title: str
    level: int
    checked: bool


# An em space per level below the first: <option> text cannot be styled, so the subtree menu
# shows the clause tree with leading spaces.
_INDENT = "\u2003"

#: Fields shown only for one value of another field: ``{field: (controlling field, value)}``.
#: The template marks them ``data-show-when`` and ``hidden``; campaign-form.js reveals them.
SHOWN_WHEN = {
    "parent_key": ("scope", "subtree"),
    "clause_keys": ("scope", "list"),
    "import_run": ("source", "import"),
    "tag": ("source", "tag"),
    "search": ("source", "search"),
    "ids": ("source", "ids"),
    "rerun_job": ("source", "rerun"),
    "verdict_custom": ("verdict_preset", "custom"),
}


class CampaignForm(forms.Form):
    """The new-campaign page. It validates the fields only: the scope, the transcripts, the
    reviewers and the scales are resolved by ``campaign_create`` (and ``members_by_email``)
    from the raw choices below, as for the API.

    The clause pickers list the clauses of the chosen version (the newest published one until
    the user picks another; the page then reloads the pickers)."""

    SOURCES = [
        (key, label) for key, label in TRANSCRIPT_SOURCES.items() if key not in ("ids", "rerun")
    ]
    PRESETS = [
        ("default", "Complies / violates / borderline / not applicable"),
        ("xstest", "XSTest: full compliance / full refusal / partial refusal"),
        ("custom", "Custom (below)"),
    ]

    title = forms.CharField(max_length=200)
    spec_version = forms.ModelChoiceField(
        queryset=SpecVersion.objects.none(), empty_label=None, label="Spec version"
    )
    scope = forms.ChoiceField(
        choices=list(SCOPE_MODES.items()), initial="all", widget=forms.RadioSelect
    )
    parent_key = OfferedChoiceField(
        required=False, label="Subtree root", help_text="That clause and every clause below it."
    )
    clause_keys = OfferedMultipleChoiceField(
        required=False,
        label="Clauses",
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick the clauses in scope; they are shown in document order.",
    )
    source = forms.ChoiceField(choices=SOURCES, initial="all", label="Transcripts")
    import_run = forms.ModelChoiceField(
        queryset=TranscriptImport.objects.none(), required=False, label="Import"
    )
    tag = forms.CharField(required=False, max_length=60)
    search = forms.CharField(required=False, max_length=200, label="Search text")
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        label="Limit",
        help_text="At most this many transcripts become items (the first ones, by id).",
    )
    reviewers_per_item = forms.IntegerField(
        min_value=1,
        max_value=20,
        initial=2,
        label="Reviewers per item (k)",
        help_text="How many different reviewers label each transcript.",
    )
    blind = forms.BooleanField(required=False, initial=True, label="Blind labeling")
    gold_from_agreement = forms.BooleanField(
        required=False,
        initial=True,
        label="Agreed pairs become gold",
        help_text="Unticked, an adjudicator settles every pair, agreed ones included.",
    )
    adjudicator_may_have_labeled = forms.BooleanField(
        required=False,
        initial=False,
        label="Adjudicators may settle items they labeled",
        help_text="Unticked, an item goes to an adjudicator who did not label it.",
    )
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    verdict_preset = forms.ChoiceField(choices=PRESETS, initial="default", label="Verdict scale")
    verdict_custom = forms.CharField(
        required=False,
        label="Custom verdicts",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: value | label",
    )
    severity_custom = forms.CharField(
        required=False,
        label="Severity scale",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One per line: value | label. Empty: none / low / medium / high / critical.",
    )
    reviewers = ReviewerEmailsField(required=False)
    open_now = forms.BooleanField(
        required=False,
        initial=True,
        label="Open for labeling now",
        help_text="Needs at least k reviewers. Unticked, the campaign is saved as a draft.",
    )

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        versions = spec_versions_in(workspace).published().order_by("-published_at", "-id")
        self.fields["spec_version"].queryset = versions
        self.fields["spec_version"].label_from_instance = lambda v: f"{v.spec.title} {v.label}"
        self.fields["import_run"].queryset = TranscriptImport.objects.filter(
            workspace=workspace
        ).order_by("-created_at")
        self.fields["import_run"].label_from_instance = lambda r: (
            f"#{r.pk} {r.filename or r.source} ({r.created_count})"
        )
        reviewers = eligible_reviewers(workspace)
        self.fields["reviewers"].offer(reviewers)
        self.version = self._picked_version(versions)
        self.outline = clause_outline(self.version)
        self.fields["parent_key"].choices = [("", "Choose a clause…")] + [
            (c.key, f"{_INDENT * (c.level - 1)}{c.key} · {c.title}") for c in self.outline
        ]
        self.fields["clause_keys"].choices = [(c.key, c.title) for c in self.outline]
        if not self.is_bound:
            if self.version is not None:
                self.fields["spec_version"].initial = self.version.pk
            self.fields["reviewers"].initial = list(
                reviewers.filter(memberships__role=Role.REVIEWER).values_list("email", flat=True)
            )

    def _picked_version(self, versions: QuerySet[SpecVersion]) -> SpecVersion | None:
        """The version whose clauses the pickers list: the one asked for, else the newest."""
        raw = str(self.data.get("spec_version", "")) if self.is_bound else ""
        picked = versions.filter(pk=int(raw)).first() if raw.isdigit() else None
        return picked or versions.first()

    def clean_reviewers(self) -> list[User]:
        return _members(self, self.cleaned_data.get("reviewers") or [])

    # --- what the template shows ----------------------------------------------------------

    def clause_options(self) -> list[ClauseOption]:
        """The clause picker's checkboxes, in document order, ticked as submitted."""
        ticked = set(self._ticked_keys())
        return [
            ClauseOption(key=c.key, title=c.title, level=c.level, checked=c.key in ticked)
            for c in self.outline
        ]

    def shown(self) -> dict[str, bool]:
        """For each conditional field, whether its controlling field has the value it needs."""
        return {
            name: str(self[controller].value() or "") == value
            for name, (controller, value) in SHOWN_WHEN.items()
        }

    def _ticked_keys(self) -> list[str]:
        raw = self.data.getlist("clause_keys") if self.is_bound else []
        # One value per checkbox; a hand-written POST may also send "a, b" or one key per line.
        return [key for value in raw for key in value.replace(",", " ").split()]

    # --- the raw choices, for ``campaign_create`` -----------------------------------------

    def scope_choice(self) -> ScopeChoice:
        data = self.cleaned_data
        return ScopeChoice(
            mode=data.get("scope") or "all",
            root_key=data.get("parent_key", ""),
            keys=self._ticked_keys(),
        )

    def transcript_choice(self) -> TranscriptChoice:
        data = getattr(self, "cleaned_data", {})
        import_run = data.get("import_run")
        return TranscriptChoice(
            source=data.get("source") or "all",
            import_id=import_run.pk if import_run else None,
            tag=data.get("tag", ""),
            search=data.get("search", ""),
            limit=data.get("limit"),
        )

    def verdict_scale(self) -> Scale:
        preset = self.cleaned_data.get("verdict_preset")
        if preset == "custom":
            return parse_scale_lines(self.cleaned_data.get("verdict_custom", ""))
        return VERDICT_PRESETS[preset or "default"]

    def severity_scale(self) -> Scale | None:
        return parse_scale_lines(self.cleaned_data.get("severity_custom", "")) or None


class CampaignLifecycleForm(forms.Form):
    """A lifecycle button: carries the revision the page showed, so a stale page gets a 409.

    Every lifecycle form takes the ``campaign`` it acts on; this one needs nothing from it.
    """

    revision = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign


class ReviewerAddForm(CampaignLifecycleForm):
    """Seat reviewers: checkboxes of eligible members not seated yet, valued by email and
    resolved like the new-campaign form's (and the API's)."""

    reviewers = ReviewerEmailsField(label="Seat")

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, campaign=campaign, **kwargs)
        self.workspace = campaign.workspace
        seated = CampaignReviewer.objects.seated().filter(campaign=campaign).values("user_id")
        self.fields["reviewers"].offer(
            eligible_reviewers(campaign.workspace).exclude(pk__in=seated)
        )

    def clean_reviewers(self) -> list[User]:
        return _members(self, self.cleaned_data.get("reviewers") or [])


class ReviewerRemoveForm(CampaignLifecycleForm):
    reviewer = forms.ModelChoiceField(queryset=User.objects.none(), widget=forms.HiddenInput)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, campaign=campaign, **kwargs)
        # Any seat holder, removed or not: a stale page removing someone already gone is then
        # answered by the revision check (409 with the page as it is), not "invalid choice".
        self.fields["reviewer"].queryset = User.objects.filter(campaign_seats__campaign=campaign)


class SkipForm(forms.Form):
    reason = forms.CharField(max_length=300, widget=forms.TextInput(attrs={"placeholder": "Why?"}))


class CampaignItemsAddForm(forms.Form):
    """The add-transcripts page: the transcripts chosen as on the new-campaign form (plus listed
    ids and a re-run job's results), resolved by the same service call as the API's."""

    SOURCES = list(TRANSCRIPT_SOURCES.items())

    source = forms.ChoiceField(choices=SOURCES, initial="import", label="Transcripts")
    import_run = forms.ModelChoiceField(
        queryset=TranscriptImport.objects.none(), required=False, label="Import"
    )
    tag = forms.CharField(required=False, max_length=60)
    search = forms.CharField(required=False, max_length=200, label="Search text")
    ids = forms.CharField(
        required=False,
        label="Transcript ids",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Separated by spaces, commas or new lines.",
    )
    rerun_job = forms.ModelChoiceField(
        queryset=RerunJob.objects.none(), required=False, label="Re-run job"
    )
    limit = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=1_000_000,
        label="Limit",
        help_text="At most this many of the chosen transcripts (the first ones, by id).",
    )

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        workspace = campaign.workspace
        self.fields["import_run"].queryset = TranscriptImport.objects.filter(
            workspace=workspace
        ).order_by("-created_at")
        self.fields["import_run"].label_from_instance = lambda r: (
            f"#{r.pk} {r.filename or r.source} ({r.created_count})"
        )
        self.fields["rerun_job"].queryset = RerunJob.objects.filter(workspace=workspace).order_by(
            "-created_at"
        )
        self.fields["rerun_job"].label_from_instance = lambda job: (
            f"#{job.pk} {job.get_status_display().lower()}, {job.created_at:%Y-%m-%d %H:%M}"
        )

    def clean_ids(self) -> list[int]:
        raw = self.cleaned_data.get("ids", "")
        tokens = raw.replace(",", " ").split()
        bad = [token for token in tokens if not token.isdigit() or int(token) < 1]
        if bad:
            shown = ", ".join(repr(token[:20]) for token in bad[:10])
            raise ValidationError(f"Not transcript ids (whole numbers): {shown}.")
        if len(tokens) > 100_000:
            raise ValidationError("List at most 100,000 ids at once.")
        return [int(token) for token in tokens]

    def shown(self) -> dict[str, bool]:
        """For each conditional field, whether the chosen source needs it."""
        source = str(self["source"].value() or "")
        return {
            name: source == value
            for name, (controller, value) in SHOWN_WHEN.items()
            if controller == "source"
        }

    def transcript_choice(self) -> TranscriptChoice:
        data = getattr(self, "cleaned_data", {})
        import_run, job = data.get("import_run"), data.get("rerun_job")
        return TranscriptChoice(
            source=data.get("source") or "import",
            import_id=import_run.pk if import_run else None,
            tag=data.get("tag", ""),
            search=data.get("search", ""),
            ids=data.get("ids") or [],
            rerun_job_id=job.pk if job else None,
            limit=data.get("limit"),
        )
