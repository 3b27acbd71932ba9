"""Evaluate the SELECT statements Snowpark generates, over pandas tables.

Snowpark asks the server to describe every DataFrame it builds and then runs the final
query; the session double answers both with this evaluator. It understands the subset of
Snowflake SQL that Snowpark and snowflake-ml-python emit for model inference: ``WITH``,
nested ``SELECT … FROM (…)``, ``*``, column references, ``CAST``/``::``, ``OBJECT['key']``,
literals, ``ORDER BY``/``LIMIT`` and ``MODEL(<model>, <version>)!<METHOD>(…)`` calls, which
the caller evaluates. Anything else raises :class:`UnsupportedSQL`, so a test that drives
the double into new SQL fails instead of getting an invented answer.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd


class UnsupportedSQL(Exception):
    """The evaluator does not understand this SQL."""


@dataclass
class Relation:
    """A table value: ``frame`` holds the rows, ``types`` the SQL type of each column."""

    frame: pd.DataFrame
    types: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> list[tuple[str, str]]:
        return [(str(c), self.types.get(str(c), "VARCHAR")) for c in self.frame.columns]


#: Resolves a table name (as written in SQL) to its rows.
TableLookup = Callable[[str], Relation]
#: Runs ``MODEL(model, version)!method`` on a frame of argument columns; returns one OBJECT per row.
ModelCall = Callable[[str, str, str, pd.DataFrame], list[dict[str, Any]]]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<qident>"(?:[^"]|"")*")
      | (?P<string>'(?:[^'\\]|''|\\.)*')
      | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
      | (?P<op>::|<=|>=|<>|!=|[(),.*!\[\]=<>+\-/:;])
      | (?P<word>[A-Za-z_$][A-Za-z0-9_$]*)
    )""",
    re.VERBOSE,
)
_KEYWORDS = {
    "SELECT",
    "FROM",
    "WITH",
    "AS",
    "WHERE",
    "ORDER",
    "BY",
    "LIMIT",
    "OFFSET",
    "ASC",
    "DESC",
    "NULLS",
    "FIRST",
    "LAST",
    "CAST",
    "NULL",
    "TRUE",
    "FALSE",
    "DISTINCT",
}


def _tokens(sql: str) -> list[tuple[str, str]]:
    sql = re.sub(r"/\*.*?\*/", " ", sql, flags=re.DOTALL)
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(sql):
        if sql[pos:].strip() == "":
            break
        match = _TOKEN.match(sql, pos)
        if match is None:
            raise UnsupportedSQL(f"cannot tokenize near {sql[pos : pos + 40]!r}")
        kind = match.lastgroup or ""
        text = match.group(kind)
        if kind == "word" and text.upper() in _KEYWORDS:
            kind, text = "kw", text.upper()
        out.append((kind, text))
        pos = match.end()
    return out


def identifier(text: str) -> str:
    """Resolve one identifier token: quoted keeps case, unquoted is upper-cased."""
    if text.startswith('"'):
        return text[1:-1].replace('""', '"')
    return text.upper()


# -- expressions -----------------------------------------------------------------------------
@dataclass
class Column:
    name: str


@dataclass
class Literal:
    value: Any
    sql_type: str


@dataclass
class Cast:
    expr: Any
    sql_type: str


@dataclass
class Subscript:
    expr: Any
    key: str


@dataclass
class ModelMethod:
    model: str
    version: str
    method: str
    args: list[Any]


@dataclass
class Count:
    """``COUNT(1)``/``COUNT(*)``: the only aggregate Snowpark sends here (``DataFrame.count()``)."""


@dataclass
class Star:
    pass


@dataclass
class Projection:
    expr: Any
    alias: str | None


@dataclass
class Select:
    projections: list[Projection]
    source: Any  # table name (str) or Query
    order_by: list[tuple[Any, bool]] = field(default_factory=list)
    limit: int | None = None
    offset: int = 0


@dataclass
class Query:
    ctes: dict[str, Query]
    body: Select


class _Parser:
    def __init__(self, sql: str) -> None:
        self.toks = _tokens(sql)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str]:
        j = self.i + offset
        return self.toks[j] if j < len(self.toks) else ("eof", "")

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        self.i += 1
        return tok

    def accept(self, text: str) -> bool:
        if self.peek()[1].upper() == text:
            self.i += 1
            return True
        return False

    def expect(self, text: str) -> None:
        if not self.accept(text):
            raise UnsupportedSQL(f"expected {text}, found {self.peek()[1]!r}")

    def name(self) -> str:
        parts = [self.take()[1]]
        while self.peek()[1] == "." and self.peek(1)[0] in ("word", "qident"):
            self.take()
            parts.append(self.take()[1])
        return ".".join(parts)

    def query(self) -> Query:
        ctes: dict[str, Query] = {}
        if self.accept("WITH"):
            while True:
                cte_name = identifier(self.take()[1])
                self.expect("AS")
                self.expect("(")
                ctes[cte_name] = self.query()
                self.expect(")")
                if not self.accept(","):
                    break
        return Query(ctes, self.select())

    def select(self) -> Select:
        if self.accept("("):
            inner = self.query()
            self.expect(")")
            if inner.ctes:
                raise UnsupportedSQL("WITH inside a parenthesised SELECT")
            return inner.body
        self.expect("SELECT")
        self.accept("DISTINCT")
        projections = []
        while True:
            if self.peek()[1] == "FROM":  # "SELECT *, FROM" (snowflake-ml's table-function template)
                break
            projections.append(self.projection())
            if not self.accept(","):
                break
        self.expect("FROM")
        if self.accept("("):
            source: Any = self.query()
            self.expect(")")
        else:
            source = self.name()
        if self.peek()[0] in ("word", "qident") or self.peek()[1] == "AS":
            self.accept("AS")
            self.take()  # a source alias; column references are not qualified in Snowpark's SQL
        if self.peek()[1] == ",":
            raise UnsupportedSQL("joins and table functions")
        if self.peek()[1] == "WHERE":
            raise UnsupportedSQL("WHERE")
        select = Select(projections, source)
        if self.accept("ORDER"):
            self.expect("BY")
            while True:
                expr = self.expr()
                ascending = not self.accept("DESC")
                self.accept("ASC")
                if self.accept("NULLS"):
                    self.take()
                select.order_by.append((expr, ascending))
                if not self.accept(","):
                    break
        if self.accept("LIMIT"):
            select.limit = int(self.take()[1])
            if self.accept("OFFSET"):
                select.offset = int(self.take()[1])
        return select

    def projection(self) -> Projection:
        if self.accept("*"):
            return Projection(Star(), None)
        expr = self.expr()
        alias = None
        if self.accept("AS") or self.peek()[0] in ("word", "qident"):
            alias = identifier(self.take()[1])
        return Projection(expr, alias)

    def expr(self) -> Any:
        expr = self.primary()
        while True:
            if self.accept("::"):
                expr = Cast(expr, self.sql_type())
            elif self.accept("["):
                key = self.take()[1]
                self.expect("]")
                expr = Subscript(expr, key.strip("'"))
            else:
                return expr

    def sql_type(self) -> str:
        text = self.take()[1].upper()
        if self.accept("("):
            args = []
            while not self.accept(")"):
                args.append(self.take()[1])
            text += "(" + "".join(args) + ")"
        return text

    def primary(self) -> Any:
        kind, text = self.peek()
        if self.accept("("):
            inner = self.expr()
            self.expect(")")
            return inner
        if self.accept("CAST"):
            self.expect("(")
            inner = self.expr()
            self.expect("AS")
            target = self.sql_type()
            self.expect(")")
            return Cast(inner, target)
        if kind == "number":
            self.take()
            return Literal(float(text) if "." in text else int(text), "FLOAT" if "." in text else "NUMBER(38,0)")
        if kind == "string":
            self.take()
            return Literal(text[1:-1].replace("''", "'"), "VARCHAR")
        if self.accept("NULL"):
            return Literal(None, "VARCHAR")
        if kind == "word" and text.upper() == "MODEL" and self.peek(1)[1] == "(":
            self.take()
            self.expect("(")
            model = self.name()
            self.expect(",")
            version = identifier(self.take()[1])
            self.expect(")")
            self.expect("!")
            method = identifier(self.take()[1])
            return ModelMethod(model, version, method, self.arguments())
        if kind in ("word", "qident"):
            self.take()
            if self.peek()[1] == "(":
                if text.upper() == "COUNT" and self.peek(1)[1] in ("1", "*") and self.peek(2)[1] == ")":
                    self.i += 3
                    return Count()
                raise UnsupportedSQL(f"function {text}()")
            return Column(identifier(text))
        raise UnsupportedSQL(f"unexpected {text!r}")

    def arguments(self) -> list[Any]:
        self.expect("(")
        args: list[Any] = []
        while not self.accept(")"):
            args.append(self.expr())
            self.accept(",")
        return args


def parse(sql: str) -> Query:
    parser = _Parser(sql.strip().rstrip(";"))
    query = parser.query()
    if parser.peek()[0] != "eof":
        raise UnsupportedSQL(f"unparsed tail {parser.peek()[1]!r}")
    return query


# -- evaluation ----------------------------------------------------------------------------------
_PANDAS_CAST: Mapping[str, Callable[[pd.Series], pd.Series]] = {
    "BIGINT": lambda s: s.astype("Int64"),
    "INT": lambda s: s.astype("Int64"),
    "INTEGER": lambda s: s.astype("Int64"),
    "NUMBER": lambda s: s.astype("Int64"),
    "DOUBLE": lambda s: s.astype("float64"),
    "FLOAT": lambda s: s.astype("float64"),
    "BOOLEAN": lambda s: s.astype("boolean"),
    "VARCHAR": lambda s: s.astype("string"),
    "STRING": lambda s: s.astype("string"),
    "TEXT": lambda s: s.astype("string"),
}


def evaluate(sql: str, tables: TableLookup, call_model: ModelCall) -> Relation:
    """Run ``sql`` against ``tables``; raise :class:`UnsupportedSQL` for anything outside the subset."""
    return _Evaluator(tables, call_model).query(parse(sql), {})


class _Evaluator:
    def __init__(self, tables: TableLookup, call_model: ModelCall) -> None:
        self.tables = tables
        self.call_model = call_model

    def query(self, query: Query, scope: dict[str, Relation]) -> Relation:
        scope = dict(scope)
        for name, cte in query.ctes.items():
            scope[name] = self.query(cte, scope)
        return self.select(query.body, scope)

    def select(self, select: Select, scope: dict[str, Relation]) -> Relation:
        if isinstance(select.source, Query):
            source = self.query(select.source, scope)
        else:
            key = identifier(select.source) if "." not in select.source else None
            source = scope[key] if key in scope else self.tables(select.source)
        frame = source.frame.reset_index(drop=True)
        if select.projections and all(isinstance(p.expr, Count) for p in select.projections):
            names = [p.alias or "COUNT(1)" for p in select.projections]
            counted = pd.DataFrame([[len(frame)] * len(names)], columns=names)
            return Relation(counted, dict.fromkeys(names, "NUMBER(38,0)"))
        columns: dict[str, pd.Series] = {}
        types: dict[str, str] = {}
        for projection in select.projections:
            if isinstance(projection.expr, Star):
                for name in frame.columns:
                    columns[str(name)] = frame[name]
                    types[str(name)] = source.types.get(str(name), "VARCHAR")
                continue
            values, sql_type = self.expr(projection.expr, source, frame)
            name = projection.alias or (projection.expr.name if isinstance(projection.expr, Column) else "EXPR")
            columns.pop(name, None)
            columns[name] = values
            types[name] = sql_type
        out = pd.DataFrame(columns, index=frame.index)
        for expr, ascending in reversed(select.order_by):
            order, _ = self.expr(expr, source, frame)
            out = out.iloc[np.argsort(order.to_numpy(), kind="stable")[:: 1 if ascending else -1]]
        out = out.reset_index(drop=True)
        if select.limit is not None:
            out = out.iloc[select.offset : select.offset + select.limit].reset_index(drop=True)
        return Relation(out, types)

    def expr(self, expr: Any, source: Relation, frame: pd.DataFrame) -> tuple[pd.Series, str]:
        if isinstance(expr, Column):
            if expr.name not in frame.columns:
                raise UnsupportedSQL(f"invalid identifier '{expr.name}'")
            return frame[expr.name], source.types.get(expr.name, "VARCHAR")
        if isinstance(expr, Literal):
            return pd.Series([expr.value] * len(frame), index=frame.index, dtype=object), expr.sql_type
        if isinstance(expr, Cast):
            values, _ = self.expr(expr.expr, source, frame)
            base = expr.sql_type.split("(")[0]
            convert = _PANDAS_CAST.get(base)
            if convert is None:
                return values, expr.sql_type
            if base == "NUMBER" and "," in expr.sql_type and not expr.sql_type.endswith(",0)"):
                return values.astype("float64"), expr.sql_type
            return convert(values), expr.sql_type
        if isinstance(expr, Subscript):
            values, _ = self.expr(expr.expr, source, frame)
            return values.map(lambda obj: None if obj is None else obj.get(expr.key)), "VARIANT"
        if isinstance(expr, ModelMethod):
            args = pd.DataFrame({i: self.expr(a, source, frame)[0] for i, a in enumerate(expr.args)}, index=frame.index)
            objects = self.call_model(expr.model, expr.version, expr.method, args)
            return pd.Series(objects, index=frame.index, dtype=object), "OBJECT"
        raise UnsupportedSQL(f"expression {expr!r}")
