"""Findings (one violation where the clerk sees it) and unusable input, in Chinese and English."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    source_row: int          # the Excel row, or the CSV line (first line = 1)
    column_header: str       # the header as written in the file
    value: str               # as written; ID numbers masked
    rule_id: str
    severity: str            # hard / soft
    message_zh: str
    message_en: str
    business_key: str = ""   # 户编号, 村代码, 安置点名称 or 帮扶类型 of the row; empty for one-row returns


class Unusable(Exception):
    """A file that cannot be read at all (empty, wrong format, too large, outside landing)."""

    def __init__(self, zh: str, en: str):
        super().__init__(f"{zh} / {en}")
        self.zh, self.en = zh, en


def mask_id(value: str | None) -> str:
    """6110**********123X: the address prefix and the last four characters only."""
    if not value:
        return ""
    v = str(value)
    return v[:4] + "*" * max(len(v) - 8, 0) + v[-4:] if len(v) > 8 else "*" * len(v)
