"""The published article as a template.

`article-2022.txt` is the 2022 article as published (a title, a word-count line, then 9
paragraphs; paragraphs 2–9 are repeated by a copying error and ignored).  Paragraph k+1 is report
section k; within it each figure's published text is found in the order of
`published_figures.csv` and becomes a slot, so the qualitative sentences stay as published and
only the figures are filled from the warehouse.
"""
from __future__ import annotations

from functools import cache
from pathlib import Path

from warehouse.figures import SECTIONS, figures, section_figures

ARTICLE = Path(__file__).with_name("article-2022.txt")
PUBLISHED_PERIOD = "2022"          # the period the article and published_figures.csv describe
PARAGRAPHS = 9


@cache
def published() -> tuple[str, tuple[str, ...]]:
    lines = [line.strip() for line in ARTICLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[0], tuple(lines[2:2 + PARAGRAPHS])


@cache
def template() -> tuple[str, tuple[tuple[str | None, ...], ...]]:
    """(title, paragraphs); a paragraph is a sequence of literal text and figure ids (every 2nd item)."""
    title, paragraphs = published()
    out = [(paragraphs[0],)]
    for section, text in zip(SECTIONS, paragraphs[1:]):
        pieces, pos = [], 0
        for fig in section_figures(section):
            at = text.find(fig.published_text, pos)
            if at < 0:
                raise ValueError(f"{fig.figure_id}: '{fig.published_text}' not found in the {section} paragraph")
            pieces += [text[pos:at], fig.figure_id]
            pos = at + len(fig.published_text)
        out.append(tuple(pieces + [text[pos:]]))
    return title, tuple(out)


def missing_text(figure_id: str) -> str:
    label = {f.figure_id: f.label_zh for f in figures()}[figure_id]
    return f"【{label}：数据不完整】"


def render(texts: dict[str, str | None]) -> tuple[str, list[str]]:
    """The title and 9 paragraphs with every slot filled from `texts` (figure_id -> text)."""
    title, paragraphs = template()
    return title, ["".join(p if i % 2 == 0 else (texts.get(p) or missing_text(p)) for i, p in enumerate(para))
                   for para in paragraphs]
