"""Vectorised helpers for row rules: pandas (Series in, boolean Series out) and the same tests as
DuckDB SQL expressions over a column."""
from __future__ import annotations

import numpy as np
import pandas as pd

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK_CHARS = "10X98765432"
ID_PATTERN = r"^\d{17}[\dX]$"
EXCEL_NUMBER_PATTERN = r"^\d(\.\d+)?E\+?\d+$"   # 6.11002199001011E+17: digits lost in Excel


def id_check_digit_ok(ids: pd.Series) -> pd.Series:
    """GB 11643 check digit, computed column-wise over the 17 leading digits."""
    s = ids.astype("string[pyarrow]")
    well_formed = s.str.fullmatch(ID_PATTERN).fillna(False).astype(bool)
    digits = s.where(well_formed, "000000000000000000")
    total = sum(digits.str.slice(i, i + 1).astype("int64") * w for i, w in enumerate(ID_WEIGHTS))
    expected = np.array(list(ID_CHECK_CHARS))[(total % 11).to_numpy(dtype="int64")]
    return pd.Series(expected == digits.str.slice(17, 18).to_numpy(dtype=object), index=s.index) & well_formed


def id_birth_date(ids: pd.Series) -> pd.Series:
    """The birth date an ID number encodes (NaT where it is not a real date)."""
    s = ids.astype("string[pyarrow]").str.slice(6, 14)
    return pd.to_datetime(s, format="%Y%m%d", errors="coerce")


def not_before(later: pd.Series, earlier: pd.Series) -> pd.Series:
    """later >= earlier for dates of any dtype; a missing side passes."""
    a, b = later.astype("datetime64[s]"), earlier.astype("datetime64[s]")
    return ((a >= b) | a.isna() | b.isna()).astype(bool)


def starts_with_each(s: pd.Series, prefixes) -> pd.Series:
    """`s.str.startswith(prefix)`, the prefix one string or, row by row, a Series beside `s` (of a
    few distinct values: the submitting counties of a batch)."""
    if isinstance(prefixes, str):
        return s.str.startswith(prefixes)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    for prefix in pd.unique(prefixes):
        rows = (prefixes == prefix).to_numpy(dtype=bool)
        out[rows] = s[rows].str.startswith(prefix).astype("boolean")
    return out


def passes(result) -> pd.Series:
    """A check result with NA read as passing (a missing value is the `required` rule's job)."""
    return pd.Series(result).fillna(True).astype(bool)


# Facts about an ID number computed once per row while typing (`normalise.select_sql` adds them as
# columns `<field>__<name>`), so the SQL forms of the ID rules do not repeat the regex, the date
# parse and the digits for every rule.
ID_FACTS = {
    "ok": ("boolean", f"regexp_full_match(@x, '{ID_PATTERN[1:-1]}')"),
    "birth": ("date", "cast(try_strptime(substr(@x, 7, 8), '%Y%m%d') as date)"),
    "digits": ("bigint", "try_cast(left(@x, 17) as bigint)"),
}


def _fact(col: str, name: str) -> str:
    return f'"{col.strip(chr(34))}__{name}"'


def sql_id_ok(col: str) -> str:
    """The ID number in `col` is well formed: 17 digits and a digit or X."""
    return _fact(col, "ok")


def sql_excel_number(col: str) -> str:
    return f"regexp_full_match({col}, '{EXCEL_NUMBER_PATTERN[1:-1]}')"


def sql_id_birth_date(col: str) -> str:
    """The birth date the ID number in `col` encodes (NULL where there is none)."""
    return _fact(col, "birth")


def sql_id_check_char(col: str) -> str:
    """GB 11643: the check character the 17 leading digits call for (meaningful where well formed)."""
    digits = _fact(col, "digits")
    total = " + ".join(f"{w} * (({digits} // {10 ** (16 - i)}) % 10)" for i, w in enumerate(ID_WEIGHTS))
    return f"substr('{ID_CHECK_CHARS}', 1 + ({total}) % 11, 1)"
