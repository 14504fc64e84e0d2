"""The 69 published figures as data: `published_figures.csv` says each figure's section, unit,
precision, rounding and text; the section SQL computes the unrounded value under its figure_id.

What a figure reads (for `complete` and `reason`) is derived from its definition: the return ids
it names, and whether it reads period P, P-1 or both.
"""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
from functools import cache
from pathlib import Path

from schemas.catalogue import RETURN_IDS

FIGURES_CSV = Path(__file__).with_name("published_figures.csv")
SECTIONS = ("monitoring", "guarantees", "industry", "employment", "relocation", "infrastructure", "construction",
            "assistance")
SECTION_LABELS = {
    "monitoring": "防返贫监测", "guarantees": "三保障和兜底保障", "industry": "特色产业和村集体经济",
    "employment": "脱贫人口就业", "relocation": "易地扶贫搬迁后续扶持", "infrastructure": "基础设施和人居环境",
    "construction": "乡村建设示范创建", "assistance": "帮扶协作和驻村帮扶",
}
VALUE_SCALE = 2   # report.figures.value is DECIMAL(18, VALUE_SCALE): the largest `decimals` in the CSV


@dataclass(frozen=True)
class Figure:
    figure_id: str
    section: str
    label_zh: str
    published_text: str
    published_value: Decimal
    unit: str
    decimals: int
    compare: str
    rounding: str
    text_format: str
    zero_text: str
    definition: str

    @property
    def reads(self) -> tuple[tuple[str, int], ...]:
        """(return_id, period offset) pairs: offset 0 is P, -1 is P-1.

        From the definition: the return ids it names, or else the figures it names
        (`100 * risk_eliminated_persons / monitored_persons`); `of period P-1` reads P-1 only,
        another mention of P-1 (`weak(P-1) - weak(P)`) reads both.
        """
        names = [r for r in RETURN_IDS if re.search(rf"\b{r}\b", self.definition)]
        if not names:
            by_id = {f.figure_id: f for f in figures()}
            used = [by_id[w] for w in re.findall(r"[a-z_]+", self.definition) if w in by_id and w != self.figure_id]
            return tuple(dict.fromkeys(pair for f in used for pair in f.reads))
        offsets = (-1,) if "of period P-1" in self.definition else ((0, -1) if "P-1" in self.definition else (0,))
        return tuple((r, o) for r in names for o in offsets)

    def rounded(self, value: Decimal | None) -> Decimal | None:
        if value is None:
            return None
        quantum = Decimal(1).scaleb(-self.decimals)
        mode = ROUND_FLOOR if self.rounding == "floor" else ROUND_HALF_UP
        return Decimal(value).quantize(quantum, rounding=mode)

    def text(self, value: Decimal | None) -> str | None:
        """`text_format` with the value printed with exactly `decimals` digits, or `zero_text` for 0."""
        v = self.rounded(value)
        if v is None:
            return None
        if self.zero_text and v == 0:
            return self.zero_text
        return self.text_format.replace("{v}", f"{v:.{self.decimals}f}")


@cache
def figures() -> tuple[Figure, ...]:
    with FIGURES_CSV.open(encoding="utf-8") as fh:
        return tuple(Figure(figure_id=r["figure_id"], section=r["section"], label_zh=r["label_zh"],
                            published_text=r["published_text"], published_value=Decimal(r["value"]), unit=r["unit"],
                            decimals=int(r["decimals"]), compare=r["compare"], rounding=r["rounding"],
                            text_format=r["text_format"], zero_text=r["zero_text"], definition=r["definition"])
                     for r in csv.DictReader(fh))


def section_figures(section: str) -> tuple[Figure, ...]:
    return tuple(f for f in figures() if f.section == section)


def section_reads(section: str) -> list[str]:
    """The returns a section's figures read (in P, P-1 or both)."""
    return sorted({r for f in section_figures(section) for r, _ in f.reads})
