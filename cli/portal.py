"""`shangluo portal`: the returns portal for the county clerks and the city analyst."""
from __future__ import annotations

from .common import EXIT_OK, say


def cmd_portal(args) -> int:
    import uvicorn

    from portal.app import create_app, mask_server_logs
    from portal.files import contain_temporary_files
    from portal.store import db_path
    contain_temporary_files()                    # a large upload is spooled to disk: inside landing
    mask_server_logs()                           # an address typed with an ID number in it: logged masked
    say(f"商洛市乡村振兴统计联网直报 http://{args.host}:{args.port}/  (portal database {db_path()})")
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        say("注意：门户不只监听本机，请放在带TLS的反向代理之后 / the portal listens beyond this machine: "
            "put it behind a TLS reverse proxy (deploy/portal/README.md)")
    uvicorn.run(create_app(), host=args.host, port=args.port, proxy_headers=args.proxy_headers,
                forwarded_allow_ips="127.0.0.1" if args.proxy_headers else None, server_header=False,
                log_level="info")
    return EXIT_OK
