"""`shangluo`: the command line for what is not Dagster's.

    shangluo run [--period P] [--county C] [--force] [--rekey]   materialise everything in-process
    shangluo validate PATH... [--period P] [--county C] [--json] [--xlsx FILE]
    shangluo sql "select ..."                            read-only query of the warehouse
    shangluo report --period P --out DIR                 the report, its tables, reconciliation and revisions
    shangluo publish --period P                          freeze the figures as a published vintage
    shangluo template [RETURN_ID...] --out DIR           blank Excel returns for the clerks
    shangluo dev                                         the Dagster UI on 127.0.0.1
    shangluo portal [--host 127.0.0.1] [--port 8080]     the returns portal for clerks and the city
    shangluo user add NAME --county CODE|city --role clerk|analyst   (password on stdin); user list; user disable NAME

Exit codes: 0 done (rejected submissions are data, not failure); 1 hard errors (validate) or a
failed run (also a failed commit); 2 bad usage or unusable input (also another pseudonym key);
3 the warehouse is busy; 4 the warehouse cannot be opened (corrupt, unreadable); 130 interrupted
(Ctrl-C), 143 stopped by SIGTERM (`run`; nothing unfinished stored either way).
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from pathlib import Path

from . import interrupts


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="shangluo", description="商洛市乡村振兴统计报表 / Shangluo rural-revitalisation returns")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="materialise everything in-process (bundled sample unless SHANGLUO_LANDING is set)")
    p.add_argument("--period", metavar="YEAR", help="only this period, e.g. 2022 (default: every period folder in landing)")
    p.add_argument("--county", metavar="CODE", help="only this county's submissions, e.g. 611002 (default: every county)")
    p.add_argument("--force", action="store_true", help="parse and check again even what has not changed")
    p.add_argument("--rekey", action="store_true",
                   help="SHANGLUO_PII_KEY changed: read every version of every period again with the new key")
    p.set_defaults(func="run:cmd_run")
    p = sub.add_parser("validate", help="check return files before sending them; no warehouse needed")
    p.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="return files or folders (<period>/<county>/...)")
    p.add_argument("--period", metavar="YEAR", help="the period when the path does not name it, e.g. 2022")
    p.add_argument("--county", metavar="CODE", help="the county code when the path does not name it, e.g. 611002")
    p.add_argument("--json", action="store_true", help="print the violations as JSON (columns of quality.violations)")
    p.add_argument("--xlsx", type=Path, metavar="FILE",
                   help="also write a 审核反馈表 workbook for the clerk (its sheet 说明, sent back, explains warnings)")
    p.set_defaults(func="validate:validate_paths")
    p = sub.add_parser("sql", help="a read-only query of the warehouse")
    p.add_argument("query", help="one SQL statement (select, describe, show, ...)")
    p.add_argument("--json", action="store_true", help="print the rows as JSON instead of a table")
    p.set_defaults(func="sql:cmd_sql")
    p = sub.add_parser("report", help="the report of a period: report-P.md, report-P.html, tables-P.xlsx")
    p.add_argument("--period", required=True, metavar="YEAR", help="the period of the report, e.g. 2022")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the three files into")
    p.set_defaults(func="outputs:cmd_report")
    p = sub.add_parser("publish", help="freeze the figures of a period as a published vintage")
    p.add_argument("--period", required=True, metavar="YEAR", help="the period to freeze, e.g. 2022")
    p.add_argument("--note", help="a note kept with the vintage, e.g. 2022年度公报")
    p.set_defaults(func="outputs:cmd_publish")
    p = sub.add_parser("template", help="blank Excel returns with drop-downs and instructions")
    p.add_argument("returns", nargs="*", metavar="RETURN_ID", help="表1 … 表10 or return ids (default: all ten)")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="the folder to write the templates into")
    p.set_defaults(func="outputs:cmd_template")
    p = sub.add_parser("dev", help="the Dagster UI on 127.0.0.1")
    p.add_argument("--port", type=int, default=3000, help="the port on 127.0.0.1 (default: 3000)")
    p.set_defaults(func="dev:cmd_dev")
    p = sub.add_parser("portal", help="the returns portal for county clerks and the city (127.0.0.1 unless told)")
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8080, help="the port to listen on (default: 8080)")
    p.add_argument("--proxy-headers", action="store_true", help="trust X-Forwarded-For from a proxy on 127.0.0.1")
    p.set_defaults(func="portal:cmd_portal")
    p = sub.add_parser("user", help="portal accounts: add NAME --county CODE|city --role clerk|analyst (password on stdin), list, disable NAME")
    p.add_argument("action", choices=("add", "list", "disable"),
                   help="add a user (password on standard input), list users, or disable one")
    p.add_argument("name", nargs="?", help="the user's sign-in name (add, disable)")
    p.add_argument("--county", metavar="CODE|city", help="a clerk's county code (e.g. 611002), or city for the analyst")
    p.add_argument("--role", choices=("clerk", "analyst"), help="clerk (one county) or analyst (the city)")
    p.set_defaults(func="user:cmd_user")
    return ap


def main(argv=None) -> int:
    ap = parser()
    args = ap.parse_args(argv)
    if args.command == "run" and args.period and not (args.period.isdigit() and len(args.period) == 4):
        ap.error("--period is a year such as 2022")
    if args.command == "run" and args.rekey and args.county:
        ap.error("--rekey reads every county and period again: leave out --county")
    module, name = args.func.split(":")      # each command imports only what it needs
    # Ctrl-C, and for `run` SIGTERM too (a service manager's stop, `timeout`, `kill`): rolled back and
    # reported alike; before, SIGTERM killed a run at once, leaving its report files in .pending folders
    interrupts.install(terminate=args.command == "run")
    try:
        return getattr(importlib.import_module(f"cli.{module}"), name)(args)
    except BrokenPipeError:                  # `shangluo sql … | head`: the reader has gone, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # so the exit's flush fails silently
        return 1
    except Exception:
        # a signal during a DuckDB statement on this thread comes back as RuntimeError('Query
        # interrupted') (DuckDB swallows the KeyboardInterrupt): an interruption all the same
        if not interrupts.RECEIVED:
            raise
        _interrupted()
    except KeyboardInterrupt:      # what was not committed is discarded by DuckDB
        _interrupted()


def _interrupted():
    interrupts.ignore()           # a second Ctrl-C (or one passed on) ends nothing half-way
    print("已中断：未完成的改动均未保存 / interrupted: nothing unfinished was stored", flush=True)
    sys.stderr.flush()
    # exit at once with the shell's code for Ctrl-C (130; 143 for SIGTERM): nothing is left to do
    # (the command's connections are closed), and an interpreter that saw the KeyboardInterrupt
    # elsewhere first would otherwise end killed by SIGINT
    os._exit(interrupts.exit_code())


if __name__ == "__main__":
    sys.exit(main())
