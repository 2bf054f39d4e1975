"""Forms for transcripts and imports. Choices and lengths come from the formats' registry and
limits, so the form refuses exactly what the import service refuses."""

from __future__ import annotations

from typing import Any

from django import forms

from transcripts.formats import FORMATS
from transcripts.formats.limits import MAX_ID_PREFIX, MAX_IMPORT_TAGS, MAX_SOURCE, MAX_TAG
from transcripts.models import TranscriptImport
from transcripts.services import clean_tags


def format_choices() -> list[tuple[str, str]]:
    """The format menu: detection first, then every format of the registry."""
    return [("", "Detect from the content"), *((f.name, f.label) for f in FORMATS.values())]


class TranscriptImportForm(forms.Form):
    """Upload a transcript file. The size cap is checked again while the file is stored."""

    file = forms.FileField(
        help_text="JSONL, HH JSONL, CSV or JSON; .gz accepted. The file name is never used on disk."
    )
    format = forms.ChoiceField(choices=format_choices, required=False)
    source = forms.CharField(
        max_length=MAX_SOURCE,
        required=False,
        help_text="Where these came from, e.g. “eval run 12”.",
    )
    tags = forms.CharField(
        # Room for every tag at its longest, with a comma and a space between.
        max_length=MAX_IMPORT_TAGS * (MAX_TAG + 2),
        required=False,
        help_text="Comma-separated; added to every transcript.",
    )
    id_prefix = forms.CharField(
        max_length=MAX_ID_PREFIX, required=False, help_text="Prepended to every external id."
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
        # The service's own rule, so the form and the API word a bad tag the same way.
        try:
            return clean_tags(self.cleaned_data["tags"].split(","))
        except forms.ValidationError as error:
            raise forms.ValidationError(error.messages) from error

    @property
    def mode(self) -> str:
        return (
            TranscriptImport.Mode.VALID_ROWS
            if self.cleaned_data.get("valid_rows")
            else TranscriptImport.Mode.ALL_OR_NOTHING
        )
