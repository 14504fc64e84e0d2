"""Files in and out: an upload is checked in a folder of its own, `<landing>/.portal/uploads/<id>/`
(inside the landing root, where ID numbers in clear may be, but in a folder the pipeline never
scans), by the same code as `shangluo validate`, and deleted once submitted or a day old; a
submission is put into `<landing>/<period>/<county>/` atomically (written aside in the same folder,
then renamed), the file it replaces copied to `<landing>/.portal/archive/<period>/<county>/`.
The server names every file it writes: a client's file name is only matched against the return
names, never used as a path."""
from __future__ import annotations

import csv
import io
import os
import secrets
import shutil
import threading
import time
from pathlib import Path

from schemas.catalogue import RETURNS, match_return
from schemas.read import decode_text, is_system_file, parts_of
from schemas.messages import Unusable
from shangluo.config import Settings

from . import store

SUFFIXES = (".csv", ".xlsx", ".xls")
MAGIC = {".xlsx": b"PK\x03\x04", ".xls": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"}
EXPLANATIONS_FILE = "说明.csv"
EXPLANATION_HEADER = ["表号", "规则编号", "业务键", "说明"]
UPLOAD_TTL_SECONDS = 24 * 3600
LANDING_LOCK = threading.Lock()       # one writer into landing at a time (the portal is one process)


def max_upload_bytes() -> int:
    return int(float(os.environ.get("SHANGLUO_PORTAL_MAX_UPLOAD_MB", "50")) * 2**20)


def feedback(rows: list[dict], path: Path, period: str | None = None, county: str | None = None) -> Path:
    """The 审核反馈表 workbook, as `shangluo validate --xlsx` writes it (publish/feedback.py: text from
    returns stored as text, never as a formula)."""
    from publish.feedback import write_feedback
    return write_feedback(rows, path, period, county)


class Refused(Exception):
    """An upload refused before it is checked: bilingual message."""


def suffix_of(filename: str) -> str:
    suffix = Path(filename.replace("\\", "/")).suffix.lower()
    if suffix not in SUFFIXES:
        raise Refused("只接受CSV或Excel文件（.csv .xlsx .xls） / only CSV or Excel files (.csv .xlsx .xls) are accepted")
    return suffix


def check_type(suffix: str, head: bytes):
    magic = MAGIC.get(suffix)
    if magic is not None and not head.startswith(magic):
        raise Refused(f"文件内容不是{suffix}格式 / the file is not what its extension {suffix} says")
    if suffix == ".csv" and (b"\x00" in head[:4096] or any(head.startswith(m) for m in MAGIC.values())):
        raise Refused("文件内容不是CSV文本 / the file is not CSV text")


def max_unpacked_bytes() -> int:
    return int(float(os.environ.get("SHANGLUO_PORTAL_MAX_UNPACKED_MB", "1024")) * 2**20)


def check_unpacked(path: Path):
    """A workbook is a zip: its unpacked size is bounded as well as its size on disk."""
    import zipfile
    if path.suffix.lower() == ".xlsx" and zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            if sum(i.file_size for i in z.infolist()) > max_unpacked_bytes():
                raise Refused(f"工作簿解压后超过{max_unpacked_bytes() // 2**20} MB / the workbook unpacks to more "
                              f"than {max_unpacked_bytes() // 2**20} MB")


def stored_name(filename: str, suffix: str, chosen: str | None) -> str:
    """The server's name for an upload: `<return_id>.<ext>`, or `workbook.<ext>` for a county workbook."""
    if chosen:
        return f"{RETURNS[chosen].return_id}{suffix}"
    stem = Path(filename.replace("\\", "/")).stem
    ret = match_return(stem)
    if ret is not None:
        return f"{ret.return_id}{suffix}"
    if suffix == ".csv":
        raise Refused("无法从文件名识别报表，请在“报表”中选择 / the file name matches no return: choose the return")
    return f"workbook{suffix}"


def expire_uploads(now: float | None = None) -> list[str]:
    """Delete what is older than a day in `<landing>/.portal/uploads` (uploads in progress) and
    `.../tmp` (the portal's temporary files): at start and with every new upload."""
    cutoff = (time.time() if now is None else now) - UPLOAD_TTL_SECONDS
    gone = []
    for kind in ("uploads", "tmp"):
        root = Settings.from_env().landing / store.FILES_FOLDER / kind
        for old in root.iterdir() if root.is_dir() else ():
            if old.stat(follow_symlinks=False).st_mtime < cutoff:
                shutil.rmtree(old) if old.is_dir() and not old.is_symlink() else old.unlink()
                gone.append(f"{kind}/{old.name}")
    return gone


def contain_temporary_files() -> Path:
    """The portal process's temporary files -- an upload over 1 MB while it is received, DuckDB's
    spill while it is checked, a download being made -- go to `<landing>/.portal/tmp/`: they may
    hold ID numbers in clear.  For the serving process only (`shangluo portal`)."""
    import tempfile
    tempfile.tempdir = str(store.files_dir("tmp"))
    return Path(tempfile.tempdir)


def new_upload_dir() -> tuple[str, Path]:
    expire_uploads()
    upload_id = secrets.token_urlsafe(18)
    path = store.files_dir("uploads") / upload_id
    path.mkdir()
    return upload_id, path


def upload_path(upload_id: str, name: str) -> Path:
    return store.files_dir("uploads") / upload_id / name


def returns_in(path: Path) -> tuple[list[str], list[str]]:
    try:
        parts, notes = parts_of(path)
    except Unusable:
        return [], []
    return [p.ret.return_id for p in parts if p.ret is not None], notes


def county_dir(period: str, county: str) -> Path:
    return Settings.from_env().landing / period / county


def _archive(path: Path, period: str, county: str) -> Path:
    folder = store.files_dir("archive") / period / county
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{time.strftime('%Y%m%dT%H%M%S')}-{secrets.token_hex(3)}-{path.name}"
    shutil.copy2(path, target)
    return target


def _write_aside(folder: Path, data_from: Path | bytes) -> Path:
    tmp = folder / f".portal-{secrets.token_hex(8)}.tmp"      # a dot file: the landing scan skips it
    if isinstance(data_from, bytes):
        tmp.write_bytes(data_from)
    else:
        shutil.copyfile(data_from, tmp)
    with tmp.open("rb") as fh:
        os.fsync(fh.fileno())
    return tmp


def put_into_landing(period: str, county: str, upload_file: Path, returns: list[str]) -> dict:
    """Put a checked upload into landing.  Files there holding only the same returns are replaced
    (kept in the archive); a file there holding other returns as well is not touched, and the
    submission is refused, since both would be in landing at once."""
    folder = county_dir(period, county)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = upload_file.suffix.lower()
    new = set(returns)
    replaced, blocking = [], []
    for f in sorted(folder.iterdir()):
        if not f.is_file() or f.is_symlink() or is_system_file(f.name) or f.suffix.lower() not in SUFFIXES:
            continue
        held = set(returns_in(f)[0])
        if held & new:
            (replaced if held <= new else blocking).append(f)
    if blocking:
        raise Refused("以下文件还含有其他报表，请上传完整的工作簿 / these files in landing hold other returns as well: "
                      "upload the whole workbook: " + "、".join(f.name for f in blocking))
    same = [f for f in replaced if f.suffix.lower() == suffix]
    target = same[0] if len(replaced) == 1 and same else folder / upload_file.name
    archived = [_archive(f, period, county) for f in replaced]
    if target.exists() and not target.is_symlink() and target not in replaced:
        archived.append(_archive(target, period, county))
    tmp = _write_aside(folder, upload_file)
    os.replace(tmp, target)                          # atomic: the sensor sees the old file or the new one
    for f in replaced:
        if f != target:
            f.unlink()
    return {"target": target, "source": f"{period}/{county}/{target.name}", "archived": archived}


def read_explanations(folder: Path) -> list[list[str]]:
    path = folder / EXPLANATIONS_FILE
    if not path.is_file():
        return []
    rows = list(csv.reader(io.StringIO(decode_text(path.read_bytes()))))
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    idx = [header.index(h) if h in header else None for h in EXPLANATION_HEADER]
    return [[(r[i] if i is not None and i < len(r) else "").strip() for i in idx] for r in rows[1:] if any(r)]


def put_explanations(period: str, county: str, answers: list[tuple[str, str, str, str]]) -> dict | None:
    """Merge (表号, 规则编号, 业务键, 说明) into the county's 说明.csv, written aside and renamed."""
    answers = [a for a in answers if a[3].strip()]
    if not answers:
        return None
    folder = county_dir(period, county)
    folder.mkdir(parents=True, exist_ok=True)

    def key(row):
        ret = match_return(row[0])
        return (ret.return_id if ret else row[0], row[1], row[2])

    fresh = {key(a): [a[0], a[1], a[2], " ".join(a[3].split())] for a in answers}
    rows = [r for r in read_explanations(folder) if key(r) not in fresh] + list(fresh.values())
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(EXPLANATION_HEADER)
    w.writerows(rows)
    target = folder / EXPLANATIONS_FILE
    archived = _archive(target, period, county) if target.is_file() and not target.is_symlink() else None
    os.replace(_write_aside(folder, ("\ufeff" + out.getvalue()).encode("utf-8")), target)
    return {"target": target, "source": f"{period}/{county}/{EXPLANATIONS_FILE}", "archived": archived}
