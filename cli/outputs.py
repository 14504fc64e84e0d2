"""`shangluo report`, `publish` and `template`: what the analyst and the clerks take away."""
from __future__ import annotations

from shangluo.config import Settings

from .common import EXIT_BUSY, EXIT_OK, EXIT_UNUSABLE, EXIT_USAGE, say as _say


def _open(settings: Settings, read_only: bool):
    from warehouse.db import WarehouseBusy, WarehouseUnusable, connect
    if not settings.warehouse.exists():
        _say(f"数据仓库不存在 / no warehouse at {settings.warehouse}: run `shangluo run` first")
        return None, EXIT_USAGE
    try:
        return connect(settings.warehouse, read_only=read_only, wait_seconds=settings.lock_wait_seconds), EXIT_OK
    except WarehouseBusy as exc:
        _say(str(exc))
        return None, EXIT_BUSY
    except WarehouseUnusable as exc:
        _say(str(exc))
        return None, EXIT_UNUSABLE


def cmd_report(args) -> int:
    from publish.report import write
    con, code = _open(Settings.from_env(), read_only=True)
    if con is None:
        return code
    try:
        rep, paths = write(con, args.period, args.out)
    except LookupError as exc:
        _say(str(exc))
        return EXIT_USAGE
    finally:
        con.close()
    for p in paths:
        _say(str(p))
    if rep.reconciliation:
        _say(f"与公开发布数字核对 / reconciliation: {rep.reconciled}/{len(rep.reconciliation)} equal")
    if rep.vintage:
        _say(f"与已发布版本 {rep.vintage[0]} 相比修订 / revisions against the published vintage: {len(rep.revisions)}")
    return EXIT_OK


def cmd_publish(args) -> int:
    from publish.vintage import publish
    from warehouse.db import forget_stamps, transaction
    con, code = _open(Settings.from_env(), read_only=False)
    if con is None:
        return code
    try:
        with transaction(con):
            vintage, n = publish(con, args.period, args.note or "")
            # P's report compares its figures with P's latest vintage: the next run writes it again
            forget_stamps(con, [args.period])
    except LookupError as exc:
        _say(str(exc))
        return EXIT_USAGE
    finally:
        con.close()
    _say(f"已发布版本 / published vintage {vintage}: {n} figures")
    return EXIT_OK


def cmd_template(args) -> int:
    from schemas.catalogue import RETURNS, match_return
    from schemas.template import template_name, write_template
    wanted = [match_return(r) for r in args.returns] if args.returns else list(RETURNS.values())
    if None in wanted:
        _say(f"未知报表 / unknown return: {[r for r, w in zip(args.returns, wanted) if w is None]}")
        return EXIT_USAGE
    for ret in {ret.return_id: ret for ret in wanted}.values():    # 表2 and guarantees are one return: one file
        _say(str(write_template(ret, args.out / template_name(ret))))
    return EXIT_OK
