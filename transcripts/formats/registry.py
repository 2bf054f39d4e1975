"""The one list of formats. Readers dispatch on it; the form's menu, the API's choices and the
CLI's ``--format`` are all built from it, so a new format is added here and nowhere else."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from transcripts.formats import hh, jailbreakbench, mtbench, openai_jsonl, prompt_response_csv
from transcripts.formats.limits import ImportLimits
from transcripts.formats.records import ImportStats, Record, RowError
from transcripts.formats.streams import Source

#: ``read(source, head, limits, stats, where)``: the records of a file whose first bytes
#: (``head``) were already read from ``source``; ``where`` names the file in messages.
Reader = Callable[[Source, bytes, ImportLimits, ImportStats, str], Iterator[Record | RowError]]


@dataclass(frozen=True, slots=True)
class Format:
    name: str  # the wire name: API, CLI, stored on the import
    label: str  # what a person picks in a menu
    read: Reader


#: Name → format, in menu order. Iterating gives the names.
FORMATS: Mapping[str, Format] = MappingProxyType(
    {
        module.NAME: Format(module.NAME, module.LABEL, module.read)
        for module in (openai_jsonl, hh, prompt_response_csv, jailbreakbench, mtbench)
    }
)
