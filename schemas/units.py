"""Units of measure (计量单位): which units are multiples of one another, exactly.

Every count and amount declares its unit (`Field.unit`).  A unit written in a file -- a 计量单位
column of the vertical form, or a header such as `住院总费用（元）` -- is converted to the declared
one when both are in one family below (`factor`, a `Decimal`, so 元 -> 万元 is exact); any other
unit is an error that names the unit found and the one expected.
"""
from __future__ import annotations

import re
from decimal import Decimal

# family -> unit -> its size in the family's first unit
FAMILIES: dict[str, dict[str, Decimal]] = {
    "money": {"元": Decimal(1), "千元": Decimal(10) ** 3, "万元": Decimal(10) ** 4, "亿元": Decimal(10) ** 8},
    "persons": {"人": Decimal(1), "万人": Decimal(10) ** 4},
    "person_times": {"人次": Decimal(1), "万人次": Decimal(10) ** 4},
    "households": {"户": Decimal(1), "万户": Decimal(10) ** 4},
    "area": {"亩": Decimal(1), "万亩": Decimal(10) ** 4},
    "things": {"个": Decimal(1), "家": Decimal(1), "座": Decimal(1), "处": Decimal(1)},   # counted items, equal
    "length": {"公里": Decimal(1), "千米": Decimal(1), "km": Decimal(1), "米": Decimal("0.001"), "m": Decimal("0.001")},
    "bags": {"袋": Decimal(1), "万袋": Decimal(10) ** 4},
    "roads": {"条": Decimal(1)},
    "cellars": {"眼": Decimal(1)},
    "batches": {"批次": Decimal(1), "批": Decimal(1)},
}
_FAMILY_OF = {unit: name for name, units in FAMILIES.items() for unit in units}


def clean(unit: str | None) -> str:
    """A unit as written, without white space or brackets: （万元） -> 万元."""
    return re.sub(r"[\s\u3000()（）\[\]【】]+", "", str(unit or ""))


def known(unit: str) -> bool:
    return clean(unit) in _FAMILY_OF


def factor(found: str, declared: str) -> Decimal | None:
    """What a value in `found` is multiplied by to be in `declared`; None when they are not of one family."""
    found = clean(found)
    if found == declared:
        return Decimal(1)
    family = _FAMILY_OF.get(found)
    if family is None or family != _FAMILY_OF.get(declared):
        return None
    units = FAMILIES[family]
    return units[found] / units[declared]
