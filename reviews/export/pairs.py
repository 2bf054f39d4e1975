"""Preference pairs (``prompt``, ``chosen``, ``rejected``) from gold and from spec examples.

In the conversational form preference trainers read (TRL's ``DPOTrainer`` among them): ``prompt``
is the conversation so far, ``chosen`` and ``rejected`` are each a one-message list with the
assistant's answer.

* **From gold**: two gold rows on the same clause of the same spec version whose transcripts
  share the prompt (every message but the last) and end in different assistant answers, one
  graded with a preferred verdict (``complies``) and the other with a dispreferred one
  (``violates``): paired transcripts such as HH's chosen/rejected, or two models' answers to
  one scenario. Rows must arrive grouped by (clause, spec version, prompt), as
  ``rows.iter_gold_rows(..., for_pairs=True)`` orders them; only one group is held at a time.
* **From spec examples**: each comparison turn of an example pairs every ``good`` candidate with
  every ``bad`` one, after the messages before it (an earlier comparison continues the
  conversation with its first good candidate).

Every pair has the same keys (``provenance`` says which source, the other source's ids null),
so a JSON reader infers one schema for the file.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator
from itertools import groupby
from typing import Any

import orjson

PREFERRED = frozenset({"complies"})
DISPREFERRED = frozenset({"violates"})


def _pair(
    prompt: list[dict[str, Any]],
    chosen: dict[str, Any],
    rejected: dict[str, Any],
    *,
    clause: str,
    spec: str,
    spec_version: str,
    provenance: dict[str, Any],
) -> dict[str, Any]:
    return {
        "prompt": prompt,
        "chosen": [chosen],
        "rejected": [rejected],
        "clause": clause,
        "spec": spec,
        "spec_version": spec_version,
        "provenance": {
            "source": "gold",
            "chosen_decision_id": None,
            "rejected_decision_id": None,
            "chosen_verdict": None,
            "rejected_verdict": None,
            "example_id": None,
            "example_title": None,
            **provenance,
        },
    }


def _prompt_key(row: dict[str, Any]) -> tuple[str, str, str, bytes]:
    return (row["clause"], row["spec"], row["spec_version"], orjson.dumps(row["messages"][:-1]))


def _answers_last(row: dict[str, Any]) -> bool:
    messages = row["messages"]
    return bool(messages) and messages[-1].get("role") == "assistant"


def gold_pairs(
    rows: Iterable[dict[str, Any]],
    *,
    preferred: Collection[str] = PREFERRED,
    dispreferred: Collection[str] = DISPREFERRED,
) -> Iterator[dict[str, Any]]:
    """Pairs from gold rows grouped by (clause, spec version, prompt)."""
    for _, group in groupby(filter(_answers_last, rows), key=_prompt_key):
        members = list(group)
        good = [r for r in members if r["verdict"] in preferred]
        bad = [r for r in members if r["verdict"] in dispreferred]
        for chosen in good:
            for rejected in bad:
                if chosen["messages"][-1] == rejected["messages"][-1]:
                    continue  # the same answer graded both ways is a conflict, not a preference
                yield _pair(
                    chosen["messages"][:-1],
                    chosen["messages"][-1],
                    rejected["messages"][-1],
                    clause=chosen["clause"],
                    spec=chosen["spec"],
                    spec_version=chosen["spec_version"],
                    provenance={
                        "chosen_decision_id": chosen["provenance"]["decision_id"],
                        "rejected_decision_id": rejected["provenance"]["decision_id"],
                        "chosen_verdict": chosen["verdict"],
                        "rejected_verdict": rejected["verdict"],
                    },
                )


def example_pairs(
    turns: list[dict[str, Any]],
    *,
    clause: str,
    spec: str,
    spec_version: str,
    example_id: int,
    title: str,
) -> Iterator[dict[str, Any]]:
    """Pairs from one spec example's turns (``Example.turns``: ``{"message": {...}}`` or
    ``{"comparison": [{"content", "grade", ...}]}``)."""
    prompt: list[dict[str, Any]] = []
    for turn in turns:
        message = turn.get("message")
        if message is not None:
            prompt.append({"role": message["role"], "content": message["content"]})
            continue
        candidates = turn.get("comparison") or []
        good = [c for c in candidates if c.get("grade") == "good"]
        bad = [c for c in candidates if c.get("grade") == "bad"]
        for chosen in good:
            for rejected in bad:
                yield _pair(
                    list(prompt),
                    {"role": "assistant", "content": chosen["content"]},
                    {"role": "assistant", "content": rejected["content"]},
                    clause=clause,
                    spec=spec,
                    spec_version=spec_version,
                    provenance={
                        "source": "spec_example",
                        "example_id": example_id,
                        "example_title": title,
                    },
                )
        continued = (good or candidates)[:1]
        if continued:
            prompt.append({"role": "assistant", "content": continued[0]["content"]})
