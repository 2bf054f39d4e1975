"""Forms for the amendment pages. They collect raw choices; the services validate them (the
API sends the same values), so a rule lives in one place."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from specs.models import AMENDMENT_TITLE_MAX_LENGTH, CLAUSE_KEY_MAX_LENGTH, AmendmentChange

# In a form, "-" sets a clause's authority or tags to nothing (an empty box leaves them alone).
CLEAR = "-"


class ProposeForm(forms.Form):
    base_version = forms.ChoiceField(label="Against version")
    title = forms.CharField(max_length=AMENDMENT_TITLE_MAX_LENGTH)
    rationale = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text="Why: the cases, disagreements or reports that motivate it.",
    )

    def __init__(self, *args: Any, labels: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["base_version"].choices = [(label, label) for label in labels]


class EditForm(forms.Form):
    revision = forms.IntegerField(widget=forms.HiddenInput)
    title = forms.CharField(max_length=AMENDMENT_TITLE_MAX_LENGTH)
    rationale = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), required=False)


class RevisionForm(forms.Form):
    """Approve, merge, withdraw: the revision the member read."""

    revision = forms.IntegerField(widget=forms.HiddenInput)


class CloseForm(RevisionForm):
    state = forms.ChoiceField(choices=[("withdrawn", "Withdraw"), ("rejected", "Reject")])


class ChangeForm(forms.Form):
    """One change; which boxes count depends on ``kind`` (see ``payload``)."""

    revision = forms.IntegerField(widget=forms.HiddenInput)
    kind = forms.ChoiceField(choices=AmendmentChange.Kind.choices)
    clause_key = forms.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    title = forms.CharField(required=False)
    body = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False)
    authority = forms.CharField(required=False, help_text=f"“{CLEAR}” for none.")
    tags = forms.CharField(required=False, help_text=f"Comma-separated; “{CLEAR}” for none.")
    parent_key = forms.CharField(required=False, help_text="Empty: the top level.")
    after_key = forms.CharField(required=False, help_text="Empty: first under the parent.")
    new_key = forms.CharField(required=False)
    fingerprint = forms.CharField(required=False)
    example = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        required=False,
        help_text='JSON: {"title": …, "turns": [{"message": {"role", "content"}} or '
        '{"comparison": [{"content", "grade", "reason"}]}]}',
    )

    def clean_example(self) -> Any:
        text = self.cleaned_data["example"].strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError as error:
            raise forms.ValidationError(f"Not JSON: {error}") from error

    def payload(self) -> dict[str, Any]:
        """The service's payload for the chosen kind, from the boxes that apply to it."""
        data = self.cleaned_data
        kind = data["kind"]
        Kind = AmendmentChange.Kind
        if kind == Kind.ADD_EXAMPLE:
            return data["example"] if isinstance(data["example"], dict) else {}
        if kind == Kind.REMOVE_EXAMPLE:
            return {"fingerprint": data["fingerprint"]}
        if kind == Kind.RENAME_KEY:
            return {"new_key": data["new_key"]}
        if kind == Kind.REMOVE_CLAUSE:
            return {}
        place = {"parent_key": data["parent_key"] or None, "after_key": data["after_key"] or None}
        if kind == Kind.MOVE_CLAUSE:
            return place
        fields: dict[str, Any] = {}
        if data["title"]:
            fields["title"] = data["title"]
        if data["body"]:
            fields["body"] = data["body"]
        if data["authority"]:
            fields["authority"] = "" if data["authority"] == CLEAR else data["authority"]
        if data["tags"]:
            tags = [] if data["tags"] == CLEAR else data["tags"].split(",")
            fields["tags"] = [tag.strip() for tag in tags if tag.strip()]
        return {**fields, **place} if kind == Kind.ADD_CLAUSE else fields


def resolutions_from(post: Any) -> dict[str, dict[str, Any]]:
    """``resolve:<clause key>:<field>`` boxes of the rebase form → ``{key: {field: value}}``
    (tags as a comma-separated list)."""
    out: dict[str, dict[str, Any]] = {}
    for name, value in post.items():
        if not name.startswith("resolve:"):
            continue
        key, _, field = name.removeprefix("resolve:").rpartition(":")  # keys may hold ":"
        if key and field:
            out.setdefault(key, {})[field] = (
                [t.strip() for t in value.split(",") if t.strip()] if field == "tags" else value
            )
    return out
