"""The landing folder, read-only: `<landing>/<period>/<county_code>/<file>`.

`scan_period` lists what is there for one period -- one `Entry` per submission (a CSV file or a
sheet), per unusable file, and per skipped file -- without ever writing, moving or deleting.
Only regular files under the landing root are opened: every path (period folder, county folder,
file) is resolved, and a link that leads out of landing, a FIFO, a device or a socket is refused
without being opened, as is a file we may not read; each is recorded as unusable.  A file whose
size and modification time are what the last scan recorded is not read again (`known`): its
entries are the recorded ones, as `git status` trusts an unchanged stat.  A file or sheet whose
name holds an ID number is unusable, recorded under its name masked: nothing takes the number out.

`changed_returns` answers, from the same stat alone, which returns a run must read again: those
whose files were added, changed or removed since the last scan.
"""
from __future__ import annotations

import hashlib
import os
import stat as stat_kind
from dataclasses import dataclass
from pathlib import Path

from schemas.catalogue import match_return
from schemas.core import AREAS
from schemas.messages import Unusable, holds_id, mask_ids
from schemas.read import NOT_REGULAR, is_system_file, parts_of

READ_SUFFIXES = (".csv", ".xlsx", ".xls")


@dataclass(frozen=True)
class Entry:
    period: str
    county_code: str
    kind: str                  # part / explanations / unusable / skipped
    source: str                # relative to the landing root
    sheet: str | None = None
    return_id: str | None = None
    file_sha256: str = ""
    size: int = 0
    mtime_ns: int = 0
    message_zh: str = ""
    message_en: str = ""


LINK_OUT = ("链接指向接收目录之外，拒绝读取", "a link that leads out of the landing folder: refused")
ID_IN_NAME = ("文件名或工作表名中含有身份证号：请改名后重新报送（身份证号只能出现在报表的单元格中）",
              "the file or sheet name holds an ID number: rename it and send it again (ID numbers belong in cells only)")


def recorded_name(rel: str) -> str:
    """A path as the ledger records it: masked where it holds an ID number (`holds_id`)."""
    return mask_ids(rel) if holds_id(rel) else rel


def refusal(root: Path, path: Path) -> tuple[str, str] | None:
    """Why `path` may not be opened (zh, en), or None for a regular file inside landing.  Decided
    from the resolved path and its status alone: nothing is opened."""
    if not inside(root, path):
        return LINK_OUT
    try:
        st = os.stat(path.resolve())
    except PermissionError:
        return "无权读取该文件", "no permission to read the file"
    except OSError as exc:
        return f"无法读取该文件：{exc.strerror}", f"the file cannot be read: {exc.strerror}"
    if not stat_kind.S_ISREG(st.st_mode):
        return NOT_REGULAR
    if not os.access(path.resolve(), os.R_OK):
        return "无权读取该文件", "no permission to read the file"
    return None


def file_sha256(path: Path) -> str:
    """The SHA-256 of a regular file's bytes; opened without blocking and checked again once open."""
    fd = os.open(path.resolve(), os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        if not stat_kind.S_ISREG(os.fstat(fd).st_mode):
            raise Unusable(*NOT_REGULAR)
        h = hashlib.sha256()
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _size(n: int) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 1024:.1f} KB"


def periods(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 4)


def inside(root: Path, path: Path) -> bool:
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False


def scan_file(root: Path, period: str, county: str, path: Path, max_bytes: int,
              known: dict[str, list[Entry]] | None = None) -> list[Entry]:
    rel = path.relative_to(root).as_posix()
    stem_ret = match_return(path.stem)
    base = dict(period=period, county_code=county, source=recorded_name(rel),
                return_id=stem_ret.return_id if stem_ret else None)
    if base["source"] != rel:       # the name itself would carry an ID number out of landing
        return [Entry(kind="unusable", message_zh=ID_IN_NAME[0], message_en=ID_IN_NAME[1], **base)]
    if is_system_file(path.name):
        return [Entry(kind="skipped", message_zh="系统或锁定文件，已跳过", message_en="system or lock file, skipped", **base)]
    if not inside(root, path):
        return [Entry(kind="unusable", message_zh=LINK_OUT[0], message_en=LINK_OUT[1], **base)]
    if path.suffix.lower() not in READ_SUFFIXES:
        return [Entry(kind="skipped", message_zh="不是CSV或Excel文件，已跳过", message_en="not a CSV or Excel file, skipped",
                      **base)]
    refused = refusal(root, path)
    if refused:
        return [Entry(kind="unusable", message_zh=refused[0], message_en=refused[1], **base)]
    stat = path.stat()
    if stat.st_size > max_bytes:
        return [Entry(kind="unusable", size=stat.st_size, mtime_ns=stat.st_mtime_ns,
                      message_zh=f"文件大小{_size(stat.st_size)}，超过上限{_size(max_bytes)}，拒绝读取",
                      message_en=f"the file is {_size(stat.st_size)}, over the limit of {_size(max_bytes)}: refused",
                      **base)]
    before = (known or {}).get(rel)
    if before and all(e.size == stat.st_size and e.mtime_ns == stat.st_mtime_ns and e.file_sha256 for e in before):
        return before
    meta = dict(size=stat.st_size, mtime_ns=stat.st_mtime_ns)
    try:
        meta["file_sha256"] = file_sha256(path)
        parts, notes = parts_of(path)
    except Unusable as exc:         # its message may list the sheets' names
        zh, en = (exc.zh, exc.en) if not holds_id(exc.zh + exc.en) else ID_IN_NAME
        return [Entry(kind="unusable", message_zh=zh, message_en=en, **meta, **base)]
    except OSError as exc:
        return [Entry(kind="unusable", message_zh=f"无法读取该文件：{exc.strerror}",
                      message_en=f"the file cannot be read: {exc.strerror}", **meta, **base)]
    if any(holds_id(text) for text in [*notes, *(p.sheet or "" for p in parts)]):
        return [Entry(kind="unusable", message_zh=ID_IN_NAME[0], message_en=ID_IN_NAME[1], **meta, **base)]
    out = [Entry(kind="skipped", message_zh=n.split(" / ")[0], message_en=n.split(" / ")[-1], **meta, **base) for n in notes]
    for part in parts:
        kind = "explanations" if part.ret is None else "part"
        if part.ret is None:      # a 说明 is read after the returns, where a failure would fail the run: tried here
            try:
                part.grid()
            except (Unusable, OSError) as exc:
                zh, en = (exc.zh, exc.en) if isinstance(exc, Unusable) else (f"无法读取该文件：{exc.strerror}",
                                                                            f"the file cannot be read: {exc.strerror}")
                out.append(Entry(period=period, county_code=county, kind="unusable", source=rel, sheet=part.sheet,
                                 message_zh=f"说明无法读取：{zh}", message_en=f"the explanations cannot be read: {en}",
                                 **meta))
                continue
        out.append(Entry(period=period, county_code=county, kind=kind, source=rel, sheet=part.sheet,
                         return_id=part.ret.return_id if part.ret else None, **meta))
    return out


def _county_folders(root: Path, period: str, county: str | None):
    """(folder, entry) per folder of the period: entry is None for a county folder to read, or the
    Entry that says why the folder is skipped or refused."""
    folder = root / period
    if not folder.is_dir():
        return
    if not inside(root, folder):        # a period folder that is a link out of landing
        yield folder, Entry(period, "", "unusable", period, message_zh=LINK_OUT[0], message_en=LINK_OUT[1])
        return
    for county_dir in sorted(folder.iterdir()):
        name = county_dir.name
        rel = county_dir.relative_to(root).as_posix()
        if (county and name != county) or is_system_file(name):
            continue
        if not county_dir.is_dir():     # a return put beside the county folders: said, not silently left
            yield county_dir, Entry(period, "", "skipped", recorded_name(rel), message_zh=OUTSIDE_COUNTY[0],
                                    message_en=OUTSIDE_COUNTY[1])
            continue
        if name not in AREAS:
            zh, en = unknown_county(name)
            yield county_dir, Entry(period, name, "skipped", rel, message_zh=zh, message_en=en)
        elif not inside(root, county_dir):
            yield county_dir, Entry(period, name, "unusable", rel, message_zh=LINK_OUT[0], message_en=LINK_OUT[1])
        else:
            yield county_dir, None


def unknown_county(name: str) -> tuple[str, str]:
    """A folder whose name is no county code: named as such, with the codes (Chinese, English)."""
    codes = "、".join(f"{c}（{n}）" for c, n in AREAS.items())
    return (f"目录“{name}”不是县区代码，已跳过：县区代码为{codes}",
            f"folder '{name}' is not a county code, skipped: the codes are {', '.join(AREAS)}")


OUTSIDE_COUNTY = ("文件不在县区目录中，未读取：报表应放在<期别>/<县区代码>/目录下",
                  "a file outside the county folders is not read: returns go under <period>/<county_code>/")
SUBFOLDER = ("子目录中的文件不读取：请把报表直接放在县区目录中",
             "files in a subfolder are not read: put the returns in the county folder itself")


def _files(county_dir: Path):
    return (path for path in sorted(county_dir.iterdir()) if not path.is_dir())


def _subfolder(root: Path, period: str, county: str, path: Path) -> list[Entry]:
    """A folder inside a county folder (a clerk's 2022年报表/) is not read, but said."""
    return [] if is_system_file(path.name) else [
        Entry(period, county, "skipped", recorded_name(path.relative_to(root).as_posix()),
              message_zh=SUBFOLDER[0], message_en=SUBFOLDER[1])]


def scan_period(root: Path, period: str, max_bytes: int, county: str | None = None,
                known: dict[str, list[Entry]] | None = None) -> list[Entry]:
    root = Path(root)
    out: list[Entry] = []
    for county_dir, refused in _county_folders(root, period, county):
        if refused:
            out.append(refused)
            continue
        listed = [(path, path.is_dir()) for path in sorted(county_dir.iterdir())]     # listed once
        for path, _ in [item for item in listed if not item[1]]:
            out.extend(scan_file(root, period, county_dir.name, path, max_bytes, known))
        for path, _ in [item for item in listed if item[1]]:
            out.extend(_subfolder(root, period, county_dir.name, path))
    return out


def returns_in(path: Path) -> set[str]:
    """The returns a file holds, by its name and, for a workbook, its sheet names (no data is read)."""
    stem = match_return(path.stem)
    found = {stem.return_id} if stem else set()
    if is_system_file(path.name) or path.suffix.lower() not in READ_SUFFIXES:
        return set()
    try:
        parts, _ = parts_of(path)
    except (Unusable, OSError):
        return found
    return found | {p.ret.return_id for p in parts if p.ret is not None}


def returns_named(name: str) -> set[str] | None:
    """The returns a file of this name can hold, judged by the name alone: a CSV file the return its
    stem names (none for 说明.csv); a workbook any of them (None), whatever sheets it had or has."""
    path = Path(name)
    if is_system_file(path.name) or path.suffix.lower() not in READ_SUFFIXES:
        return set()
    if path.suffix.lower() != ".csv":
        return None
    ret = match_return(path.stem)
    return {ret.return_id} if ret else set()


def changed_returns(root: Path, period: str, known: dict[str, list[Entry]], county: str | None = None) -> set[str]:
    """The returns whose files were added, changed or removed since the scan that gave `known`
    (the last scan's entries by file), judged by size and modification time as `scan_file` does.
    Only what is in scope (`county`) counts."""
    root = Path(root)
    out: set[str] = set()
    seen: set[str] = set()
    for county_dir, refused in _county_folders(root, period, county):
        for path in ([] if refused else _files(county_dir)):
            raw = path.relative_to(root).as_posix()
            rel = recorded_name(raw)       # as the scan records it
            seen.add(rel)
            before = known.get(rel)
            if is_system_file(path.name) or path.suffix.lower() not in READ_SUFFIXES:
                continue
            if rel != raw or refusal(root, path):      # never opened: it holds the return its name says, if any
                if not (before and all(e.kind == "unusable" for e in before)):
                    stem = match_return(path.stem)
                    out |= {stem.return_id} if stem else set()
                    out |= {e.return_id for e in before or () if e.return_id}
                continue
            stat = path.stat()
            if before and all(e.size == stat.st_size and e.mtime_ns == stat.st_mtime_ns and e.file_sha256
                              for e in before):
                continue
            out |= returns_in(path) | {e.return_id for e in before or () if e.return_id}
    for rel, before in known.items():     # removed files withdraw what they held
        if rel not in seen and (not county or rel.split("/")[1:2] == [county]):
            out |= {e.return_id for e in before if e.return_id}
    return out
