"""The returns portal (联网直报): county clerks check and submit returns, the city follows them
and sends them back.  Server-side pages, no script, nothing from outside; every access rule is
enforced here, on the server: a clerk's county comes from her account, never from the request."""
from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import traceback
from functools import wraps
from pathlib import Path
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from schemas.catalogue import RETURNS
from schemas.core import AREAS, CITY_CODE, COUNTIES, HARD
from schemas.template import template_name, write_template
from intake import landing
from shangluo.config import Settings, deadline

from . import auth, files, reads, store

HERE = Path(__file__).parent
SHOWN = 1000                     # violations listed on a page; the 审核反馈表 has them all
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
SESSION_COOKIE = "shangluo_session"
LOGIN_COOKIE = "shangluo_login_csrf"
STATE_ZH = {"accepted": "已采用", "rejected": "未通过", "missing": "未报送", "superseded": "已替代", "withdrawn": "已撤回"}
ACTION_ZH = {"returned": "退回", "reviewed": "已审核"}
TEMPLATES.env.filters["when"] = lambda t: "" if t is None else str(t)[:19].replace("T", " ")
TEMPLATES.env.globals.update(AREAS=AREAS, RETURNS=RETURNS, STATE_ZH=STATE_ZH, ACTION_ZH=ACTION_ZH, HARD=HARD)
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def secure_cookies() -> bool:
    import os
    return os.environ.get("SHANGLUO_PORTAL_SECURE_COOKIES", "") not in ("", "0", "false")


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "-"


def periods() -> list[str]:
    from shangluo.config import _periods
    found = set(landing.periods(Settings.from_env().landing)) | {p for p in _periods() if str(p).isdigit()}
    return sorted(found, reverse=True)


def period_of(request: Request) -> str:
    known = periods()
    asked = request.query_params.get("period")
    if asked:
        if asked not in known:
            raise HTTPException(404, "没有这个报告期 / no such period")
        return asked
    if not known:
        raise HTTPException(404, "还没有任何报告期 / no period yet")
    return known[0]


def render(request: Request, name: str, status: int = 200, **context) -> Response:
    context.setdefault("user", getattr(request.state, "user", None))
    response = TEMPLATES.TemplateResponse(request, name, context, status_code=status)
    return response


def page(role: str | None = None):
    """A page that needs a session (and, for role='analyst', the city); POSTs need the CSRF token."""
    def wrap(fn):
        @wraps(fn)
        async def endpoint(request: Request):
            with store.connect() as con:
                user = auth.session_user(con, request.cookies.get(SESSION_COOKIE))
            if user is None:
                if request.method == "GET":
                    return RedirectResponse("/login", 303)
                raise HTTPException(403, "请先登录 / sign in first")
            if role and user["role"] != role:
                raise HTTPException(403, "无权访问 / not allowed")
            request.state.user = user
            if request.method == "POST":
                await check_size(request)
                form = await request.form(max_files=1, max_fields=2000, max_part_size=64 * 1024)
                if not auth.same(form.get("csrf"), user["csrf"]):
                    raise HTTPException(403, "表单已失效，请刷新页面后重试 / the form has expired (CSRF): reload the page")
                request.state.form = form
            return await fn(request)
        return endpoint
    return wrap


async def check_size(request: Request):
    length = request.headers.get("content-length")
    if length is None or not length.isdigit():
        raise HTTPException(411, "需要Content-Length / Content-Length required")
    if int(length) > files.max_upload_bytes() + 64 * 1024:
        raise HTTPException(413, f"文件太大（上限{files.max_upload_bytes() // 2**20} MB） / the file is too large "
                                 f"(limit {files.max_upload_bytes() // 2**20} MB)")


def may_see(user: dict, county: str) -> bool:
    return county in AREAS and (user["role"] == "analyst" or user["county"] == county)


def county_of(request: Request) -> str:
    county = request.path_params["county"]
    if not may_see(request.state.user, county):
        raise HTTPException(404, "没有这个页面 / not found")   # the same answer as for a county that does not exist
    return county


def own_county(request: Request) -> tuple[str, str, dict]:
    """The county, period and user of a page that only the county's own clerk may use."""
    county, user = county_of(request), request.state.user
    if user["county"] != county:
        raise HTTPException(404, "没有这个页面 / not found")
    return county, period_of(request), user


def scratch() -> Path:
    """A folder for one download, removed once it is sent (`download`)."""
    return Path(tempfile.mkdtemp(prefix="shangluo-portal-"))


def download(path: Path, name: str, media_type: str, folder: Path) -> Response:
    return FileResponse(path, media_type=media_type, headers={
        "Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}", **SECURITY_HEADERS},
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# ------------------------------------------------------------------ signing in

async def login(request: Request):
    if request.method == "GET":
        token = secrets.token_urlsafe(24)
        response = render(request, "login.html", csrf=token, error=None, user=None)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(), path="/login")
        return response
    await check_size(request)
    form = await request.form(max_files=0, max_fields=10, max_part_size=4096)
    if not auth.same(form.get("csrf"), request.cookies.get(LOGIN_COOKIE)):
        raise HTTPException(403, "表单已失效，请刷新页面后重试 / the form has expired (CSRF): reload the page")
    name, password, ip = str(form.get("name", "")).strip(), str(form.get("password", "")), client_ip(request)
    with store.connect() as con:
        if auth.rate_limited(con, name, ip):
            store.audit(con, "login", ip=ip, target=name, decision="rate-limited")
            return render(request, "login.html", 429, csrf=form.get("csrf"), user=None,
                          error="登录失败次数过多，请15分钟后再试 / too many failed sign-ins: try again in 15 minutes")
        token = await run_in_threadpool(auth.sign_in, con, name, password, ip)
    if token is None:
        return render(request, "login.html", 401, csrf=form.get("csrf"), user=None,
                      error="用户名或密码错误 / wrong user name or password")
    response = RedirectResponse("/", 303)
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", secure=secure_cookies(),
                        max_age=int(auth.max_session_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@page()
async def logout(request: Request):
    with store.connect() as con:
        auth.sign_out(con, request.cookies.get(SESSION_COOKIE))
        store.audit(con, "logout", user=request.state.user, ip=client_ip(request))
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE)
    return response


@page()
async def home(request: Request):
    user = request.state.user
    return RedirectResponse("/city" if user["role"] == "analyst" else f"/county/{user['county']}", 303)


# ------------------------------------------------------------------ the county page

def _reviews(con, period: str, county: str, return_id: str | None = None) -> list[dict]:
    sql, params = "select * from reviews where period = ? and county = ?", [period, county]
    if return_id:
        sql, params = sql + " and return_id = ?", params + [return_id]
    return [dict(r) for r in con.execute(sql + " order by id desc", params)]


def _latest_reviews(con, period: str, county: str | None = None) -> dict[tuple[str, str], dict]:
    sql = "select * from reviews where period = ?" + (" and county = ?" if county else "") + " order by id"
    return {(r["county"], r["return_id"]): dict(r) for r in con.execute(sql, [period] + ([county] if county else []))}


@page()
async def county_page(request: Request):
    county, period = county_of(request), period_of(request)
    rows, warnings, unavailable = [], [], None
    with store.connect() as con:
        sent = [dict(r) for r in con.execute(
            "select u.*, us.name as user_name from uploads u join users us on us.id = u.user_id "
            "where u.county = ? and u.period = ? and u.submitted_at is not null order by u.submitted_at desc limit 20",
            [county, period])]
        latest = _latest_reviews(con, period, county)
        pending = [dict(r) for r in con.execute(
            "select id, original_name, created_at from uploads where county = ? and period = ? and "
            "submitted_at is null and created_at >= ? order by created_at desc limit 10",
            [county, period, store.since(files.UPLOAD_TTL_SECONDS)])] if request.state.user["role"] == "clerk" else []
    decided = {}
    try:
        with reads.warehouse() as wh:
            rows = reads.status(wh, period, county)
            warnings = [v for v in reads.violations(wh, period, county) if v["severity"] == "soft" and v["status"] == "open"][:SHOWN]
            decided = reads.decisions(wh, [(u["landing_source"], u["sha256"]) for u in sent])
    except reads.Unavailable as exc:
        unavailable = exc
    by_return = {r["return_id"]: r for r in rows}
    table = [dict(by_return.get(rid) or {"return_id": rid, "state": None}, ret=ret, review=latest.get((county, rid)))
             for rid, ret in RETURNS.items()]
    for u in sent:
        u["decision"] = decided.get((u["landing_source"], u["sha256"]))
    waiting = any(u["decision"] is None for u in sent[:3])
    returned = [r for r in latest.values() if r["action"] == "returned"]     # not yet marked reviewed since
    return render(request, "county.html", county=county, period=period, periods=periods(), table=table,
                  warnings=warnings, sent=sent, returned=returned, pending=pending, unavailable=unavailable, waiting=waiting,
                  deadline=deadline(period))


@page()
async def template_download(request: Request):
    ret = RETURNS.get(request.path_params["return_id"])
    if ret is None:
        raise HTTPException(404, "没有这个报表 / no such return")
    out = scratch() / "t.xlsx"
    await run_in_threadpool(write_template, ret, out)
    return download(out, template_name(ret), XLSX, out.parent)


@page()
async def county_feedback(request: Request):
    county, period = county_of(request), period_of(request)
    try:
        with reads.warehouse() as wh:
            rows = reads.violations(wh, period, county)
    except reads.Unavailable as exc:
        raise HTTPException(503, str(exc))
    out = scratch() / "f.xlsx"
    await run_in_threadpool(files.feedback, rows, out, period, county)
    return download(out, f"审核反馈表-{period}-{county}-{AREAS[county]}.xlsx", XLSX, out.parent)


@page(role="clerk")
async def explain(request: Request):
    """Explanations (说明) of the warnings the pipeline found, written as the county's 说明.csv."""
    county, period, user = own_county(request)
    form = request.state.form
    answers = []
    for i in range(int(form.get("count", "0") or 0)):
        table, rule = str(form.get(f"t{i}", "")), str(form.get(f"r{i}", ""))
        if table in RETURNS and rule:
            answers.append((RETURNS[table].table_label, rule, str(form.get(f"k{i}", "")), str(form.get(f"e{i}", ""))))
    with files.LANDING_LOCK:
        put = files.put_explanations(period, county, answers)
    with store.connect() as con:
        store.audit(con, "explain", user=user, ip=client_ip(request), period=period,
                    target=put["source"] if put else None, decision=f"{len(answers)} explanations",
                    sha256=landing.file_sha256(put["target"]) if put else None)
    return RedirectResponse(f"/county/{county}?period={period}", 303)


# ------------------------------------------------------------------ uploads

@page(role="clerk")
async def upload(request: Request):
    county, period, user = own_county(request)
    form = request.state.form
    up = form.get("file")
    chosen = str(form.get("return_id") or "") or None
    try:
        if up is None or not hasattr(up, "read") or not up.filename:
            raise files.Refused("请选择文件 / choose a file")
        if chosen and chosen not in RETURNS:
            raise files.Refused("没有这个报表 / no such return")
        suffix = files.suffix_of(up.filename)
        if up.size is not None and up.size > files.max_upload_bytes():
            raise files.Refused(f"文件太大（上限{files.max_upload_bytes() // 2**20} MB） / the file is too large")
        head = await up.read(8192)
        files.check_type(suffix, head)
        name = files.stored_name(up.filename, suffix, chosen)
    except files.Refused as exc:
        return await _county_with_error(request, str(exc))
    upload_id, folder = files.new_upload_dir()
    path = folder / name
    size = 0
    with path.open("wb") as fh:
        fh.write(head)
        size += len(head)
        while block := await up.read(1 << 20):
            size += len(block)
            if size > files.max_upload_bytes():
                break
            fh.write(block)
    try:
        if size > files.max_upload_bytes():
            raise files.Refused("文件太大 / the file is too large")
        files.check_unpacked(path)
    except files.Refused as exc:
        shutil.rmtree(folder)
        return await _county_with_error(request, str(exc))
    from cli.validate import check_file
    import io
    log = io.StringIO()
    rows, unusable = await run_in_threadpool(check_file, path, period, county, Settings.from_env().pii_key(), log)
    returns, notes = await run_in_threadpool(files.returns_in, path)
    for r in rows:
        r["source"] = name
    sha = landing.file_sha256(path)
    hard = sum(1 for r in rows if r["severity"] == HARD)
    with store.connect() as con:
        con.execute("insert into uploads (id, user_id, county, period, stored_name, original_name, sha256, size, "
                    "created_at, findings, returns, notes, unusable) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [upload_id, user["id"], county, period, name, store.masked(up.filename[:200]), sha, size,
                     store.now(), store.masked(json.dumps(rows, ensure_ascii=False, default=str)), json.dumps(returns),
                     store.masked(json.dumps(notes, ensure_ascii=False)), int(unusable)])
        store.audit(con, "upload", user=user, ip=client_ip(request), period=period, target=name, sha256=sha,
                    decision="unusable" if unusable else f"hard={hard} soft={len(rows) - hard}")
    return RedirectResponse(f"/upload/{upload_id}", 303)


async def _county_with_error(request: Request, message: str) -> Response:
    return render(request, "error.html", 400, message=message,
                  back=f"/county/{request.path_params['county']}")


def _own_upload(request: Request, con) -> dict:
    """An upload of the signed-in clerk's county; any other identifier is simply not found."""
    row = con.execute("select * from uploads where id = ?", [request.path_params["upload_id"]]).fetchone()
    user = request.state.user
    if row is None or user["role"] != "clerk" or row["county"] != user["county"]:
        raise HTTPException(404, "没有这个页面 / not found")
    up = dict(row)
    up["findings"], up["returns"], up["notes"] = (json.loads(up["findings"]), json.loads(up["returns"]),
                                                   json.loads(up["notes"]))
    up["hard"] = sum(1 for r in up["findings"] if r["severity"] == HARD)
    return up


@page(role="clerk")
async def upload_page(request: Request):
    with store.connect() as con:
        up = _own_upload(request, con)
    return render(request, "upload.html", up=up, county=up["county"], period=up["period"], shown=SHOWN)


@page(role="clerk")
async def upload_feedback(request: Request):
    with store.connect() as con:
        up = _own_upload(request, con)
    out = scratch() / "f.xlsx"
    await run_in_threadpool(files.feedback, up["findings"], out, up["period"], up["county"])
    return download(out, f"审核反馈表-{up['period']}-{up['county']}-{up['stored_name']}.xlsx", XLSX, out.parent)


@page(role="clerk")
async def submit(request: Request):
    user, form = request.state.user, request.state.form
    with store.connect() as con:
        up = _own_upload(request, con)
    if up["submitted_at"]:
        return RedirectResponse(f"/county/{up['county']}?period={up['period']}", 303)
    if up["unusable"] or up["hard"] or not up["returns"]:
        return _refuse(request, up, 400, "有强制性错误的文件不能报送，请修改后重新上传 / a file with hard errors cannot "
                                         "be submitted: correct it and upload it again")
    answers = []
    for i, r in enumerate(up["findings"]):
        text = str(form.get(f"e{i}", "")).strip()
        if r["severity"] != HARD and text:
            answers.append((RETURNS[r["return_id"]].table_label, r["rule_id"], r.get("business_key") or "", text))
    path = files.upload_path(up["id"], up["stored_name"])
    if not path.is_file():
        return _refuse(request, up, 410, "上传已过期（保留一天），请重新上传 / the upload has expired (kept a day): upload again")
    if landing.file_sha256(path) != up["sha256"]:
        return _refuse(request, up, 409, "上传文件已变化，请重新上传 / the upload has changed: upload again")
    try:
        put, explained = await run_in_threadpool(_put, up, path, answers)
    except files.Refused as exc:
        return _refuse(request, up, 409, str(exc))
    shutil.rmtree(path.parent, ignore_errors=True)           # the file is in landing now: no second copy
    with store.connect() as con:
        con.execute("update uploads set submitted_at = ?, landing_source = ? where id = ?",
                    [store.now(), put["source"], up["id"]])
        store.audit(con, "submit", user=user, ip=client_ip(request), period=up["period"], target=put["source"],
                    sha256=up["sha256"], decision=f"submitted; soft={len(up['findings'])}",
                    detail=json.dumps({"replaced": [p.name for p in put["archived"]],
                                       "returns": up["returns"]}, ensure_ascii=False))
        if explained:
            store.audit(con, "explain", user=user, ip=client_ip(request), period=up["period"],
                        target=explained["source"], sha256=landing.file_sha256(explained["target"]),
                        decision=f"{len(answers)} explanations")
    return RedirectResponse(f"/county/{up['county']}?period={up['period']}", 303)


def _put(up: dict, path: Path, answers: list) -> tuple[dict, dict | None]:
    with files.LANDING_LOCK:
        put = files.put_into_landing(up["period"], up["county"], path, up["returns"])
        return put, files.put_explanations(up["period"], up["county"], answers)


def _refuse(request: Request, up: dict, status: int, message: str) -> Response:
    with store.connect() as con:
        store.audit(con, "submit", user=request.state.user, ip=client_ip(request), period=up["period"],
                    target=up["stored_name"], sha256=up["sha256"], decision="refused", detail=message)
    return render(request, "error.html", status, message=message, back=f"/upload/{up['id']}")


# ------------------------------------------------------------------ one return of one county

@page()
async def return_page(request: Request):
    county, period = county_of(request), period_of(request)
    ret = RETURNS.get(request.path_params["return_id"])
    if ret is None:
        raise HTTPException(404, "没有这个报表 / no such return")
    state, hist, viols, unavailable = None, [], [], None
    try:
        with reads.warehouse() as wh:
            state = next(iter(r for r in reads.status(wh, period, county) if r["return_id"] == ret.return_id), None)
            hist = reads.history(wh, period, county, ret.return_id)
            viols = reads.violations(wh, period, county, ret.return_id)
    except reads.Unavailable as exc:
        unavailable = exc
    shown = request.query_params.get("submission") or (state or {}).get("submission_id") or (hist[0]["submission_id"] if hist else None)
    if shown and shown not in {h["submission_id"] for h in hist}:
        raise HTTPException(404, "没有这个版本 / no such version")
    viols = [v for v in viols if v["submission_id"] in (shown, None)][:SHOWN]
    with store.connect() as con:
        reviews = _reviews(con, period, county, ret.return_id)
    return render(request, "return.html", county=county, period=period, ret=ret, state=state, history=hist,
                  violations=viols, shown=shown, reviews=reviews, unavailable=unavailable)


@page(role="analyst")
async def review(request: Request):
    county, period = county_of(request), period_of(request)
    ret = RETURNS.get(request.path_params["return_id"])
    form = request.state.form
    action = str(form.get("action", ""))
    comment = store.masked(str(form.get("comment", "")).strip()[:2000])     # kept outside landing
    if ret is None or action not in ACTION_ZH:
        raise HTTPException(400, "无效的操作 / invalid action")
    if action == "returned" and not comment:
        return render(request, "error.html", 400, message="退回需要填写意见 / a send-back needs a comment",
                      back=f"/county/{county}/return/{ret.return_id}?period={period}")
    user = request.state.user
    with store.connect() as con:
        con.execute("insert into reviews (period, county, return_id, submission_id, action, comment, user_name, at) "
                    "values (?, ?, ?, ?, ?, ?, ?, ?)",
                    [period, county, ret.return_id, store.masked(str(form.get("submission_id", ""))[:200]) or None,
                     action, comment, user["name"], store.now()])
        store.audit(con, f"review.{action}", user=user, ip=client_ip(request), period=period, county=county,
                    target=ret.return_id, decision=action, detail=comment)
    return RedirectResponse(f"/county/{county}/return/{ret.return_id}?period={period}", 303)


# ------------------------------------------------------------------ the city

@page(role="analyst")
async def city(request: Request):
    period = period_of(request)
    cells, unavailable = {}, None
    try:
        with reads.warehouse() as wh:
            cells = {(r["county_code"], r["return_id"]): r for r in reads.status(wh, period)}
    except reads.Unavailable as exc:
        unavailable = exc
    with store.connect() as con:
        latest = _latest_reviews(con, period)
    counties = list(COUNTIES) + [CITY_CODE]
    return render(request, "city.html", period=period, periods=periods(), counties=counties, cells=cells,
                  latest=latest, unavailable=unavailable)


REPORT_KINDS = {"md": (0, "text/markdown; charset=utf-8"), "html": (1, "text/html; charset=utf-8"), "xlsx": (2, XLSX)}


@page(role="analyst")
async def city_report(request: Request):
    period, kind = period_of(request), request.path_params["kind"]
    if kind not in REPORT_KINDS:
        raise HTTPException(404, "没有这个文件 / not found")
    from publish.report import write
    out = scratch()
    try:
        with reads.warehouse() as wh:
            _, paths = await run_in_threadpool(write, wh, period, out)
    except reads.Unavailable as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise HTTPException(503, str(exc))
    except LookupError as exc:
        shutil.rmtree(out, ignore_errors=True)
        raise HTTPException(404, str(exc))
    index, media = REPORT_KINDS[kind]
    return download(paths[index], paths[index].name, media, out)


# ------------------------------------------------------------------ the application

async def http_error(request: Request, exc: HTTPException):
    response = render(request, "error.html", exc.status_code, message=exc.detail, back="/")
    return response


class SecurityHeaders:
    """Adds the security headers to every response, pages, files and errors alike."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        async def sending(message):
            if message["type"] == "http.response.start":
                present = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items() if k.lower().encode() not in present]
            await send(message)
        await self.app(scope, receive, sending if scope["type"] == "http" else send)


class MaskedErrors:
    """An unexpected error: a plain 500 page, and the traceback logged with anything shaped like
    an ID number masked (a reader's or DuckDB's message may quote a cell), never re-raised to the
    server, which would log it in clear."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        started = False

        async def sending(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)
        try:
            await self.app(scope, receive, sending)
        except Exception:
            logging.getLogger("shangluo.portal").error("%s", store.masked(traceback.format_exc()))
            if scope["type"] == "http" and not started:
                await Response("服务器内部错误 / internal server error", 500, media_type="text/plain; charset=utf-8",
                               headers=SECURITY_HEADERS)(scope, receive, send)


class MaskedLog(logging.Filter):
    """The server's own log lines (uvicorn's access and error logs quote the requested address,
    which anyone may type an ID number into) with anything shaped like an ID number masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = store.masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(store.masked(a) for a in record.args)
        return True


def mask_server_logs():
    """For the serving process (`shangluo portal`): uvicorn's loggers get `MaskedLog`."""
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(MaskedLog())


def create_app() -> Starlette:
    routes = [
        Route("/", home), Route("/login", login, methods=["GET", "POST"]), Route("/logout", logout, methods=["POST"]),
        Route("/template/{return_id}", template_download),
        Route("/county/{county}", county_page),
        Route("/county/{county}/feedback", county_feedback),
        Route("/county/{county}/explain", explain, methods=["POST"]),
        Route("/county/{county}/upload", upload, methods=["POST"]),
        Route("/county/{county}/return/{return_id}", return_page),
        Route("/county/{county}/return/{return_id}/review", review, methods=["POST"]),
        Route("/upload/{upload_id}", upload_page),
        Route("/upload/{upload_id}/feedback", upload_feedback),
        Route("/upload/{upload_id}/submit", submit, methods=["POST"]),
        Route("/city", city), Route("/city/report.{kind}", city_report),
        Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error},
                    middleware=[Middleware(MaskedErrors), Middleware(SecurityHeaders)])
    with store.connect():
        pass                                     # create the portal database before the first request
    files.expire_uploads()                       # uploads left from before a restart
    return app
