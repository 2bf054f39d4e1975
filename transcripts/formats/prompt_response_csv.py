"""``prompt_response_csv``: a CSV with a prompt column and, optionally, response and id columns.

Header names are matched case-insensitively (earlier names win). A row with a non-blank response
is a transcript, a prompt-only row a scenario; the other columns become metadata. Rows may span
lines (quoted newlines): a row is capped like a line, by ``max_line_bytes``.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from transcripts.formats.limits import ImportLimits
from transcripts.formats.messages import make_record, short
from transcripts.formats.records import FormatError, ImportStats, Record, RowError
from transcripts.formats.streams import BOM, Overlong, Source, iter_lines

NAME = "prompt_response_csv"
LABEL = "CSV with prompt / response columns"

# CSV header names, matched case-insensitively after stripping; earlier names win.
PROMPT_COLUMNS = ("prompt", "prompts_final", "question", "input")
RESPONSE_COLUMNS = ("response", "completion", "output", "answer")
ID_COLUMNS = ("id", "external_id")


def csv_columns(header: list[str]) -> tuple[int | None, int | None, int | None]:
    """Indexes of the prompt, response and id columns (case-insensitive), None when absent."""
    lowered = [h.strip().lower() for h in header]

    def find(names: tuple[str, ...]) -> int | None:
        for name in names:
            if name in lowered:
                return lowered.index(name)
        return None

    return find(PROMPT_COLUMNS), find(RESPONSE_COLUMNS), find(ID_COLUMNS)


def read(
    source: Source, head: bytes, limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    return _read_rows(iter_lines(source, head), limits, stats, where)


def _read_rows(
    lines: Iterator[bytes | Overlong], limits: ImportLimits, stats: ImportStats, where: str
) -> Iterator[Record | RowError]:
    cap = limits.max_line_bytes
    # csv keeps its field cap in process-global state; only ever raise it (to our own line cap),
    # so a long completion is not a csv.Error and an unclosed quote still cannot eat the file.
    if csv.field_size_limit() < cap:
        csv.field_size_limit(cap)
    bad: dict[int, str] = {}
    consumed = [0]  # bytes handed to the csv reader so far (a list: written by the generator)

    def text_lines() -> Iterator[str]:
        # One str per physical line (csv counts them in line_num); problems are noted in `bad` and
        # reported against the row that contains the line.
        n = 0
        for raw in lines:
            n += 1
            if type(raw) is Overlong:
                consumed[0] += cap + 1
                bad[n] = f"line {n} longer than max_line_bytes={cap}"
                yield "\n"
                continue
            consumed[0] += len(raw) + 1
            if n == 1 and raw.startswith(BOM):
                raw = raw[3:]
            if b"\x00" in raw:
                bad[n] = f"NUL byte on line {n}"
            try:
                yield raw.decode("utf-8") + "\n"
            except UnicodeDecodeError as exc:
                bad[n] = f"invalid UTF-8 at byte {exc.start + 1} of line {n} ({exc.reason})"
                yield raw.decode("utf-8", "replace") + "\n"

    reader = csv.reader(text_lines())
    try:
        header = next(reader)
    except StopIteration:
        raise FormatError(f"{where}: empty CSV file") from None
    except csv.Error as exc:
        raise FormatError(f"{where}: unreadable CSV header: {exc}") from exc
    if bad:
        raise FormatError(f"{where}: CSV header: {next(iter(bad.values()))}")
    prompt_i, response_i, id_i = csv_columns(header)
    if prompt_i is None:
        raise FormatError(
            f"{where}: CSV header has no prompt column (one of {', '.join(PROMPT_COLUMNS)}); "
            f"header: {short(header, 200)}"
        )
    names = [h.strip() for h in header]
    ncols = len(header)
    meta_cols = [(k, names[k]) for k in range(ncols) if k not in (prompt_i, response_i, id_i)]
    prompt_name = names[prompt_i]
    max_rows = limits.max_rows
    rows = 0
    while True:
        start = reader.line_num + 1
        start_bytes = consumed[0]
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            rows += 1
            bad.clear()  # whatever else was wrong with this row's lines, it is reported once
            yield RowError(start, "", f"CSV error: {exc}")
            continue
        if consumed[0] - start_bytes > cap and reader.line_num > start:
            # A multi-line row (e.g. an unclosed quote) is held whole by csv: cap it like a line.
            rows += 1
            bad.clear()
            yield RowError(
                start,
                "",
                f"CSV row (lines {start}-{reader.line_num}) longer than max_line_bytes={cap}",
            )
            continue
        if bad:
            # Lines of this row that could not be read: reject the row (even a blank-looking one,
            # since an overlong or undecodable line is not known to be blank).
            hits = [bad.pop(k) for k in sorted(bad) if k <= reader.line_num]
            if hits:
                rows += 1
                yield RowError(start, "", hits[0])
                continue
        if not row:
            continue  # blank line
        rows += 1
        if rows > max_rows:
            raise FormatError(f"{where}: more than max_rows={max_rows} rows (line {start})")
        if len(row) != ncols:
            yield RowError(start, "", f"expected {ncols} fields (as the header), got {len(row)}")
            continue
        prompt = row[prompt_i]
        if not prompt.strip():
            yield RowError(start, prompt_name, "empty prompt")
            continue
        messages = [{"role": "user", "content": prompt}]
        if response_i is not None and row[response_i].strip():
            messages.append({"role": "assistant", "content": row[response_i]})
        yield make_record(
            start,
            messages,
            limits,
            external_id=row[id_i].strip() if id_i is not None else "",
            metadata={name: row[k] for k, name in meta_cols},
        )
    stats.rows = rows
