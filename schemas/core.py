"""The vocabulary in which a return is declared once.

A return (统计报表) is a `Return`: its fields (`Field`: header, aliases, kind, bounds) and its
row rules (`Rule`: id, severity, the columns it reports on, a vectorised check, messages in
Chinese and English).  Everything else -- readers, the DuckDB normalisation SQL, the Pandera
models, staging DDL and comments, templates -- is derived from these declarations.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Callable, Mapping

import pandas as pd

HARD, SOFT = "hard", "soft"

# Field kinds and the DuckDB type each is stored as.
SQL_TYPES = {
    "text": "VARCHAR",
    "code": "VARCHAR",        # digits only, e.g. a 12-digit village code
    "county": "VARCHAR",      # a GB/T 2260 county code
    "id_number": "VARCHAR",   # stored only as an HMAC pseudonym (SPEC section 7)
    "count": "BIGINT",
    "amount": "DECIMAL(18,6)",
    "category": "VARCHAR",
    "bool": "BOOLEAN",
    "date": "DATE",
}
NUMERIC_KINDS = ("count", "amount")

COUNTIES = {
    "611002": "商州区", "611021": "洛南县", "611022": "丹凤县", "611023": "商南县",
    "611024": "山阳县", "611025": "镇安县", "611026": "柞水县",
}
CITY_CODE, CITY_NAME = "611000", "商洛市"
AREAS = {CITY_CODE: CITY_NAME, **COUNTIES}


@dataclass(frozen=True)
class Context:
    """What a check needs to know besides the rows: where and when they come from."""
    period: str
    county_code: str
    cutoff: date

    @property
    def previous_period(self) -> str:
        return str(int(self.period) - 1)


@dataclass(frozen=True)
class Field:
    name: str                      # canonical English snake_case name
    label: str                     # the header as the SPEC prints it, e.g. 住院总费用(万元)
    kind: str = "text"
    values: tuple[str, ...] = ()   # allowed categories
    value_aliases: Mapping[str, str] = field(default_factory=dict)
    headers: tuple[str, ...] = ()  # further header aliases
    required: bool = True
    min: Decimal | int | None = None        # hard bounds
    max: Decimal | int | None = None
    soft_min: Decimal | int | None = None   # soft (核实性) bounds
    soft_max: Decimal | int | None = None
    length: int | None = None      # exact length of a code, all digits
    county_prefix: bool = False    # a code that must start with the county code
    note: str = ""                 # extra words for the column comment
    unit: str = ""                 # a count's or amount's unit: the label's (万元) when it has one, else declared

    def __post_init__(self):
        if self.kind not in SQL_TYPES:
            raise ValueError(f"{self.name}: unknown kind {self.kind}")
        if self.kind in NUMERIC_KINDS and self.min is None and self.name not in _SIGNED:
            object.__setattr__(self, "min", 0)   # counts and amounts are non-negative
        m = re.search(r"[(（]([^()（）]+)[)）]\s*$", self.label)
        if self.kind in NUMERIC_KINDS:
            if m and self.unit and self.unit != m.group(1):
                raise ValueError(f"{self.name}: unit {self.unit} differs from the label's {m.group(1)}")
            object.__setattr__(self, "unit", m.group(1) if m else self.unit)
            if not self.unit:
                raise ValueError(f"{self.name}: a {self.kind} declares its unit (in its label or unit=)")
        elif self.unit:
            raise ValueError(f"{self.name}: only counts and amounts have a unit")

    @property
    def bare_label(self) -> str:
        """The label without its unit in brackets: 住院总费用(万元) -> 住院总费用."""
        return re.sub(r"[(（][^()（）]+[)）]\s*$", "", self.label) if self.unit and self.unit in self.label else self.label

    @property
    def sql_type(self) -> str:
        return SQL_TYPES[self.kind]

    @property
    def stored_name(self) -> str:
        return f"{self.name}_hash" if self.kind == "id_number" else self.name


# Amounts that may legitimately be negative (the bound is then soft).
_SIGNED = {"collective_income_10k_yuan"}


Check = Callable[[pd.DataFrame, Context], pd.Series]


@dataclass(frozen=True)
class Rule:
    """A row rule: `check(frame, ctx)` is True where a row passes (NA counts as passing).

    `sql` is the same rule as a DuckDB predicate over the typed (or staged) columns, true or NULL
    where a row passes; `$cutoff` stands for the period's cut-off date.  A rule whose SQL reads a
    clear ID number runs only while a version is checked (staging holds only the pseudonym).
    """
    id: str
    severity: str
    columns: tuple[str, ...]
    check: Check
    zh: str
    en: str
    sql: str | None = None


@dataclass(frozen=True)
class Return:
    return_id: str
    number: int
    title: str
    grain: str                     # "rows": many rows per county; "county": one row per county
    fields: tuple[Field, ...]
    rules: tuple[Rule, ...] = ()
    key: tuple[str, ...] = ()      # business key, unique within `unique_in`
    unique_in: str = "county"      # "county" or "city"
    description: str = ""

    @property
    def table_label(self) -> str:
        return f"表{self.number}"

    @property
    def one_row(self) -> bool:
        return self.grain == "county"

    @property
    def nil_allowed(self) -> bool:
        """A header with no data rows is a valid nil return only for the many-row returns."""
        return not self.one_row

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)

    @property
    def key_within_county(self) -> bool:
        """The business key can repeat only inside one county: it is unique per county, or it must
        start with its county's code (so a city-wide uniqueness rule needs no look across counties)."""
        return self.unique_in == "county" or (bool(self.key) and self.field(self.key[0]).county_prefix)

    @property
    def names(self) -> list[str]:
        return [f.name for f in self.fields]

    @property
    def stored_fields(self) -> list[Field]:
        """The fields staging stores, in order (the county is staging's own column, from the folder)."""
        return [f for f in self.fields if f.name != "county_code"]
