"""Forms for the specs pages: create a spec, import a version, decide a probable rename."""

from __future__ import annotations

from django import forms
from django.core.validators import RegexValidator

MAX_SPEC_BYTES = 5 * 1024 * 1024

label_validator = RegexValidator(
    r"^[A-Za-z0-9][A-Za-z0-9._-]{0,59}$",
    "Use letters, digits, dots, dashes or underscores, such as 2025-12-18.",
)


class SpecForm(forms.Form):
    title = forms.CharField(max_length=200)
    slug = forms.SlugField(max_length=80, help_text="Used in links, e.g. model-spec.")
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class VersionImportForm(forms.Form):
    """Markdown from an uploaded file or pasted text (one of them)."""

    label = forms.CharField(max_length=60, validators=[label_validator])
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
            if upload.size > MAX_SPEC_BYTES:
                raise forms.ValidationError(f"The file is over {MAX_SPEC_BYTES // 1024} KB.")
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
    old_key = forms.CharField(max_length=120)
    new_key = forms.CharField(max_length=120)
    similarity = forms.FloatField(required=False, min_value=0, max_value=1)
    decision = forms.ChoiceField(choices=[("confirm", "Confirm"), ("reject", "Reject")])
