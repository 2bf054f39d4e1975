"""Forms for transcripts and imports."""

from __future__ import annotations

from typing import Any

from django import forms

from transcripts.models import TranscriptImport

# --------------------------------------------------------------------------------------------------
# Transcripts and imports (transcripts)
# --------------------------------------------------------------------------------------------------

TRANSCRIPT_FORMAT_CHOICES = [
    ("", "Detect from the content"),
    ("openai_jsonl", "JSONL with OpenAI messages"),
    ("hh_jsonl", "Anthropic HH (chosen / rejected pairs)"),
    ("prompt_response_csv", "CSV with prompt / response columns"),
    ("jailbreakbench_json", "JailbreakBench JSON"),
    ("mtbench_jsonl", "MT-Bench questions (become scenarios)"),
]


class TranscriptImportForm(forms.Form):
    """Upload a transcript file. The size cap is checked again while the file is stored."""

    file = forms.FileField(
        help_text="JSONL, HH JSONL, CSV or JSON; .gz accepted. The file name is never used on disk."
    )
    format = forms.ChoiceField(choices=TRANSCRIPT_FORMAT_CHOICES, required=False)
    source = forms.CharField(
        max_length=120, required=False, help_text="Where these came from, e.g. “eval run 12”."
    )
    tags = forms.CharField(
        max_length=600, required=False, help_text="Comma-separated; added to every transcript."
    )
    id_prefix = forms.CharField(
        max_length=60, required=False, help_text="Prepended to every external id."
    )
    valid_rows = forms.BooleanField(
        required=False,
        label="Import the valid rows and report the rest",
        help_text="Off: any rejected row rolls the whole import back (all-or-nothing).",
    )

    def __init__(self, *args: Any, max_bytes: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > self.max_bytes:
            raise forms.ValidationError(
                f"The file is {upload.size:,} bytes; the limit is {self.max_bytes:,} bytes."
            )
        return upload

    def clean_tags(self) -> list[str]:
        tags = [t.strip() for t in self.cleaned_data["tags"].split(",") if t.strip()]
        for tag in tags:
            if len(tag) > 60:
                raise forms.ValidationError(f"Tag “{tag[:20]}…” is longer than 60 characters.")
        return tags

    @property
    def mode(self) -> str:
        return (
            TranscriptImport.Mode.VALID_ROWS
            if self.cleaned_data.get("valid_rows")
            else TranscriptImport.Mode.ALL_OR_NOTHING
        )
