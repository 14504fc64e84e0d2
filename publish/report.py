"""The report of one period, regenerated from the warehouse: `report-P.md`, `report-P.html`
(one self-contained file: provenance links, a chart per section, data quality at the top) and
`tables-P.xlsx` (a sheet per section, city and counties, Chinese and English headers)."""
from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
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
    provenance: dict[str, list[tuple]] = field(default_factory=dict)
    sections: dict[str, tuple[list[str], list[tuple]]] = field(default_factory=dict)

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
    in_force = con.execute("select period, county_code, return_id, source, sheet, content_sha256, first_seen_at "
                           "from landing.submissions where status = 'accepted' and period in (?, ?) "
                           "order by county_code", [period, str(int(period) - 1)]).fetchall()
    for fig in figures():
        wanted = {(str(int(period) + o), r) for r, o in fig.reads}
        rep.provenance[fig.figure_id] = [s for s in in_force if (s[0], s[2]) in wanted]
    for section in SECTIONS:
        rel = con.sql(f"select * from report.{section} where period = ? order by area_code = '611000' desc, area_code",
                      params=[period])
        rep.sections[section] = (rel.columns, rel.fetchall())
    return rep


# ------------------------------------------------------------------ markdown

def _quality_line(rep: Report) -> str:
    q = rep.quality
    return (f"数据质量 / data quality: 未报送 missing {q['missing']}, 被退回 rejected {q['rejected']}, "
            f"迟报 late {q['late']}, 待核实警告 open soft warnings {q['open_soft']}")


def markdown(rep: Report) -> str:
    out = [f"# {rep.title}", "", f"> 报告期 {rep.period}；由数据仓库生成于 {rep.generated_at:%Y-%m-%d %H:%M} / generated from the warehouse",
           f"> {_quality_line(rep)}", ""]
    for c, r, s in rep.not_in_force:
        out.append(f"> - {AREAS[c]} {RETURNS[r].table_label} {RETURNS[r].title}: {s}")
    out += ["", *[p + "\n" for p in rep.paragraphs]]
    if rep.reconciliation:
        out += ["## 与公开发布数字核对 / reconciliation with the published figures", "",
                f"{rep.reconciled} / {len(rep.reconciliation)} 相同 / equal", "",
                "| 指标 | figure | 本次计算 computed | 已发布 published | 核对 |", "|---|---|---|---|---|"]
        out += [f"| {f.label_zh} | {f.figure_id} | {c or '—'} | {p} | {'✓' if eq else '✗ 不一致'} |"
                for f, c, p, eq in rep.reconciliation]
        out.append("")
    if rep.vintage:
        out += [f"## 与已发布版本 {rep.vintage[0]}（{rep.vintage[1]:%Y-%m-%d %H:%M}）相比的修订 / revisions", ""]
        out += [f"- {f.label_zh}: {then} → {now}" for f, then, now in rep.revisions] or ["- 无修订 / no revision"]
        out.append("")
    return "\n".join(out)


# ------------------------------------------------------------------ html

CSS = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",sans-serif;
max-width:60em;margin:2em auto;padding:0 1em;line-height:1.8;color:#222}
h1{text-align:center} p{text-indent:2em} a.fig{color:#0b5394;text-decoration:none;border-bottom:1px dotted #0b5394}
.quality{background:#fff8e1;border-left:4px solid #f0a500;padding:.5em 1em} table{border-collapse:collapse;font-size:.85em}
td,th{border:1px solid #ccc;padding:2px 6px;vertical-align:top} .bad{color:#b00020;font-weight:bold}
.chart{margin:1em 0} figure{margin:0} figcaption{font-size:.9em;color:#555} .small{font-size:.8em;color:#555}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _chart(rep: Report, fig: Figure) -> str:
    values = [(AREAS[c], rep.by_area.get((c, fig.figure_id), (None, None))) for c in COUNTIES]
    numbers = [float(v) for _, (v, _) in values if v is not None]
    top = max(numbers + [0]) or 1
    bar_h, width, label_w = 22, 560, 70
    parts = [f'<svg width="{width + label_w + 90}" height="{bar_h * len(values) + 10}" '
             f'role="img" aria-label="{_e(fig.label_zh)}">']
    for i, (name, (v, text)) in enumerate(values):
        w = 0 if v is None else float(v) / top * width
        y = 5 + i * bar_h
        parts.append(f'<text x="0" y="{y + 15}" font-size="13">{_e(name)}</text>'
                     f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{bar_h - 8}" fill="#4a7ab5"/>'
                     f'<text x="{label_w + w + 4:.1f}" y="{y + 15}" font-size="12">{_e(text or "—")}</text>')
    parts.append("</svg>")
    return (f'<figure class="chart">{"".join(parts)}<figcaption>{_e(SECTION_LABELS[fig.section])}：'
            f'{_e(fig.label_zh)}，分县区 / by county ({_e(fig.unit)})</figcaption></figure>')


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
            out.append(f'<a class="fig" href="#fig-{piece}" title="{_e(piece)} · {_e(note)}">'
                       f'{_e(text or missing_text(piece))}</a>')
    return "<p>" + "".join(out) + "</p>"


def html_page(rep: Report) -> str:
    body = [f"<h1>{_e(rep.title)}</h1>",
            f'<p class="small">报告期 {rep.period}；由数据仓库生成于 {rep.generated_at:%Y-%m-%d %H:%M}。'
            f"点击数字可查看口径、分部表格和来源报表。 / Click a figure for its definition, section row and sources.</p>",
            f'<div class="quality"><b>数据质量</b> {_e(_quality_line(rep))}']
    if rep.not_in_force:
        body.append("<ul>" + "".join(f"<li>{_e(AREAS[c])} {_e(RETURNS[r].table_label)} {_e(RETURNS[r].title)}："
                                     f"{_e(s)}</li>" for c, r, s in rep.not_in_force) + "</ul>")
    body.append("</div>")
    body.append(_paragraph_html(rep, 0))
    for k, section in enumerate(SECTIONS, start=1):
        body.append(_paragraph_html(rep, k))
        body.append(_chart(rep, section_figures(section)[0]))
    if rep.reconciliation:
        body.append(f"<h2>与公开发布数字核对 / reconciliation</h2><p>{rep.reconciled} / {len(rep.reconciliation)} 相同 / equal</p>"
                    "<table><tr><th>指标</th><th>本次计算</th><th>已发布</th><th>核对</th></tr>")
        body += [f"<tr><td>{_e(f.label_zh)}</td><td>{_e(c)}</td><td>{_e(p)}</td>"
                 f"<td>{'✓' if eq else '<span class=bad>✗</span>'}</td></tr>" for f, c, p, eq in rep.reconciliation]
        body.append("</table>")
    if rep.vintage:
        body.append(f"<h2>修订 / revisions against vintage {_e(rep.vintage[0])}</h2><ul>")
        body += [f"<li>{_e(f.label_zh)}：{_e(then)} → {_e(now)}</li>" for f, then, now in rep.revisions] or ["<li>无修订</li>"]
        body.append("</ul>")
    body.append("<h2>指标口径与来源 / definitions and provenance</h2>")
    for fig in figures():
        value, text, complete, reason = rep.city[fig.figure_id]
        sources = "".join(f"<li>{_e(AREAS.get(c, c))} {_e(src)}{'!' + _e(sh) if sh else ''} · sha256 {_e(sha[:12])} · "
                          f"首次收到 {_e(seen)}</li>" for p, c, r, src, sh, sha, seen in rep.provenance[fig.figure_id])
        body.append(f'<h3 id="fig-{fig.figure_id}">{_e(fig.label_zh)} <span class="small">{fig.figure_id}</span></h3>'
                    f"<p class=small>口径 definition: {_e(fig.definition)}；单位 {_e(fig.unit)}，{fig.decimals}位小数，"
                    f"{'向下取整' if fig.rounding == 'floor' else '四舍五入'}。值 value: {_e(value)}；"
                    f"{'完整' if complete else '不完整：' + _e(reason)}。"
                    f'分部表格 section row: <a href="#sec-{fig.section}">report.{fig.section}</a> '
                    f"(period {rep.period}, area 611000, column {fig.figure_id})</p><ul class=small>{sources}</ul>")
    body.append("<h2>分部表格 / section tables</h2>")
    for section, (columns, rows) in rep.sections.items():
        figs = section_figures(section)
        body.append(f'<h3 id="sec-{section}">{_e(SECTION_LABELS[section])} report.{section}</h3><table><tr><th>地区</th>'
                    + "".join(f"<th>{_e(f.label_zh)}（{_e(f.unit)}）</th>" for f in figs) + "</tr>")
        for row in rows:
            r = dict(zip(columns, row))
            body.append(f"<tr><td>{_e(r['area_name'])}</td>" +
                        "".join(f"<td>{_e(rep.by_area.get((r['area_code'], f.figure_id), (None, None))[1])}</td>"
                                for f in figs) + "</tr>")
        body.append("</table>")
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>{_e(rep.title)} {rep.period}</title>'
            f"<style>{CSS}</style></head><body>{''.join(body)}</body></html>")


# ------------------------------------------------------------------ workbook

def workbook(rep: Report, path: Path):
    import openpyxl
    from openpyxl.styles import Alignment, Font
    wb = openpyxl.Workbook()
    cover = wb.active
    cover.title = "说明 cover"
    vintage = f"{rep.vintage[0]} ({rep.vintage[1]:%Y-%m-%d %H:%M})" if rep.vintage else "未发布 / not yet published"
    for row in (["商洛市乡村振兴统计 Shangluo rural-revitalisation figures"], ["报告期 period", rep.period],
                ["来源 source", "县区统计报表（表1–表10），由数据仓库汇总 / county returns, compiled in the warehouse"],
                ["生成时间 generated", rep.generated_at.strftime("%Y-%m-%d %H:%M")], ["版本 vintage", vintage],
                ["说明 notes", "数值为未修约值，单位见列名；complete=否 表示有县区报表未采用 / values are unrounded, in the "
                               "unit of the header; complete = false means some county's return is not in force"],
                ["数据质量 data quality", _quality_line(rep)]):
        cover.append(row)
    cover["A1"].font = Font(bold=True, size=14)
    cover.column_dimensions["A"].width, cover.column_dimensions["B"].width = 24, 90
    for section, (columns, rows) in rep.sections.items():
        ws = wb.create_sheet(SECTION_LABELS[section][:31])
        figs = section_figures(section)
        ws.append(["地区代码", "地区", *[f"{f.label_zh}（{f.unit}）" for f in figs], "完整"])
        ws.append(["area_code", "area_name", *[f"{f.figure_id} ({f.unit})" for f in figs], "complete"])
        for row in rows:
            r = dict(zip(columns, row))
            ws.append([r["area_code"], r["area_name"],
                       *[float(r[f.figure_id]) if isinstance(r[f.figure_id], Decimal) else r[f.figure_id] for f in figs],
                       "是" if r["complete"] else "否"])
        for cell in ws[1] + ws[2]:
            cell.font = Font(bold=True)
            cell.alignment = Alignment(wrap_text=True)
        ws.freeze_panes = "C3"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb.save(path)


def write(con: duckdb.DuckDBPyConnection, period: str, out: Path) -> tuple[Report, list[Path]]:
    rep = build(con, period)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / f"report-{period}.md", out / f"report-{period}.html", out / f"tables-{period}.xlsx"]
    paths[0].write_text(markdown(rep), encoding="utf-8")
    paths[1].write_text(html_page(rep), encoding="utf-8")
    workbook(rep, paths[2])
    return rep, paths

