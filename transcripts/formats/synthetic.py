"""Synthetic ``openai_jsonl`` files for tests and benchmarks: deterministic, valid, realistic size."""

from __future__ import annotations

import json
import os
import random

_WORDS = (
    "policy",
    "model",
    "review",
    "transcript",
    "assistant",
    "answer",
    "question",
    "refuse",
    "comply",
    "safety",
    "context",
    "user",
    "request",
    "explain",
    "detail",
    "example",
    "careful",
    "helpful",
    "harmless",
    "honest",
    "clause",
    "section",
    "guideline",
    "tool",
    "result",
    "search",
    "weather",
    "report",
    "summary",
    "draft",
    "email",
    "code",
    "function",
    "error",
    "value",
    "number",
    "café",
    "naïve",
    "résumé",
    "—",
    "“quoted”",
    "日本語",
    "テキスト",
    "data",
    "import",
    "export",
    "table",
    "row",
    "column",
    "field",
    "record",
    "stream",
)


def generate_openai_jsonl(
    path: str | os.PathLike[str], rows: int, messages_per_row: int = 6, seed: int = 0
) -> int:
    """Write ``rows`` synthetic ``openai_jsonl`` rows to ``path``; return the bytes written.

    Deterministic for a given seed. Each row (~1.5 KB with 6 messages) has a system message, then
    alternating user/assistant turns with content distinct per row (the row number is embedded),
    plus ``external_id`` (``"gen-<seed>-<row>"``), ``metadata``, ``tags`` and ``model``; some text is
    non-ASCII. Every row is valid, so every row must come back as a Record.
    """
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    # Pre-built sentences keep generation cheap (a few choices per message, not one per word).
    sentences = [
        " ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 12))).capitalize() + "."
        for _ in range(512)
    ]
    encode = json.JSONEncoder(ensure_ascii=False, separators=(", ", ": ")).encode
    roles = ("user", "assistant")
    written = 0
    with open(path, "wb") as fh:
        buf: list[bytes] = []
        for row in range(rows):
            messages = [
                {
                    "role": "system",
                    "content": f"You are assistant #{row % 97}. "
                    + " ".join(rng.sample(sentences, 2)),
                }
            ]
            for turn in range(messages_per_row - 1):
                content = f"[{row}.{turn}] " + " ".join(rng.sample(sentences, 3))
                messages.append({"role": roles[turn % 2], "content": content})
            obj = {
                "external_id": f"gen-{seed}-{row}",
                "messages": messages,
                "metadata": {"source": "generated", "seed": seed, "row": row, "shard": row % 16},
                "tags": ["synthetic", f"bucket-{row % 8}"],
                "model": "gen-model-1",
            }
            data = encode(obj).encode("utf-8") + b"\n"
            buf.append(data)
            written += len(data)
            if len(buf) >= 1024:
                fh.write(b"".join(buf))
                buf.clear()
        fh.write(b"".join(buf))
    return written
