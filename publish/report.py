"""The report of one period, regenerated from the warehouse: `report-P.md`, `report-P.html`
(one self-contained file: provenance links, a chart per section, data quality at the top) and
`tables-P.xlsx` (a sheet per section, city and counties, Chinese and English headers)."""
from __future__ import annotations

import html
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from schemas.catalogue import RETURNS
from schemas.core import AREAS, CITY_CODE, COUNTIES
from warehouse.figures import SECTION_LABELS, SECTIONS, Figure, figures, section_figures

from .article import PUBLISHED_PERIOD, render
from .vintage import latest_vintage


@dataclass
class Report:
    period: str
    generated_at: datetime
    title: str
    paragraphs: list[str]
    city: dict[str, tuple]                      # figure_id -> (value, text, complete, reason)
    by_area: dict[tuple[str, str], tuple]       # (area, figure_id) -> (value, text)
    reconciliation: list[tuple] = field(default_factory=list)   # figure, computed, published, equal
    revisions: list[tuple] = field(default_factory=list)        # figure, vintage text, now
    vintage: tuple | None = None
    quality: dict = field(default_factory=dict)
    not_in_force: list[tuple] = field(default_factory=list)
    in_force: list[tuple] = field(default_factory=list)
    open_warnings: list[tuple] = field(default_factory=list)    # county, return, rule, count, a message         # period, county, return, source, sheet, sha, first seen
    sections: dict[str, tuple[list[str], list[tuple]]] = field(default_factory=dict)

    @property
    def incomplete(self) -> list[Figure]:
        return [f for f in figures() if not self.city[f.figure_id][2]]

    @property
    def reconciled(self) -> int:
        return sum(1 for r in self.reconciliation if r[3])


def build(con: duckdb.DuckDBPyConnection, period: str) -> Report:
    rows = con.execute("select area_code, figure_id, value, text, complete, reason from report.figures "
                       "where period = ?", [period]).fetchall()
    if not rows:
        raise LookupError(f"报告期{period}没有数字：请先运行 shangluo run / no figures for period {period}: run `shangluo run`")
    city = {f: (v, t, c, r) for a, f, v, t, c, r in rows if a == CITY_CODE}
    title, paragraphs = render({f: v[1] for f, v in city.items()})
    rep = Report(period, datetime.now().replace(microsecond=0), title, paragraphs, city,
                 {(a, f): (v, t) for a, f, v, t, _, _ in rows})
    if period == PUBLISHED_PERIOD:
        rep.reconciliation = [(fig, city[fig.figure_id][1], fig.published_text,
                               city[fig.figure_id][1] == fig.published_text) for fig in figures()]
    vintage = latest_vintage(con, period)
    if vintage:
        rep.vintage = vintage[:2]
        then = dict(con.execute("select figure_id, text from report.vintage_figures where vintage_id = ? "
                                "and area_code = ?", [vintage[0], CITY_CODE]).fetchall())
        rep.revisions = [(fig, then.get(fig.figure_id), city[fig.figure_id][1]) for fig in figures()
                         if then.get(fig.figure_id) != city[fig.figure_id][1]]
    states = con.execute("select county_code, return_id, state, late from landing.status where period = ? "
                         "order by county_code, return_id", [period]).fetchall()
    rep.not_in_force = [(c, r, s) for c, r, s, _ in states if s != "accepted" and c in COUNTIES]
    rep.quality = {
        "missing": sum(1 for c, _, s, _ in states if s == "missing" and c in COUNTIES),
        "rejected": sum(1 for _, _, s, _ in states if s == "rejected"),
        "late": sum(1 for *_, late in states if late),
        "open_soft": con.execute("select count(*) from quality.violations v join landing.submissions s "
                                 "using (submission_id) where v.period = ? and v.severity = 'soft' and "
                                 "v.status = 'open' and s.status = 'accepted'", [period]).fetchall()[0][0],
    }
    rep.open_warnings = con.execute(
        "select v.county_code, v.return_id, v.rule_id, count(*), min(v.message_zh) from quality.violations v "
        "join landing.submissions s using (submission_id) where v.period = ? and v.severity = 'soft' and "
        "v.status = 'open' and s.status = 'accepted' group by all order by all", [period]).fetchall()
    in_force = con.execute("select period, county_code, return_id, source, sheet, content_sha256, first_seen_at "
                           "from landing.submissions where status = 'accepted' and period in (?, ?) "
                           "order by county_code", [period, str(int(period) - 1)]).fetchall()
    rep.in_force = in_force
    for section in SECTIONS:
        rel = con.sql(f"select * from report.{section} where period = ? order by area_code = '611000' desc, area_code",
                      params=[period])
        rep.sections[section] = (rel.columns, rel.fetchall())
    return rep


# ------------------------------------------------------------------ markdown

def _quality_counts(rep: Report) -> str:
    q = rep.quality
    return (f"未报送 missing {q['missing']}, 被退回 rejected {q['rejected']}, 迟报 late {q['late']}, "
            f"待核实警告 open soft warnings {q['open_soft']}, 不完整指标 incomplete figures {len(rep.incomplete)}")


def _quality_line(rep: Report) -> str:
    return f"数据质量 / data quality: {_quality_counts(rep)}"


def _return_name(return_id: str) -> str:
    ret = RETURNS[return_id]
    return f"{ret.table_label} {ret.title}"


def _issues(rep: Report) -> list[str]:
    """Each thing the reader must know before quoting a figure, one line each (plain text)."""
    lines = [f"{AREAS[c]}（{c}）{_return_name(r)}：{STATE_ZH.get(s, s)}" for c, r, s in rep.not_in_force]
    lines += [f"{AREAS.get(c, c)}（{c}）{_return_name(r)}：待核实 {n} 条 open warning{'s' if n > 1 else ''} "
              f"{rule}：{message}" for c, r, rule, n, message in rep.open_warnings]
    lines += [f"不完整 incomplete：{f.label_zh}（{f.figure_id}）— {rep.city[f.figure_id][3].split(' / ')[0]}"
              for f in rep.incomplete]
    return lines


def markdown(rep: Report) -> str:
    out = [f"# {rep.title}", "", f"> 报告期 {rep.period}；由数据仓库生成于 {rep.generated_at:%Y-%m-%d %H:%M:%S} / generated from the warehouse",
           f"> {_quality_line(rep)}"]
    out += [f"> - {line}" for line in _issues(rep)] + [""]
    out += ["", *[p + "\n" for p in rep.paragraphs]]
    if rep.reconciliation:
        out += ["## 与公开发布数字核对 / reconciliation with the published figures", "",
                f"{rep.reconciled} / {len(rep.reconciliation)} 相同 / equal", "",
                "| 指标 | figure | 本次计算 computed | 已发布 published | 核对 |", "|---|---|---|---|---|"]
        out += [f"| {f.label_zh} | {f.figure_id} | {c or '—'} | {p} | {'✓' if eq else '✗ 不一致'} |"
                for f, c, p, eq in rep.reconciliation]
        out.append("")
    out += [f"## {_revisions_title(rep)}", ""]
    if rep.vintage:
        out += [f"- {f.label_zh}: {then} → {now}" for f, then, now in rep.revisions] or ["- 无修订 / no revision"]
    else:
        out.append(NOTHING_PUBLISHED)
    out.append("")
    return "\n".join(out)


STATE_ZH = {"missing": "未报送 missing", "rejected": "被退回 rejected"}
NOTHING_PUBLISHED = ("本报告期尚未发布任何版本，因此没有修订；发布后，此后的更正将在此列出。 / Nothing is published for this "
                     "period yet, so there are no revisions; once a vintage is published, later corrections are listed here.")


def _revisions_title(rep: Report) -> str:
    if rep.vintage:
        return f"修订 / revisions against the published vintage {rep.vintage[0]}（{rep.vintage[1]:%Y-%m-%d %H:%M:%S}）"
    return "修订 / revisions"


# ------------------------------------------------------------------ html

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
max-width:60em;margin:2em auto;padding:0 1em;line-height:1.8;color:#222}
h1{text-align:center} h2{border-bottom:1px solid #ccc;margin-top:2em} p{text-indent:2em}
a.fig{color:#0b5394;text-decoration:none;border-bottom:1px dotted #0b5394}
a.fig.incomplete{color:#8a4b00;background:#fff1d6;border-bottom:2px solid #e08a00}
a.fig.incomplete::after{content:"⚠不完整";font-size:.7em;vertical-align:super;color:#b35c00;margin-left:.1em}
.quality{background:#fff8e1;border-left:4px solid #f0a500;padding:.5em 1em} .quality ul{margin:.3em 0}
.quality.ok{background:#eef7ee;border-color:#3a9a3a}
table{border-collapse:collapse;font-size:.85em;width:100%} .wide{overflow-x:auto;max-width:100%}
th.incomplete{background:#fff1d6;color:#8a4b00} td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top}
th{background:#f2f5f9;font-weight:600} td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.area,th.area{white-space:nowrap} tr.city td{font-weight:600;background:#fafafa}
td.code{overflow-wrap:anywhere;font-family:monospace;font-size:.9em} .bad{color:#b00020;font-weight:bold}
.chart{margin:1em 0} .chart svg{max-width:100%;height:auto} figure{margin:0} figcaption{font-size:.9em;color:#555}
.small{font-size:.8em;color:#555} ul.marks{list-style:none;padding-left:1em} .yes{color:#2a7a2a} .no{color:#999}
details{margin:.3em 0 1em} summary{cursor:pointer;color:#0b5394;font-size:.9em}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _number(fig: Figure, value) -> str:
    """The value at the published decimals, with thousands separators (the unit is in the header)."""
    v = fig.rounded(value)
    return "—" if v is None else f"{v:,.{fig.decimals}f}"


def _chart(rep: Report, fig: Figure) -> str:
    values = [(AREAS[c], rep.by_area.get((c, fig.figure_id), (None, None))) for c in COUNTIES]
    numbers = [v for _, (v, _) in values if v is not None]
    caption = (f"<figcaption>{_e(SECTION_LABELS[fig.section])}：{_e(fig.label_zh)}，分县区 / by county"
               f"（{_e(fig.unit)}）</figcaption>")
    if numbers and all(v in (0, 1) for v in numbers):       # a yes/no per county: a list of marks, not bars
        marks = "".join(f'<li class="{"yes" if v else "no"}">{"✔" if v else "—"} {_e(name)}</li>'
                        for name, (v, _) in values)
        return f'<figure class="chart"><ul class="marks">{marks}</ul>{caption}</figure>'
    top = float(max(numbers + [0])) or 1
    bar_h, width, label_w = 22, 560, 70
    total_w, total_h = width + label_w + 110, bar_h * len(values) + 10
    parts = [f'<svg viewBox="0 0 {total_w} {total_h}" width="{total_w}" height="{total_h}" '
             f'role="img" aria-label="{_e(fig.label_zh)}">']
    for i, (name, (v, text)) in enumerate(values):
        w = 0 if v is None else float(v) / top * width
        y = 5 + i * bar_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{_e(name)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 8}" fill="#4a7ab5"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{_e(text or "—")}</text>')
    parts.append("</svg>")
    return f'<figure class="chart">{"".join(parts)}{caption}</figure>'


def _paragraph_html(rep: Report, index: int) -> str:
    from .article import missing_text, template
    _, paragraphs = template()
    out = []
    for i, piece in enumerate(paragraphs[index]):
        if i % 2 == 0:
            out.append(_e(piece))
        else:
            value, text, complete, reason = rep.city.get(piece, (None, None, False, None))
            note = "完整 complete" if complete else f"不完整 incomplete: {reason}"
            out.append(f'<a class="fig{"" if complete else " incomplete"}" href="#fig-{piece}" '
                       f'title="{_e(piece)} · {_e(note)}">{_e(text or missing_text(piece))}</a>')
    return "<p>" + "".join(out) + "</p>"


def _banner(rep: Report) -> str:
    issues = _issues(rep)
    if not issues:
        return ('<div class="quality ok"><b>数据质量 / data quality</b>：各县区报表均已采用，无待核实警告，'
                "全部指标完整 / every return in force, no open warning, every figure complete</div>")
    return (f'<div class="quality"><b>数据质量 / data quality</b>：{_e(_quality_counts(rep))}'
            "<ul>" + "".join(f"<li>{_e(line)}</li>" for line in issues) + "</ul></div>")


def _provenance(rep: Report, section: str) -> str:
    """The definitions of a section's figures in one table, and their sources once, folded."""
    rows = []
    for fig in section_figures(section):
        value, text, complete, reason = rep.city[fig.figure_id]
        state = "完整" if complete else f'<span class="bad">不完整</span>：{_e(reason)}'
        rows.append(f'<tr id="fig-{fig.figure_id}"><td>{_e(fig.label_zh)}<br><span class="small">{fig.figure_id}</span></td>'
                    f'<td class="code">{_e(fig.definition)}</td><td>{_e(fig.unit)}，{fig.decimals}位小数，'
                    f"{'向下取整' if fig.rounding == 'floor' else '四舍五入'}</td><td class=num>{_e(text or '—')}</td>"
                    f"<td>{state}</td></tr>")
    wanted = {(str(int(rep.period) + o), r) for fig in section_figures(section) for r, o in fig.reads}
    sources = [s for s in rep.in_force if (s[0], s[2]) in wanted]
    items = "".join(f"<li>{_e(p)} {_e(AREAS.get(c, c))} {_e(_return_name(r))}：{_e(src)}{'!' + _e(sh) if sh else ''}"
                    f" · sha256 {_e(sha[:12])} · 首次收到 {seen:%Y-%m-%d %H:%M:%S}</li>"
                    for p, c, r, src, sh, sha, seen in sources)
    return (f'<h3 id="def-{section}">{_e(SECTION_LABELS[section])}</h3>'
            "<div class=wide><table><tr><th>指标 figure</th><th>口径 definition</th><th>单位 unit</th><th>全市 city</th>"
            f"<th>完整 complete</th></tr>{''.join(rows)}</table></div>"
            f'<p class="small">分部表格 section table: <a href="#sec-{section}">report.{section}</a>'
            f"（period {rep.period}）</p>"
            f"<details><summary>来源报表 {len(sources)} 份 / the {len(sources)} source submissions in force</summary>"
            f'<ul class="small">{items}</ul></details>')


def _section_table(rep: Report, section: str) -> str:
    columns, rows = rep.sections[section]
    figs = section_figures(section)
    out = [f'<h3 id="sec-{section}">{_e(SECTION_LABELS[section])} <span class="small">report.{section}</span></h3>'
           '<div class="wide"><table><tr><th class="area">地区</th>'
           + "".join(f'<th>{_e(f.label_zh)}（{_e(f.unit)}）</th>' if rep.city[f.figure_id][2] else
                     f'<th class="incomplete" title="{_e(rep.city[f.figure_id][3])}">{_e(f.label_zh)}（{_e(f.unit)}）'
                     f"<br>⚠不完整</th>" for f in figs) + "</tr>"]
    for row in rows:
        r = dict(zip(columns, row))
        city = ' class="city"' if r["area_code"] == CITY_CODE else ""
        out.append(f'<tr{city}><td class="area">{_e(r["area_name"])}</td>'
                   + "".join(f'<td class="num">{_e(_number(f, r[f.figure_id]))}</td>' for f in figs) + "</tr>")
    out.append("</table></div>")
    return "".join(out)


def html_page(rep: Report) -> str:
    body = [f"<h1>{_e(rep.title)}</h1>",
            f'<p class="small">报告期 {rep.period}；由数据仓库生成于 {rep.generated_at:%Y-%m-%d %H:%M:%S}。'
            f"点击数字可查看口径、分部表格和来源报表。 / Click a figure for its definition, section table and sources.</p>",
            _banner(rep), _paragraph_html(rep, 0)]
    for k, section in enumerate(SECTIONS, start=1):
        body.append(_paragraph_html(rep, k))
        body.append(_chart(rep, section_figures(section)[0]))
    if rep.reconciliation:
        body.append(f"<h2>与公开发布数字核对 / reconciliation</h2><p>{rep.reconciled} / {len(rep.reconciliation)} 相同 / equal</p>"
                    "<table><tr><th>指标</th><th>本次计算</th><th>已发布</th><th>核对</th></tr>")
        body += [f"<tr><td>{_e(f.label_zh)}</td><td class=num>{_e(c)}</td><td class=num>{_e(p)}</td>"
                 f"<td>{'✓' if eq else '<span class=bad>✗</span>'}</td></tr>" for f, c, p, eq in rep.reconciliation]
        body.append("</table>")
    body.append(f"<h2>{_e(_revisions_title(rep))}</h2>")
    if rep.vintage:
        body.append("<ul>" + ("".join(f"<li>{_e(f.label_zh)}：{_e(then)} → {_e(now)}</li>" for f, then, now in rep.revisions)
                              or "<li>无修订 / no revision</li>") + "</ul>")
    else:
        body.append(f"<p>{_e(NOTHING_PUBLISHED)}</p>")
    body.append("<h2>指标口径与来源 / definitions and provenance</h2>")
    body += [_provenance(rep, section) for section in SECTIONS]
    body.append("<h2>分部表格 / section tables</h2>")
    body += [_section_table(rep, section) for section in SECTIONS]
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><title>{_e(rep.title)} {rep.period}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


# ------------------------------------------------------------------ workbook

def _number_format(decimals: int) -> str:
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _cell_value(fig: Figure, value):
    """The value at the published decimals (the figure's own rounding), as a number Excel keeps."""
    v = fig.rounded(value)
    return None if v is None else (int(v) if fig.decimals == 0 else float(v))


def _sources(rep: Report) -> list[tuple]:
    """Per period and return: the counties whose version is in force and the newest receipt."""
    seen: dict[tuple[str, str], list] = {}
    for p, c, r, _, _, _, first_seen in rep.in_force:
        entry = seen.setdefault((p, r), [0, first_seen])
        entry[0] += 1
        entry[1] = max(entry[1], first_seen)
    return [(p, RETURNS[r].table_label, RETURNS[r].title, n, f"{latest:%Y-%m-%d %H:%M:%S}")
            for (p, r), (n, latest) in sorted(seen.items(), key=lambda k: (k[0][0], RETURNS[k[0][1]].number))]


def workbook(rep: Report, path: Path):
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from schemas.xlsx import append, save
    bold, head_fill = Font(bold=True), PatternFill("solid", fgColor="DDEBF7")
    wrap = Alignment(wrap_text=True, vertical="top")

    def header(ws, row: int):
        for cell in ws[row]:
            cell.font, cell.fill, cell.alignment = bold, head_fill, wrap

    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "说明 cover"
    vintage = f"{rep.vintage[0]} ({rep.vintage[1]:%Y-%m-%d %H:%M:%S})" if rep.vintage else "未发布 / not yet published"
    incomplete = [f for f, (_, _, c, _) in rep.city.items() if not c]
    for row in (["商洛市乡村振兴统计 Shangluo rural-revitalisation figures"], ["报告期 period", rep.period],
                ["生成时间 generated", rep.generated_at.strftime("%Y-%m-%d %H:%M:%S")], ["版本 vintage", vintage],
                ["说明 notes", "数值按公布的小数位数和修约方法修约，单位见列名；完整=否 表示有县区报表未采用，原因见“指标 figures”"
                               "工作表 / values at the published decimals and rounding, in the unit of the header; "
                               "complete = 否 means some county's return is not in force: see the sheet 指标 figures"],
                ["全市指标 city figures", f"{len(rep.city) - len(incomplete)}/{len(rep.city)} 完整 complete"],
                ["数据质量 data quality", _quality_counts(rep)], [],
                ["工作表 sheets"], ["指标 figures", "全市69个公布指标：数值、单位、文字、是否完整及原因 / the 69 published "
                                                  "figures of the city"],
                *[[SECTION_LABELS[s][:31], f"report.{s}：全市和各县区 / the city and each county"] for s in SECTIONS],
                [], ["来源 sources", "县区统计报表（表1–表10），采用的版本由数据仓库汇总 / county returns (表1–表10), the "
                                    "versions in force, compiled in the warehouse"]):
        append(cover, row)
    row = append(cover, ["报告期 period", "表号 return", "报表 title", "采用的县区报表 in force", "最近收到 latest received"])
    for cell in cover[row]:
        cell.font = bold
    for source in _sources(rep):
        append(cover, list(source))
    cover["A1"].font = Font(bold=True, size=14)
    for col, width in zip("ABCDE", (24, 60, 24, 22, 22)):
        cover.column_dimensions[col].width = width
    for line in cover.iter_rows(min_row=2, max_row=row - 1, min_col=2, max_col=2):
        line[0].alignment = wrap

    figs_ws = wb.create_sheet("指标 figures")
    append(figs_ws, ["指标编号 figure_id", "指标 label", "数值 value", "单位 unit", "文字 text", "完整 complete",
                     "原因 reason", "部分 section"])
    header(figs_ws, 1)
    for fig in figures():
        value, text, complete, reason = rep.city[fig.figure_id]
        r = append(figs_ws, [fig.figure_id, fig.label_zh, _cell_value(fig, value), fig.unit, text,
                             "是" if complete else "否", reason, SECTION_LABELS[fig.section]])
        figs_ws.cell(r, 3).number_format = _number_format(fig.decimals)
    for col, width in zip("ABCDEFGH", (34, 30, 14, 8, 16, 10, 60, 22)):
        figs_ws.column_dimensions[col].width = width
    figs_ws.freeze_panes = "A2"
    figs_ws.auto_filter.ref = f"A1:H{figs_ws.max_row}"

    for section, (columns, rows) in rep.sections.items():
        ws = wb.create_sheet(SECTION_LABELS[section][:31])
        figs = section_figures(section)
        append(ws, ["地区代码", "地区", *[f"{f.label_zh}（{f.unit}）" for f in figs], "完整"])
        append(ws, ["area_code", "area_name", *[f"{f.figure_id} ({f.unit})" for f in figs], "complete"])
        for row in rows:
            r = dict(zip(columns, row))
            line = append(ws, [r["area_code"], r["area_name"], *[_cell_value(f, r[f.figure_id]) for f in figs],
                               "是" if r["complete"] else "否"])
            for j, f in enumerate(figs, start=3):
                ws.cell(line, j).number_format = _number_format(f.decimals)
        header(ws, 1)
        header(ws, 2)
        ws.row_dimensions[1].height = 48
        ws.row_dimensions[2].height = 48
        ws.column_dimensions["A"].width, ws.column_dimensions["B"].width = 11, 10
        for j, f in enumerate(figs, start=3):
            ws.column_dimensions[get_column_letter(j)].width = max(14, min(24, len(f.label_zh) * 2 + 4))
        ws.column_dimensions[get_column_letter(len(figs) + 3)].width = 8
        ws.freeze_panes = "C3"
        ws.auto_filter.ref = f"A2:{get_column_letter(len(figs) + 3)}{max(ws.max_row, 3)}"
    save(wb, path)


PENDING = ".pending-"      # a run's report files wait in reports/.pending-<hex>/ until its commit


def pending_folder(reports: Path) -> Path:
    """A folder of `reports` for a run's report files until its changes are committed."""
    import uuid
    return Path(reports) / f"{PENDING}{uuid.uuid4().hex}"


def drop_stale_pending(reports: Path):
    """The pending folders of runs killed before their commit settled them (SIGKILL, a power cut).
    Called by a run holding the warehouse's one writing connection, before it writes any report
    files: every pending folder there is then a dead run's."""
    try:
        for stale in Path(reports).glob(f"{PENDING}*"):
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale, ignore_errors=True)
    except OSError:        # a reports folder that cannot be listed: the run says so when it writes there
        pass


def report_files(out: Path, period: str) -> list[Path]:
    """The three files of a period's report, in the order `write` writes them."""
    return [Path(out) / f"report-{period}.md", Path(out) / f"report-{period}.html", Path(out) / f"tables-{period}.xlsx"]


def write(con: duckdb.DuckDBPyConnection, period: str, out: Path) -> tuple[Report, list[Path]]:
    rep = build(con, period)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = report_files(out, period)
    paths[0].write_text(markdown(rep), encoding="utf-8")
    paths[1].write_text(html_page(rep), encoding="utf-8")
    workbook(rep, paths[2])
    return rep, paths

