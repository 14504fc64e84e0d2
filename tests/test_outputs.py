"""What the clerk and the analyst hold: the 审核反馈表 sent back as the county's explanations, no
formula in any workbook we write, templates over whole columns, the tables workbook, the command
line's streams, help and closed pipes."""
from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import openpyxl

from schemas.catalogue import RETURNS
from schemas.xlsx import formula_cells

from .conftest import ROOT, cli_env, query, shangluo

INJECTED = "=HYPERLINK(\"http://example.invalid\",\"点此\")"


def _edit_csv(path, edit):
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("gb18030"))))
    edit(rows)
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("gb18030"))


def test_the_feedback_workbook_sent_back_explains_the_warnings_it_answers(tmp_path, landing_copy):
    """Three soft warnings (households of 13) and a hard error (a formula for a count) in 洛南县. The
    clerk answers the first in the workbook's sheet 说明, the second in that sheet saved as 说明.csv,
    leaves the third: after a run the first two are explained, the third is open."""
    folder = landing_copy / "2022" / "611021"
    def soft(rows):
        for line in rows[1:4]:
            line[rows[0].index("家庭人口数")] = "13"
    def hard(rows):
        rows[1][rows[0].index("危房改造户数")] = INJECTED
    _edit_csv(folder / "表1 防返贫监测对象台账.csv", soft)
    _edit_csv(folder / "表2 三保障.csv", hard)
    env = cli_env(tmp_path, landing_copy)
    proc = shangluo("validate", str(folder), "--county", "611002", "--xlsx", str(tmp_path / "fb.xlsx"), env=env,
                    check=False)
    assert proc.returncode == 1 and proc.stderr == ""                     # one stream, stdout
    out = proc.stdout.splitlines()
    assert out[0].startswith("注意：") and "--county 611002" in out[0]          # the path overrides the option, said once
    assert sum("--county 611002" in line for line in out) == 1
    assert out[-1] == f"审核反馈表 / feedback workbook: {tmp_path / 'fb.xlsx'}"

    assert formula_cells(tmp_path / "fb.xlsx") == []
    wb = openpyxl.load_workbook(tmp_path / "fb.xlsx")
    assert wb.sheetnames == ["封面 cover", "说明"]
    cover = {r[0]: r[1:] for r in wb["封面 cover"].iter_rows(values_only=True) if r[0]}
    assert cover["报告期 period"][0] == "2022" and cover["县区 county"][0] == "洛南县 611021"
    assert cover["强制性错误 hard errors"][0] == 1 and cover["核实性警告 soft warnings"][0] == 3
    assert cover["表1"][:3] == ("防返贫监测对象台账", 0, 3) and cover["表2"][:3] == ("三保障", 1, 0)
    ws = wb["说明"]
    assert ws.freeze_panes == "D2" and ws.auto_filter.ref == "A1:L5"
    assert ws.column_dimensions["C"].width >= 20 and ws["J2"].alignment.wrap_text
    header = [c.value for c in ws[1]]
    assert header[:3] == ["表号", "规则编号", "业务键"] and header[-1] == "说明"
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert [(r["表号"], r["规则编号"], r["业务键"], r["行号"], r["填报值"]) for r in rows[:3]] == [
        ("表1", "monitoring_households.household_size.soft_max", f"61102100000{i}", i + 1, "13") for i in (1, 2, 3)]
    assert rows[3]["表号"] == "表2" and rows[3]["填报值"] == INJECTED
    assert [c for c in ws[5] if c.value == INJECTED][0].data_type == "s"      # text, not a formula

    ws.cell(2, len(header)).value = "经核实，该户确有13口人"                  # answered in the workbook
    wb.save(folder / "审核反馈表.xlsx")
    ws.cell(2, len(header)).value = None
    ws.cell(3, len(header)).value = "户主之父母同住，13人属实"                  # answered in 说明.csv
    text = io.StringIO()
    wrong = ["表1", "monitoring_households.household_size.soft_mx", "611021000003"] + [None] * (len(header) - 4) + ["打错了"]
    csv.writer(text, lineterminator="\r\n").writerows([*([c.value for c in line] for line in ws.iter_rows()), wrong])
    (folder / "说明.csv").write_bytes(text.getvalue().encode("gb18030"))      # as Excel saves a sheet in Chinese
    _edit_csv(folder / "表2 三保障.csv", lambda rows: rows[1].__setitem__(rows[0].index("危房改造户数"), "392"))
    # validate answers the warnings as the run will, and names the explanation that answers none
    proc = shangluo("validate", str(folder), "--json", env=env)
    said = {(r["business_key"], r["status"], r["explanation"]) for r in json.loads(proc.stdout)
            if r["rule_id"] == "monitoring_households.household_size.soft_max"}
    assert said == {("611021000001", "explained", "经核实，该户确有13口人"),
                    ("611021000002", "explained", "户主之父母同住，13人属实"), ("611021000003", "open", None)}
    assert "2 soft warning(s) explained" in proc.stderr
    assert "an explanation answers no warning: 表1 monitoring_households.household_size.soft_mx 611021000003" \
        in proc.stderr
    shangluo("run", "--period", "2022", env=env)
    got = query(tmp_path / "warehouse.duckdb", "select business_key, status, explanation from quality.violations "
                                               "where period = '2022' and county_code = '611021' and rule_id = "
                                               "'monitoring_households.household_size.soft_max' order by business_key")
    assert got == [("611021000001", "explained", "经核实，该户确有13口人"),
                   ("611021000002", "explained", "户主之父母同住，13人属实"), ("611021000003", "open", None)]


def test_templates_cover_whole_columns_as_text_once(tmp_path, sample_build):
    proc = shangluo("template", "guarantees", "表2", "表1", "--out", str(tmp_path), env=sample_build["env"])
    assert proc.stdout.count("表2") == 1 and len(list(tmp_path.glob("*.xlsx"))) == 2
    path = tmp_path / "表1 防返贫监测对象台账.xlsx"
    assert formula_cells(path) == []
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    labels = [c.value for c in ws[2]]
    ret = RETURNS["monitoring_households"]
    for f in ret.fields:
        if f.label not in labels:
            continue
        col = openpyxl.utils.get_column_letter(labels.index(f.label) + 1)
        if f.kind in ("id_number", "code", "county"):
            assert ws.column_dimensions[col].number_format == "@", f.name
            assert ws.column_dimensions[col].width >= (10 if f.kind == "county" else 20), f.name   # 18 digits
    for dv in ws.data_validations.dataValidation:
        last = max(int("".join(ch for ch in str(r).split(":")[-1] if ch.isdigit())) for r in dv.sqref.ranges)
        assert last >= 100_000, dv.sqref
    notes = " ".join(str(c.value) for row in wb["填表说明"].iter_rows() for c in row if c.value)
    assert "shangluo" not in notes and "`" not in notes and "商洛市统计局" in notes


def test_tables_workbook_has_the_figures_sheet_widths_and_formats(sample_build, tmp_path):
    shangluo("report", "--period", "2021", "--out", str(tmp_path), env=sample_build["env"])
    path = tmp_path / "tables-2021.xlsx"
    assert formula_cells(path) == []
    wb = openpyxl.load_workbook(path)
    figs = wb["指标 figures"]
    header = [c.value for c in figs[1]]
    assert header[:3] == ["指标编号 figure_id", "指标 label", "数值 value"]
    assert figs.max_row == 70 and figs.auto_filter.ref and figs.freeze_panes == "A2"
    rows = [dict(zip(header, r)) for r in figs.iter_rows(min_row=2, values_only=True)]
    incomplete = [r for r in rows if r["完整 complete"] == "否"]
    assert len(incomplete) == 2 and all(r["原因 reason"] for r in incomplete)
    ws = wb.worksheets[2]
    assert ws.auto_filter.ref and all(ws.column_dimensions[c].width >= 10 for c in "ABC")
    formats = {ws.cell(3, c).number_format for c in range(3, ws.max_column)}
    assert formats <= {"#,##0", "#,##0.0", "#,##0.00", "#,##0.000", "#,##0.0000", "General"} and formats - {"General"}
    cover = [r for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert any(r[0] and "来源" in r[0] for r in cover)


def test_help_for_every_option():
    import argparse
    from cli.main import parser
    commands = next(a for a in parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {"run", "validate", "sql", "report", "publish", "template", "dev",
                                     "portal", "user"}
    for name, sub in commands.choices.items():
        for action in sub._actions:
            assert action.help and len(action.help) > 10, (name, action.dest)


def test_a_closed_pipe_is_no_traceback(sample_build):
    cmd = f"{sys.executable} -m cli.main sql \"select * from range(200000)\" | head -1"
    proc = subprocess.run(["bash", "-c", cmd], cwd=ROOT, capture_output=True, text=True, env=sample_build["env"])
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_the_run_summary_explains_and_stays_quiet_without_a_terminal(sample_build):
    out = sample_build["stdout"]
    assert "▸" not in out and "\r" not in out and "\x1b" not in out                # no progress line into a pipe
    assert out.count("采用的报表含市本级（611000）1 份") == 2                          # why 71, per period
    assert "  不完整 incomplete: 上期空壳村：未采用：商州区表5（2020）" in out          # why 2021 has 67/69
    reports = sample_build["tmp"] / "reports"
    for period in ("2021", "2022"):
        assert (f"  报告 report: {reports}/report-{period}.md, {reports}/report-{period}.html, "
                f"{reports}/tables-{period}.xlsx") in out


def test_the_run_shows_its_steps_on_a_terminal(tmp_path):
    import os
    import pty
    main, terminal = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "cli.main", "run", "--period", "2021"], cwd=ROOT, env=cli_env(tmp_path),
                            stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal)
    os.close(terminal)
    seen = b""
    while True:
        try:
            chunk = os.read(main, 4096)
        except OSError:             # the run has ended and closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    assert proc.wait(timeout=600) == 0
    text = seen.decode("utf-8", "replace")
    assert "\r\x1b[K2021 ▸ 读取和检查报表 reading and checking returns" in text
    assert "2021 ▸ 表间核对、汇总和报告" in text and "2021: 报表 accepted 71" in text


def test_text_from_a_return_stays_text_in_every_workbook_we_write(tmp_path):
    from schemas.xlsx import append, put, save
    hostile = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1:A2)", "=HYPERLINK(\"http://x\")", "a\x01b\x1fc"]
    wb = openpyxl.Workbook()
    append(wb.active, hostile)
    put(wb.active, 2, 1, "=1+1")
    wb.active["B2"] = "=2+2"                  # a writer that forgot the helper: save still makes it text
    path = save(wb, tmp_path / "x.xlsx")
    assert formula_cells(path) == []
    ws = openpyxl.load_workbook(path).active
    assert [c.value for c in ws[1]] == hostile[:5] + ["abc"] and all(c.data_type == "s" for c in ws[1])
    assert ws["A2"].value == "=1+1" and ws["B2"].value == "=2+2"
