"""DuckDB access: one writer, explicit transactions, the warehouse DDL derived from declarations.

Every table and column carries a `COMMENT ON` with its Chinese label and unit: the warehouse is
its own data dictionary.  Nothing here runs at import time.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from contextlib import contextmanager
from pathlib import Path

import duckdb

from schemas import engine
from schemas.catalogue import RETURNS
from schemas.core import AREAS, CITY_CODE, COUNTIES

from .figures import SECTION_LABELS, VALUE_SCALE, section_figures

SQL_DIR = Path(__file__).with_name("sql")


class WarehouseBusy(Exception):
    """Another process holds the warehouse for writing."""


class WarehouseUnusable(Exception):
    """The warehouse file cannot be opened: corrupt, unreadable, or in a folder we cannot write."""


def unusable(path: Path, exc: BaseException) -> WarehouseUnusable:
    text = str(exc)
    if "not a valid DuckDB database" in text or "Could not read enough bytes" in text or "Corrupt" in text:
        zh, en = "数据仓库文件已损坏", "the warehouse file is corrupt"
    elif "Permission denied" in text or isinstance(exc, PermissionError):
        zh, en = "无权读写数据仓库文件或其所在目录", "no permission to read or write the warehouse file or its folder"
    else:
        zh, en = "无法打开数据仓库", "the warehouse cannot be opened"
    return WarehouseUnusable(f"{zh}：{path} / {en}: {path} ({text.splitlines()[0] if text else type(exc).__name__})")


def connect(path: str | Path, read_only: bool = False, wait_seconds: float = 0.0,
            config: dict | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse; a writer waits up to `wait_seconds` for another writer to finish.
    Raises WarehouseBusy, or WarehouseUnusable (corrupt, unreadable, no permission)."""
    path = Path(path)
    try:
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(path, exc) from exc
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return engine.connect(str(path), read_only=read_only, config=config)
        except (duckdb.IOException, duckdb.PermissionException, PermissionError) as exc:
            if "lock" not in str(exc).lower():
                raise unusable(path, exc) from exc
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"数据仓库正被另一个进程写入，等待{wait_seconds:g}秒后放弃 / the warehouse {path} is being written by "
                    f"another process; gave up after waiting {wait_seconds:g} s") from exc
            time.sleep(0.25)


KEY_LABEL = b"shangluo pseudonym key fingerprint v1"


def key_fingerprint(key: bytes) -> str:
    """An HMAC of a fixed label under the pseudonym key: tells keys apart, never reveals one."""
    return hmac.new(key, KEY_LABEL, hashlib.sha256).hexdigest()[:32]


def recorded_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    rows = con.execute("select fingerprint from ref.pseudonym_key order by set_at desc limit 1").fetchall()
    return rows[0][0] if rows else None


def record_fingerprint(con: duckdb.DuckDBPyConnection, fingerprint: str, when):
    con.execute("delete from ref.pseudonym_key")
    con.execute("insert into ref.pseudonym_key values (?, ?)", [fingerprint, when])


def recorded_stamps(con: duckdb.DuckDBPyConnection, periods: list[str]) -> dict[str, str]:
    return dict(con.execute("select period, stamp from ref.build_stamps where period in (select unnest(?))",
                            [periods]).fetchall())


def forget_stamps(con: duckdb.DuckDBPyConnection, periods: list[str] | None = None, since: str | None = None):
    """These periods' stamps, or those of `since` and every later period (neither: all), are no
    longer what they were built from."""
    if since is not None:
        con.execute("delete from ref.build_stamps where period >= ?", [since])   # years: as text, in order
        return
    con.execute("delete from ref.build_stamps where ? is null or period in (select unnest(?::varchar[]))",
                [periods, periods])


def record_stamps(con: duckdb.DuckDBPyConnection, stamps: dict[str, str], when):
    con.execute("delete from ref.build_stamps where period in (select unnest(?))", [list(stamps)])
    if stamps:
        insert_values(con, "ref.build_stamps", _types("ref.build_stamps"), [[p, s, when] for p, s in stamps.items()])


def insert_from(con: duckdb.DuckDBPyConnection, table: str, relation: str, constants: dict | None = None):
    """Insert the rows of `relation` into `table` by column name, with constant columns added in SQL."""
    extra = "".join(f", ${name} as {name}" for name in constants or {})
    con.execute(f"insert into {table} by name select *{extra} from {relation}", constants or None)


@contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, rows):
    """The Arrow table `rows` as the relation `name` of `con`, for the statements of this block."""
    con.register(name, rows)
    try:
        yield name
    finally:
        con.unregister(name)


def insert_arrow(con: duckdb.DuckDBPyConnection, table: str, rows, constants: dict | None = None):
    """Insert an Arrow table into `table` by column name, with constant columns added in SQL."""
    with registered(con, "__new_rows", rows):
        insert_from(con, table, "__new_rows", constants)


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    con.execute("begin transaction")
    try:
        yield con
    except BaseException:
        con.execute("rollback")
        raise
    con.execute("commit")


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ------------------------------------------------------------------ DDL

SYSTEM_COLUMNS = {
    "period": ("VARCHAR", "报告期（年） / reporting period"),
    "county_code": ("VARCHAR", "县区代码（GB/T 2260），来自报送目录 / county code, from the landing folder"),
    "submission_id": ("VARCHAR", "报送版本编号 / submission (version) id, see landing.submissions"),
    "source_row": ("INTEGER", "源文件中的行号（Excel行号或CSV行号） / row in the source file (Excel row or CSV line)"),
}

LEDGER = {
    "landing.submissions": ("报送版本台账：每个收到的版本一行 / one row per version received", {
        "submission_id": ("VARCHAR", "报送版本编号 / submission id"),
        "period": ("VARCHAR", "报告期 / period"),
        "county_code": ("VARCHAR", "县区代码 / county code"),
        "return_id": ("VARCHAR", "报表编号 / return id"),
        "source": ("VARCHAR", "文件（相对于接收目录） / file, relative to landing"),
        "sheet": ("VARCHAR", "工作表名（CSV为空） / sheet name (NULL for CSV)"),
        "content_sha256": ("VARCHAR", "规范化内容的SHA-256 / SHA-256 of the normalised content"),
        "rules_version": ("VARCHAR", "审核规则版本 / version of the rules that checked it"),
        "rows": ("BIGINT", "数据行数 / data rows"),
        "first_seen_at": ("TIMESTAMP", "首次收到时间 / first seen at"),
        "status": ("VARCHAR", "状态：accepted 已采用 / rejected 已退回 / superseded 已替代 / withdrawn 已撤回"),
        "hard_count": ("INTEGER", "强制性错误数 / hard violations of the return's own rules"),
        "soft_count": ("INTEGER", "核实性警告数 / soft warnings of the return's own rules"),
        "file_sha256": ("VARCHAR", "文件字节的SHA-256 / SHA-256 of the file's bytes"),
        "notes": ("VARCHAR", "读取说明（跳过的行和列） / reading notes (skipped rows and columns)"),
        "layout": ("JSON", "各字段在文件中的列名和行号 / per field: the header as written and, in the vertical form, its row"),
    }),
    "landing.files": ("已读取文件缓存：未变化的文件不再解析 / files already read: unchanged files are not parsed again", {
        "source": ("VARCHAR", "文件（相对于接收目录） / file, relative to landing"),
        "sheet": ("VARCHAR", "工作表名 / sheet"),
        "file_sha256": ("VARCHAR", "文件字节的SHA-256 / SHA-256 of the file's bytes"),
        "rules_version": ("VARCHAR", "审核规则版本 / rules version"),
        "submission_id": ("VARCHAR", "对应的报送版本 / the version it holds"),
        "seen_at": ("TIMESTAMP", "读取时间 / read at"),
    }),
    "landing.inventory": ("接收目录当前内容：每个报表文件或工作表一行 / what landing holds now, one row per file or sheet", {
        "period": ("VARCHAR", "报告期 / period"),
        "county_code": ("VARCHAR", "县区代码（目录名） / county code (folder name)"),
        "kind": ("VARCHAR", "part 报表 / explanations 说明 / unusable 无法读取 / skipped 已跳过"),
        "source": ("VARCHAR", "文件（相对于接收目录） / file, relative to landing"),
        "sheet": ("VARCHAR", "工作表名 / sheet"),
        "return_id": ("VARCHAR", "报表编号 / return id"),
        "file_sha256": ("VARCHAR", "文件字节的SHA-256 / SHA-256 of the file's bytes"),
        "size": ("BIGINT", "文件大小（字节） / size in bytes"),
        "mtime_ns": ("BIGINT", "修改时间（纳秒） / modification time, ns"),
        "message_zh": ("VARCHAR", "说明（中文） / note in Chinese"),
        "message_en": ("VARCHAR", "说明（英文） / note in English"),
    }),
    "landing.status": ("报送状态：期别×县区×报表 / submission status, period × county × return", {
        "period": ("VARCHAR", "报告期 / period"),
        "county_code": ("VARCHAR", "县区代码 / county code"),
        "return_id": ("VARCHAR", "报表编号 / return id"),
        "state": ("VARCHAR", "accepted 有采用版本 / rejected 已报送但无采用版本 / missing 未报送"),
        "submission_id": ("VARCHAR", "采用中的版本 / submission in force"),
        "first_seen_at": ("TIMESTAMP", "采用版本首次收到时间 / first seen at (version in force)"),
        "late": ("BOOLEAN", "晚于截止日期报送 / first seen after the deadline"),
        "newer_rejected": ("BOOLEAN", "最新版本被退回，旧版本仍在采用 / the newest version was rejected, an older one stays in force"),
    }),
    "quality.violations": ("审核发现：每条违反一行 / one row per violation", {
        "period": ("VARCHAR", "报告期 / period"),
        "county_code": ("VARCHAR", "县区代码 / county code"),
        "return_id": ("VARCHAR", "报表编号 / return id"),
        "submission_id": ("VARCHAR", "报送版本 / submission id"),
        "source": ("VARCHAR", "文件（相对于接收目录） / file, relative to landing"),
        "sheet": ("VARCHAR", "工作表名 / sheet"),
        "source_row": ("INTEGER", "行号（Excel行号或CSV行号） / row as the clerk sees it"),
        "column_header": ("VARCHAR", "文件中的列名 / column header as written"),
        "value": ("VARCHAR", "填报值（身份证号已脱敏） / value as written (ID numbers masked)"),
        "rule_id": ("VARCHAR", "规则编号 / rule id"),
        "severity": ("VARCHAR", "hard 强制性 / soft 核实性"),
        "message_zh": ("VARCHAR", "说明（中文） / message in Chinese"),
        "message_en": ("VARCHAR", "说明（英文） / message in English"),
        "status": ("VARCHAR", "open 待处理 / explained 已说明 / closed 版本已替代或撤回 (the version was superseded or withdrawn)"),
        "explanation": ("VARCHAR", "县区说明 / the county's explanation"),
        "business_key": ("VARCHAR", "业务键：户编号、村代码、安置点名称或帮扶类型 / business key of the row, for explanations"),
    }),
    "report.vintages": ("已发布版本 / published vintages (inserted by `shangluo publish`, never updated)", {
        "vintage_id": ("VARCHAR", "版本编号 / vintage id"),
        "period": ("VARCHAR", "报告期 / period"),
        "published_at": ("TIMESTAMP", "发布时间 / published at"),
        "note": ("VARCHAR", "说明 / note"),
    }),
    "report.vintage_figures": ("已发布版本的数字（不再改变） / the figures of each vintage, never rewritten", {
        "vintage_id": ("VARCHAR", "版本编号 / vintage id"),
        "period": ("VARCHAR", "报告期 / period"),
        "area_code": ("VARCHAR", "地区代码 / area code"),
        "figure_id": ("VARCHAR", "指标编号 / figure id"),
        "value": (f"DECIMAL(18,{VALUE_SCALE})", "发布的值 / value as published"),
        "text": ("VARCHAR", "发布的文字 / text as published"),
        "complete": ("BOOLEAN", "发布时是否完整 / complete when published"),
    }),
    "report.vintage_submissions": ("发布时采用的报表版本 / the versions in force when a vintage was published", {
        "vintage_id": ("VARCHAR", "版本编号 / vintage id"),
        "submission_id": ("VARCHAR", "报送版本 / submission id"),
        "county_code": ("VARCHAR", "县区代码 / county code"),
        "return_id": ("VARCHAR", "报表编号 / return id"),
        "content_sha256": ("VARCHAR", "内容哈希 / content hash"),
    }),
    "ref.pseudonym_key": ("假名密钥指纹（密钥本身从不存储） / fingerprint of the pseudonym key (never the key)", {
        "fingerprint": ("VARCHAR", "HMAC-SHA256(密钥, 固定标签) / HMAC-SHA256 of a fixed label under SHANGLUO_PII_KEY"),
        "set_at": ("TIMESTAMP", "记录时间 / recorded at"),
    }),
    "ref.build_stamps": ("每个报告期最近一次完整运行的依据 / per period, what the last run that took every file "
                         "was built from", {
        "period": ("VARCHAR", "报告期 / period"),
        "stamp": ("VARCHAR", "接收目录文件（大小、修改时间）、程序、规则和设置的摘要 / digest of the landing files (sizes, "
                             "modification times), code, rules and settings"),
        "built_at": ("TIMESTAMP", "运行开始时间 / when that run started"),
    }),
    "ref.areas": ("地区 / areas: the city and its 7 counties", {
        "area_code": ("VARCHAR", "地区代码 / area code (611000 is the city)"),
        "area_name": ("VARCHAR", "地区名称 / area name"),
    }),
    "ref.area_members": ("地区包含的报送单位 / which reporting units add to each area", {
        "area_code": ("VARCHAR", "地区代码 / area code"),
        "county_code": ("VARCHAR", "报送单位（县区或市本级） / reporting unit (county or 市本级)"),
    }),
    "report.figures": ("公开发布的数字：期别×地区×指标 / the published figures, period × area × figure", {
        "period": ("VARCHAR", "报告期 / period"),
        "area_code": ("VARCHAR", "地区代码 / area code"),
        "figure_id": ("VARCHAR", "指标编号 / figure id"),
        "section": ("VARCHAR", "报告部分 / report section"),
        "label_zh": ("VARCHAR", "指标名称 / label"),
        "value": (f"DECIMAL(18,{VALUE_SCALE})", "按发布口径修约后的值 / value, rounded as published, in the published unit"),
        "unit": ("VARCHAR", "单位 / unit"),
        "text": ("VARCHAR", "发布文字 / the text as printed"),
        "complete": ("BOOLEAN", "所需报表均已采用 / every county has every return the figure reads in force"),
        "reason": ("VARCHAR", "不完整的原因（缺少的县区和报表） / why not complete: missing counties and returns"),
    }),
}


def staging_columns(ret) -> dict[str, tuple[str, str]]:
    cols = dict(SYSTEM_COLUMNS)
    for f in ret.stored_fields:
        comment = f.label + (f"（{f.unit}）" if f.unit and f.unit not in f.label else "")
        if f.kind == "id_number":
            comment += "：HMAC-SHA256假名，不存明文 / HMAC-SHA256 pseudonym, never the clear ID number"
        elif f.note:
            comment += f"；{f.note}"
        cols[f.stored_name] = (f.sql_type, f"{comment} / {f.name}")
    return cols


def section_columns(section: str) -> dict[str, tuple[str, str]]:
    cols = {"period": ("VARCHAR", "报告期 / period"), "area_code": ("VARCHAR", "地区代码 / area code"),
            "area_name": ("VARCHAR", "地区名称 / area name")}
    for f in section_figures(section):
        cols[f.figure_id] = (None, f"{f.label_zh}（{f.unit}，未修约） / {f.figure_id}, unrounded, in {f.unit}")
        cols[f"{f.figure_id}_previous"] = (None, f"{f.label_zh}上期值（{f.unit}） / {f.figure_id} of period P-1")
        cols[f"{f.figure_id}_change"] = (None, f"{f.label_zh}比上期增减（{f.unit}） / {f.figure_id}: change against P-1")
    cols["complete"] = ("BOOLEAN", "本部分所有指标完整 / every figure of the section is complete")
    cols["inputs_digest"] = ("VARCHAR", "计算来源指纹：所读报表的采用版本、上期本表和计算程序；未变则不重算 / digest of "
                                        "what the row was built from (versions in force read, P-1's rows, the code): "
                                        "unchanged, the section is not built again")
    return cols


def create_table(con, table: str, comment: str, columns: dict[str, tuple[str, str]], present: dict | None = None):
    """Create `table` if missing, add missing columns, (re)write every comment that differs (a
    statement per column costs more than the rest of a small run's step).  `present`: what
    `_present` says of the warehouse, asked once for many tables."""
    have_comment, have = (present if present is not None else _present(con, table)).get(table, (None, None))
    statements = []
    if have is None:                      # a new table: every column in its create statement
        statements.append(f"create table if not exists {table} (" +
                          ", ".join(f'"{c}" {t}' for c, (t, _) in columns.items()) + ")")
        have = dict.fromkeys(columns)
    for c, (t, text) in columns.items():
        if c not in have:                 # a warehouse built by an older version gains new columns
            statements.append(f'alter table {table} add column if not exists "{c}" {t}')
        if have.get(c) != text:
            statements.append(f'comment on column {table}."{c}" is {_q(text)}')
    if have_comment != comment:
        statements.append(f"comment on table {table} is {_q(comment)}")
    if statements:                        # one call: a section table has some 100 columns
        con.execute(";\n".join(statements))


def _present(con, table: str | None = None) -> dict[str, tuple[str | None, dict[str, str | None]]]:
    """schema.table -> (its comment, column -> comment) of the warehouse's tables (or of `table` alone)."""
    where = "database_name = current_database() and (? is null or schema_name || '.' || table_name = ?)"
    out = {f"{s}.{t}": (c, {}) for s, t, c in con.execute(
        f"select schema_name, table_name, comment from duckdb_tables() where {where}", [table, table]).fetchall()}
    for s, t, col, c in con.execute("select schema_name, table_name, column_name, comment from duckdb_columns() "
                                    f"where {where}", [table, table]).fetchall():
        if f"{s}.{t}" in out:
            out[f"{s}.{t}"][1][col] = c
    return out


def ensure_schema(con: duckdb.DuckDBPyConnection):
    """Create what is missing and (re)write every comment. Idempotent; run inside the run's transaction."""
    for schema in ("landing", "staging", "quality", "report", "ref"):
        con.execute(f"create schema if not exists {schema}")
    con.execute((SQL_DIR / "macros.sql").read_text(encoding="utf-8"))
    present = _present(con)
    for table, (comment, columns) in LEDGER.items():
        create_table(con, table, comment, columns, present)
    for ret in RETURNS.values():
        create_table(con, f"staging.{ret.return_id}",
                f"{ret.table_label} {ret.title}：采用中的版本的数据行 / {ret.return_id}: rows of the versions in force",
                staging_columns(ret), present)
    con.execute("delete from ref.areas")
    insert_values(con, "ref.areas", _types("ref.areas"), [list(a) for a in AREAS.items()])
    con.execute("delete from ref.area_members")
    members = [(c, c) for c in COUNTIES] + [(CITY_CODE, c) for c in (*COUNTIES, CITY_CODE)]
    insert_values(con, "ref.area_members", _types("ref.area_members"), [list(m) for m in members])


def section_sql(section: str) -> str:
    return (SQL_DIR / "sections" / f"{section}.sql").read_text(encoding="utf-8")


def ensure_section_table(con, section: str, types: dict[str, str]) -> dict[str, str]:
    """The section table, its figure columns typed as its SQL's result (`types`: column -> type);
    returns its columns' types."""
    base = lambda c: c.removesuffix("_previous").removesuffix("_change")  # noqa: E731
    columns = {c: (t or types[base(c)], text) for c, (t, text) in section_columns(section).items()}
    create_table(con, f"report.{section}", f"{SECTION_LABELS[section]}：期别×地区 / section {section}, period × area",
            columns)
    return {c: t for c, (t, _) in columns.items()}


def _types(table: str) -> dict[str, str]:
    """column -> type of a ledger or reference table, as declared in LEDGER."""
    return {c: t for c, (t, _) in LEDGER[table][1].items()}


def insert_values(con: duckdb.DuckDBPyConnection, table: str, types: dict[str, str], rows: list[list]):
    """Rows of Python values (in the order of `types`: column -> type) into `table` in one statement,
    each value cast to its column's type as an insert casts it (`executemany` costs a statement a row)."""
    if not rows:
        return
    row = "(" + ", ".join(f"cast(? as {t})" for t in types.values()) + ")"
    names = ", ".join(f'"{c}"' for c in types)
    con.execute(f"insert into {table} ({names}) values " + ", ".join([row] * len(rows)), [v for r in rows for v in r])
