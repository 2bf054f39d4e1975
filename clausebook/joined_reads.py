"""Reading a joined row straight into model instances, with its statement written once per
process.

A few reads run on every request: the API token with its user, the membership with its
workspace, a reviewer's assignment with its item, campaign and transcript. For those, compiling
the ORM's ``select_related`` query cost more CPU than running it. A reader selects each model's
concrete columns and turns a row back into instances as the ORM does (the fields' database
converters, then ``Model.from_db``), so deferred fields still load on access. Each read is of
the rows as they are now: nothing is cached but the statement's text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, models


@dataclass(frozen=True)
class ModelColumns:
    """One model's columns in a joined row: what to select, and how to make the instance."""

    model: type[models.Model]
    select: str
    names: tuple[str, ...]
    # (index in this model's columns, the column expression, its converters)
    converters: tuple[tuple[int, Any, tuple[Any, ...]], ...]

    @property
    def width(self) -> int:
        return len(self.names)


def model_columns(
    model: type[models.Model], alias: str, *, skip: Sequence[str] = ()
) -> ModelColumns:
    """``model``'s concrete columns under the table alias ``alias``, less the attributes in
    ``skip`` (left deferred, as ``.defer()`` would)."""
    fields = [field for field in model._meta.concrete_fields if field.attname not in skip]
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(alias)
        found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
        if found:
            converters.append((index, column, tuple(found)))
    select = ", ".join(f"{alias}.{connection.ops.quote_name(field.column)}" for field in fields)
    return ModelColumns(model, select, tuple(f.attname for f in fields), tuple(converters))


def table(model: type[models.Model]) -> str:
    """The model's table name, quoted for the statement."""
    return connection.ops.quote_name(model._meta.db_table)


@dataclass(frozen=True)
class JoinedReader:
    """A statement selecting ``parts``' columns in order, and the instances of its rows."""

    sql: str
    parts: tuple[ModelColumns, ...]

    def instances(self, row: Sequence[Any]) -> list[Any]:
        """One instance per part, as ``Model.from_db`` makes them from the ORM's rows."""
        out, start = [], 0
        for part in self.parts:
            values = list(row[start : start + part.width])
            for index, column, converters in part.converters:
                for convert in converters:
                    values[index] = convert(values[index], column, connection)
            out.append(part.model.from_db(connection.alias, part.names, values))
            start += part.width
        return out

    def one(self, params: Sequence[Any]) -> list[Any] | None:
        """The instances of the first row, or None when there is no row."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            row = cursor.fetchone()
        return None if row is None else self.instances(row)

    def all(self, params: Sequence[Any]) -> list[list[Any]]:
        """The instances of every row."""
        with connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        return [self.instances(row) for row in rows]
