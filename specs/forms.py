"""Forms for the specs pages: create a spec, import a version, decide a probable rename.

Limits and the label rule come from ``specs.models``; the services check them again, so the CLI
and the API get the same answers."""

from __future__ import annotations

from django import forms

from specs.models import (
    CLAUSE_KEY_MAX_LENGTH,
    SPEC_SLUG_MAX_LENGTH,
    SPEC_SOURCE_MAX_BYTES,
    SPEC_TITLE_MAX_LENGTH,
    VERSION_LABEL_MAX_LENGTH,
    version_label_validator,
)


class SpecForm(forms.Form):
    title = forms.CharField(max_length=SPEC_TITLE_MAX_LENGTH)
    slug = forms.SlugField(
        max_length=SPEC_SLUG_MAX_LENGTH, help_text="Used in links, e.g. model-spec."
    )
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class VersionImportForm(forms.Form):
    """Markdown from an uploaded file or pasted text (one of them)."""

    label = forms.CharField(
        max_length=VERSION_LABEL_MAX_LENGTH, validators=[version_label_validator]
    )
    file = forms.FileField(
        required=False, help_text="A .md file in the Model Spec dialect, or plain Markdown."
    )
    markdown = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10, "spellcheck": "false"}),
        required=False,
        help_text="…or paste the Markdown here.",
    )

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > SPEC_SOURCE_MAX_BYTES:
                raise forms.ValidationError(f"The file is over {SPEC_SOURCE_MAX_BYTES // 1024} KB.")
            try:
                data["markdown"] = upload.read().decode("utf-8")
            except UnicodeDecodeError as error:
                raise forms.ValidationError(
                    f"The file is not UTF-8 text (byte {error.start})."
                ) from error
            data["filename"] = upload.name
        else:
            data["filename"] = ""
        if not (data.get("markdown") or "").strip():
            raise forms.ValidationError("Upload a Markdown file or paste its text.")
        return data


class AliasDecisionForm(forms.Form):
    old_key = forms.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    new_key = forms.CharField(max_length=CLAUSE_KEY_MAX_LENGTH)
    similarity = forms.FloatField(required=False, min_value=0, max_value=1)
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("reject", "Reject")])


class ConfirmForm(forms.Form):
    """A step that cannot be undone (publishing, discarding a draft) asks for a ticked box, so
    it never happens on a stray click; the box is required in the browser and here."""

    confirm = forms.BooleanField(
        required=True,
        error_messages={"required": "Tick the box to confirm; this cannot be undone."},
    )

    def __init__(self, *args: object, label: str = "", **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["confirm"].label = label
