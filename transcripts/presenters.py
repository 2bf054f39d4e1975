"""What the transcript pages show, shaped from the objects the selectors return.

Presentation only: no queries (everything needed is loaded by the selector), no access
decisions, no writes.
"""

from __future__ import annotations

import json
from typing import Any

from transcripts.importing.lease import max_attempts, upload_retention
from transcripts.models import (
    Scenario,
    ScenarioFlag,
    Transcript,
    TranscriptImport,
    TranscriptOrigin,
)

#: Messages longer than this fold behind a "show the whole message" summary.
FOLD_CHARS = 2000


def pretty(value: Any) -> str:
    """Metadata and tool arguments for display (escaped by the template): JSON, indented."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
        if isinstance(value, str):
            return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def metadata_rows(metadata: Any) -> list[tuple[str, str]]:
    """(key, pretty value) pairs in key order; a non-object is one ``value`` row."""
    if not isinstance(metadata, dict):
        return [("value", pretty(metadata))] if metadata else []
    return [(str(key), pretty(value)) for key, value in sorted(metadata.items())]


def conversation(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the template needs per message: long ones fold, tool calls become readable code."""
    rows = []
    for message in messages:
        content = str(message.get("content") or "")
        calls = [
            {
                "id": call.get("id", ""),
                "name": (call.get("function") or {}).get("name", ""),
                "arguments": pretty((call.get("function") or {}).get("arguments", "")),
            }
            for call in message.get("tool_calls") or []
        ]
        rows.append(
            {
                "role": message.get("role", ""),
                "name": message.get("name", ""),
                "content": content,
                "long": len(content) > FOLD_CHARS,
                "tool_calls": calls,
                "tool_call_id": message.get("tool_call_id", ""),
            }
        )
    return rows


def transcript_detail(transcript: Transcript, siblings: list[Transcript]) -> dict[str, Any]:
    """The transcript page's context."""
    return {
        "transcript": transcript,
        "conversation": conversation(transcript.messages),
        "metadata": metadata_rows(transcript.metadata),
        "siblings": siblings,
        "is_rerun": transcript.origin == TranscriptOrigin.RERUN,
    }


def import_detail(run: TranscriptImport, *, can_import: bool) -> dict[str, Any]:
    """The import page's context: the run, and what its failed or retried state offers."""
    return {
        "run": run,
        "can_import": can_import,
        "max_attempts": max_attempts(),
        "keep_days": upload_retention().days,
        # A queued run after a lost one: say it is a retry, and which.
        "next_attempt": run.attempts + 1 if run.attempts else 0,
    }


def scenario_origin(scenario: Scenario) -> dict[str, Any]:
    """Where the scenario came from, as the page shows it: a kind, a text, and link parts."""
    origin: dict[str, Any] = {"kind": scenario.source, "label": scenario.get_source_display()}
    linked = scenario.eval_prompt or scenario.example
    if linked is not None:
        clause = linked.clause
        origin.update(
            spec=clause.version.spec.slug,
            version=clause.version.label,
            clause_key=clause.key,
            clause_title=clause.title,
            detail=(
                f"footnote {scenario.eval_prompt.footnote_id}"
                if scenario.eval_prompt is not None
                else linked.title
            ),
        )
    elif scenario.origin_transcript_id is not None:
        origin.update(
            transcript_id=scenario.origin_transcript_id,
            detail=f"cut before message {(scenario.cut_before_turn or 0) + 1}",
        )
    if scenario.import_run_id is not None:
        origin["import_id"] = scenario.import_run_id
    return origin


def scenario_detail(
    scenario: Scenario,
    reruns: list[Transcript],
    flags: list[ScenarioFlag],
    *,
    can_read_transcripts: bool,
) -> dict[str, Any]:
    """The scenario page's context."""
    return {
        "scenario": scenario,
        "conversation": conversation(scenario.messages),
        "metadata": metadata_rows(scenario.metadata),
        "origin": scenario_origin(scenario),
        "reruns": reruns,
        "flags": flags,
        "can_read_transcripts": can_read_transcripts,
    }
