"""Publication: the regenerated article, reconciliation, the HTML in headless Chromium, the
tables workbook, vintages and revisions, and the clerks' templates."""
from __future__ import annotations

import os
import shutil
import subprocess
from datetime import date
from pathlib import Path

import openpyxl
import pytest

from publish.article import published
from sample.generate import build, csv_bytes
from schemas.catalogue import RETURNS

from .conftest import cli_env, query, shangluo

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--hide-scrollbars", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture(scope="module")
def report_2022(sample_build, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = shangluo("report", "--period", "2022", "--out", str(out), env=sample_build["env"])
    return out, proc.stdout


def test_the_regenerated_article_equals_the_published_one(report_2022):
    out, stdout = report_2022
    text = (out / "report-2022.md").read_text(encoding="utf-8")
    title, paragraphs = published()
    assert text.startswith(f"# {title}\n")
    body = [line for line in text.splitlines() if line and not line.startswith(("#", ">", "|"))]
    assert body[:9] == list(paragraphs)                       # character for character
    assert "69 / 69 相同 / equal" in text and "reconciliation: 69/69 equal" in stdout
    assert "✗" not in text


def test_tables_workbook_has_a_cover_and_a_sheet_per_section(report_2022):
    out, _ = report_2022
    wb = openpyxl.load_workbook(out / "tables-2022.xlsx")
    assert wb.sheetnames[:2] == ["说明 cover", "指标 figures"] and len(wb.sheetnames) == 10
    ws = wb.worksheets[2]
    assert ws["A1"].value == "地区代码" and ws["A2"].value == "area_code" and "（户）" in ws["C1"].value
    assert [ws.cell(r, 1).value for r in range(3, 11)][0] == "611000" and ws.max_row == 10
    assert ws["C3"].value == 9888
    assert not (out / "tables-2022.xlsx").read_bytes().count(b"vbaProject")


def _screenshot(html: Path, png: Path, size: str = "1200,1800") -> str:
    proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={png.parent / 'profile'}",
                           "--enable-logging=stderr", "--v=0", f"--window-size={size}", f"--screenshot={png}",
                           html.as_uri()], capture_output=True, text=True, timeout=120)
    assert png.exists(), proc.stderr[-2000:]
    return proc.stderr


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed here")
def test_the_html_renders_in_headless_chromium_with_chinese_glyphs(report_2022, tmp_path):
    out, _ = report_2022
    html = (out / "report-2022.html").read_text(encoding="utf-8")
    assert "<script" not in html and "http://" not in html and "https://" not in html    # self-contained, offline
    log = _screenshot(out / "report-2022.html", out / "report-2022.png")
    assert "CONSOLE" not in log and "Uncaught" not in log
    assert (out / "report-2022.png").stat().st_size > 50_000
    # Chinese drawn, not boxes: the title and as many unassigned code points (drawn as .notdef boxes)
    # would give the same picture if no CJK font were there.
    pictures = []
    for name, text in (("zh", "推进乡村振兴的商洛实践"), ("boxes", "\U000f0000" * 11)):
        page = tmp_path / f"{name}.html"
        page.write_text(f'<html><head><meta charset="utf-8"></head><body style="font-family:sans-serif;font-size:40px">'
                        f"{text}</body></html>", encoding="utf-8")
        _screenshot(page, tmp_path / f"{name}.png", "800,600")
        pictures.append((tmp_path / f"{name}.png").read_bytes())
    assert pictures[0] != pictures[1]


def test_publish_freezes_a_vintage_and_the_report_shows_revisions(tmp_path, landing_copy):
    env, wh = cli_env(tmp_path, landing_copy), tmp_path / "warehouse.duckdb"
    shangluo("run", env=env)
    out = shangluo("publish", "--period", "2022", "--note", "2022年度公报", env=env).stdout
    assert "published vintage 2022-" in out
    frozen = query(wh, "select * from report.vintage_figures order by all")
    assert len(frozen) == 69 * 8
    out = shangluo("run", env=env).stdout          # the report of 2022 compares with the vintage: written again
    assert "2022: 重新读取 / reading again: 无" in out and "2021: 未改变" in out and "nothing changed since" not in out

    row = dict(build("2022")["employment"]["611021"][0])
    row["employed_persons"] += 5000                                        # a correction after publication
    for f in (landing_copy / "2022" / "611021").glob("表6*"):
        f.write_bytes(csv_bytes("employment", [row], "gb18030", "zh"))
    shangluo("run", env=env)
    assert query(wh, "select * from report.vintage_figures order by all") == frozen
    rep = shangluo("report", "--period", "2022", "--out", str(tmp_path / "out"), env=env)
    text = (tmp_path / "out" / "report-2022.md").read_text(encoding="utf-8")
    assert "revisions against the published vintage: " in rep.stdout
    assert "- 脱贫人口务工就业: 26.8万人 → 27.3万人" in text and "- 务工就业目标完成率: 103% → 105%" in text
    assert "67 / 69 相同" in text and "✗ 不一致" in text


def _fill(template: Path, return_id: str, rows: list[dict]) -> Path:
    wb = openpyxl.load_workbook(template)
    ws = wb.worksheets[0]
    labels = [c.value for c in ws[2]]
    by_label = {f.label: f for f in RETURNS[return_id].fields}
    for i, row in enumerate(rows, start=3):
        for j, label in enumerate(labels, start=1):
            v = row.get(by_label[label].name)
            ws.cell(i, j).value = ("是" if v else "否") if isinstance(v, bool) else (float(v) if hasattr(v, "as_tuple") else v)
    out = template.parent / "2022" / "611002" / template.name
    out.parent.mkdir(parents=True, exist_ok=True)
    wb.save(out)
    return out


def test_a_filled_template_passes_validate_and_a_broken_dropdown_is_rejected(tmp_path, sample_build):
    shangluo("template", "monitoring_households", "表7", "--out", str(tmp_path), env=sample_build["env"])
    t1, t7 = tmp_path / "表1 防返贫监测对象台账.xlsx", tmp_path / "表7 易地扶贫搬迁安置点.xlsx"
    ws = openpyxl.load_workbook(t1).worksheets[0]
    assert ws.column_dimensions["B"].number_format == "@"                  # ID numbers as text, the whole column
    assert any('"脱贫不稳定户,边缘易致贫户,突发严重困难户"' in (dv.formula1 or "") for dv in ws.data_validations.dataValidation)
    assert "填表说明" in openpyxl.load_workbook(t1).sheetnames
    data = build("2022")
    filled = [_fill(t1, "monitoring_households", data["monitoring_households"]["611002"][:50]),
              _fill(t7, "relocation_sites", data["relocation_sites"]["611002"])]
    for path in filled:
        proc = shangluo("validate", str(path), env=sample_build["env"], check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    wb = openpyxl.load_workbook(filled[0])
    wb.worksheets[0]["G4"].value = "边缘户"                                # not in the drop-down
    wb.save(filled[0])
    proc = shangluo("validate", str(filled[0]), env=sample_build["env"], check=False)
    assert proc.returncode == 1 and "monitoring_type.category" in proc.stdout and "第4行" in proc.stdout


def test_every_return_has_a_template(tmp_path, sample_build):
    shangluo("template", "--out", str(tmp_path), env=sample_build["env"])
    assert len(list(tmp_path.glob("*.xlsx"))) == 10
    assert shangluo("template", "表11", "--out", str(tmp_path), env=sample_build["env"], check=False).returncode == 2


def test_templates_date_columns(tmp_path):
    from schemas.template import write_template
    path = write_template(RETURNS["monitoring_households"], tmp_path / "t.xlsx")
    ws = openpyxl.load_workbook(path).worksheets[0]
    labels = [c.value for c in ws[2]]
    col = labels.index("纳入监测日期") + 1
    letter = openpyxl.utils.get_column_letter(col)
    assert ws.column_dimensions[letter].number_format == "yyyy-mm-dd" and isinstance(date.today(), date)


LAYOUT_PROBE = """<script>
addEventListener("load", () => {
  const r = e => e.getBoundingClientRect(), body = r(document.body), h1 = r(document.querySelector("h1"));
  const one = e => { const g = document.createRange(); g.selectNodeContents(e); return g.getClientRects().length == 1; };
  const out = {inner: innerWidth, scroll: document.documentElement.scrollWidth,
    body: [body.left, body.right], h1: (h1.left + h1.right) / 2,
    banner: r(document.querySelector(".quality")).top, first_p: r(document.querySelector("p:not(.small)")).top,
    banner_text: document.querySelector(".quality").innerText,
    areas: [...document.querySelectorAll("td.area")].filter(e => !one(e)).map(e => e.innerText),
    left_numbers: [...document.querySelectorAll("td.num")].filter(e => getComputedStyle(e).textAlign != "right").length,
    numbers: document.querySelectorAll("td.num").length,
    incomplete: [...document.querySelectorAll("a.fig.incomplete")].map(e => getComputedStyle(e, "::after").content),
    bars: document.querySelectorAll("svg rect").length, marks: document.querySelectorAll("ul.marks li").length,
    tables_out: [...document.querySelectorAll("table")].filter(t => r(t).right > body.right + 1).length,
    details: document.querySelectorAll("details").length};
  const pre = document.createElement("pre"); pre.id = "probe"; pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>"""


def _probe(html: Path, width: int) -> dict:
    import json
    import re
    page = html.with_name(f"probe-{width}.html")
    page.write_text(html.read_text(encoding="utf-8").replace("</head>", LAYOUT_PROBE + "</head>"), encoding="utf-8")
    proc = subprocess.run([CHROMIUM, *CHROMIUM_FLAGS, f"--user-data-dir={html.parent / 'profile'}",
                           f"--window-size={width},1000", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    return json.loads(html_unescape(found.group(1)))


def html_unescape(text: str) -> str:
    import html
    return html.unescape(text)


@pytest.mark.skipif(CHROMIUM is None and os.environ.get("CI") != "true", reason="chromium is not installed here")
def test_the_2021_report_is_laid_out_for_the_reader(sample_build, tmp_path):
    """2021: two figures incomplete (they read 2020's 表5). The banner names them, the article marks
    them, tables keep area names on one line and numbers right-aligned, nothing overflows the page,
    at a desktop width and on a phone; the screenshot has the page's column, centred."""
    from PIL import Image, ImageChops
    shangluo("report", "--period", "2021", "--out", str(tmp_path), env=sample_build["env"])
    html = tmp_path / "report-2021.html"
    text = html.read_text(encoding="utf-8")
    assert "数据质量 数据质量" not in text and text.count("<summary>来源报表") == 8         # provenance once per section
    assert "本报告期尚未发布任何版本" in text                                   # revisions: nothing published yet
    for width in (1200, 500):                                                    # a desktop, a phone (the narrowest)
        m = _probe(html, width)
        assert m["scroll"] <= m["inner"], (width, m["scroll"])                   # no horizontal overflow
        assert m["areas"] == [] and m["left_numbers"] == 0 and m["numbers"] > 300
        assert m["banner"] < m["first_p"] and m["details"] == 8
        assert "上期空壳村（shell_villages_previous）" in m["banner_text"] and "柞水县表5（2020）" in m["banner_text"]
        assert "消减薄弱村（weak_villages_reduced）" in m["banner_text"]
        assert len(m["incomplete"]) == 2 and all("不完整" in c for c in m["incomplete"])
        assert m["marks"] == 7 and m["bars"] == 7 * 7                          # 示范县 as marks, the rest as bars
    desktop = _probe(html, 1200)
    left, right = desktop["body"]
    assert abs(desktop["h1"] - 600) < 3 and abs(left - (1200 - right)) < 3 and 900 < right - left <= 1000
    assert desktop["tables_out"] == 0

    png = tmp_path / "report-2021.png"
    _screenshot(html, png, "1200,1800")
    shot = Image.open(png).convert("L")
    assert shot.size == (1200, 1800)
    ink = ImageChops.invert(shot).point(lambda v: 255 if v > 40 else 0).getbbox()   # where anything is drawn
    assert ink is not None
    x0, y0, x1, y1 = ink
    assert abs(x0 - (1200 - x1)) < 40 and x0 > 80 and y0 < 80 and y1 > 1700       # one centred column, filled down
    band = Image.open(png).convert("RGB").crop((0, 200, 1200, 260)).getcolors(1 << 16)        # the banner's yellow near the top
    assert any(c[1][0] > 240 and c[1][1] > 240 and c[1][2] < 235 for c in band)
