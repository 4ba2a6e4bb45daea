"""`kadr serve` and `kadr users …`; kadr/cli.py adds them with :func:`register`.

Every option has an environment variable too (``KADR_DATA``, ``KADR_DB``, ``KADR_WORKERS`` …, see
kadr.service.settings); a flag given on the command line wins.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import socket
import sys
import time
import warnings
from datetime import datetime, timezone
from typing import Any, Callable

from pydantic import ValidationError

from kadr.service.jobfiles import JobFiles
from kadr.service.plans import load_plans
from kadr.service.settings import ServiceSettings, UnsafeSettingsError, check_safety, cuda_device_count, parse_devices


def register(subparsers: Any) -> None:
    """Add ``serve`` and ``users`` to the ``kadr`` command's subparsers."""
    serve = subparsers.add_parser("serve", help="run the studio: HTTP API (OpenAI-compatible), workers, web page")
    serve.add_argument("--host", help="address to bind (default 127.0.0.1; others need a user first)")
    serve.add_argument("--port", type=int, help="port (default 8000; 0: any free port, printed at start)")
    serve.add_argument("--workers", type=int, help="generation worker processes (default 1)")
    serve.add_argument("--devices", help="one device per worker, in turn: auto (every GPU) or cuda:0,cuda:1,...")
    serve.add_argument("--ray", metavar="ADDRESS",
                       help="generate on a Ray cluster: auto (the local one), HOST:PORT or ray://HOST:PORT")
    serve.add_argument("--ray-actors", type=int, help="Ray actors (default: one per GPU; with no GPU, --workers)")
    serve.add_argument("--allow-insecure", action="store_true", default=None,
                       help="local development: allow a non-loopback address with no users")
    serve.add_argument("--log-level", choices=["critical", "error", "warning", "info", "debug"])
    serve.add_argument("--access-log", action="store_true", help="log every request")
    _store_options(serve)
    serve.set_defaults(func=cmd_serve)

    users = subparsers.add_parser("users", help="users and their API keys: add, list, remove, set, key")
    users_sub = users.add_subparsers(metavar="ACTION")
    add = users_sub.add_parser("add", help="add a user; prints the new API key on the last line")
    add.add_argument("name")
    add.add_argument("--plan", help="a plan from the plans file (default: its default plan)")
    add.add_argument("--webhook", help="URL told when the user's videos complete or fail (prints its secret)")
    _store_options(add)
    add.set_defaults(func=cmd_users_add)
    listing = users_sub.add_parser("list", help="list users")
    listing.add_argument("--json", action="store_true")
    _store_options(listing)
    listing.set_defaults(func=cmd_users_list)
    remove = users_sub.add_parser("remove", help="remove a user, their key and their videos")
    remove.add_argument("name")
    _store_options(remove)
    remove.set_defaults(func=cmd_users_remove)
    change = users_sub.add_parser("set", help="change a user's plan or webhook")
    change.add_argument("name")
    change.add_argument("--plan")
    change.add_argument("--webhook", help="new webhook URL (a new secret is printed)")
    change.add_argument("--no-webhook", action="store_true", help="stop sending webhooks")
    _store_options(change)
    change.set_defaults(func=cmd_users_set)
    key = users_sub.add_parser("key", help="give a user a new API key (the old one stops working); prints it last")
    key.add_argument("name")
    _store_options(key)
    key.set_defaults(func=cmd_users_key)
    users.set_defaults(func=lambda _args: (users.print_help(sys.stderr), 2)[1])


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", help="data directory (default $KADR_HOME/studio)")
    parser.add_argument("--db", help="store URL: sqlite:///PATH or postgresql://USER@HOST:PORT/NAME (default: SQLite in --data)")
    parser.add_argument("--plans", dest="plans_file", help="plans file, TOML (default: DATA/plans.toml, else built in)")


def settings_from(args: argparse.Namespace) -> ServiceSettings:
    """Settings from the environment, with the flags given on the command line on top."""
    names = ("host", "port", "workers", "devices", "ray", "ray_actors", "allow_insecure", "log_level", "data", "db", "plans_file")
    given = {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}
    try:
        return ServiceSettings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        raise SystemExit(f"kadr: error: {'.'.join(str(p) for p in first['loc'])}: {first['msg']}") from None


# ---- serve ------------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from kadr.service.app import create_app
    from kadr.service.http_guard import ConnectionLimits, RedactQueryFilter, guarded_protocol
    from kadr.service.store import Database, UserStore

    settings = settings_from(args)
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(name)s: %(message)s")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"kadr\.")  # notes reach clients as job warnings
    load_plans(settings.plans_path)  # a broken plans file stops the start, with its message
    db = Database(settings.database_url)
    try:
        db.create_schema()
        users = UserStore(db).count()
    finally:
        db.close()
    try:
        for note in check_safety(settings, users):
            print(f"kadr: warning: {note}", file=sys.stderr)
    except UnsafeSettingsError as exc:
        print(f"kadr: error: {exc}", file=sys.stderr)
        return 2
    if settings.devices:
        try:
            devices = parse_devices(settings.devices, cuda_device_count())
        except ValueError as exc:
            print(f"kadr: error: {exc}", file=sys.stderr)
            return 2
        if args.workers is None:  # one worker per device unless told otherwise
            settings = settings.model_copy(update={"workers": len(devices)})
        for index in range(settings.workers):
            device = devices[index % len(devices)]
            print(f"kadr: worker {index} on {device}: {memory_note(device)}", file=sys.stderr)
    if settings.ray:  # reach the cluster before listening, so a wrong address is one clear line
        from kadr.service.ray_pool import RayUnavailableError, connect

        try:
            connect(settings.ray)
        except RayUnavailableError as exc:
            print(f"kadr: error: {exc}", file=sys.stderr)
            return 2
    try:
        sock = listen_socket(settings.host, settings.port)
    except OSError as exc:
        print(f"kadr: error: cannot listen on {settings.host}:{settings.port}: {exc.strerror}", file=sys.stderr)
        return 2
    port = sock.getsockname()[1]
    if users == 0:
        print("kadr: note: no users yet; add one with `kadr users add NAME` for an API key", file=sys.stderr)
    print(f"kadr: listening on http://{settings.host}:{port} (data in {settings.data})", file=sys.stderr, flush=True)
    app = create_app(settings)
    limits = ConnectionLimits(settings.timeout_headers_s, settings.timeout_body_s, settings.max_connections_per_client,
                              on_refused=lambda reason: app.state.metrics.connections_refused.labels(reason).inc())
    config = uvicorn.Config(app, log_level=settings.log_level, access_log=bool(args.access_log),
                            timeout_graceful_shutdown=REQUESTS_GRACE_S, timeout_keep_alive=settings.timeout_keep_alive_s,
                            http=guarded_protocol(limits), lifespan="on")
    logging.getLogger("uvicorn.access").addFilter(RedactQueryFilter())  # after Config: it configures logging

    def stop_new_work() -> None:  # at the signal: no job starts, event streams end (clients reconnect elsewhere)
        app.state.scheduler.drain()
        app.state.bus.close()

    draining_server(config, stop_new_work).run(sockets=[sock])
    return 0


def memory_note(device: str) -> str:
    """How the fast tier's model will sit on ``device``, said at start (a model too large says so now)."""
    if not device.startswith("cuda"):
        return "weights in main memory"
    import torch

    from kadr.pipelines import registry
    from kadr.pipelines.devices import choose_memory_policy, free_gpu_bytes

    spec = registry.model_for_tier("fast", "text-to-video")
    policy = choose_memory_policy(spec, free_gpu_bytes(torch.device(device)))
    if policy.offload == "group_offload":
        return f"{spec.name} is too large to keep on {device} ({policy.reason}; slow)"
    return f"{spec.name}: {policy.reason}"


# In-flight HTTP requests (not jobs: those have settings.shutdown_grace_s) get this long to finish at shutdown.
REQUESTS_GRACE_S = 3


def draining_server(config: Any, on_signal: Callable[[], None]) -> Any:
    """A uvicorn server that runs ``on_signal`` first when it is told to stop (see the class)."""
    import uvicorn  # here, not at the top: `kadr users …` and `kadr --help` should not import uvicorn

    class _DrainingServer(uvicorn.Server):
        """uvicorn's server with kadr's orderly stop.

        On SIGTERM or SIGINT: ``on_signal`` runs first (no new jobs, event streams closed), then uvicorn
        stops listening and lets requests in flight finish (``REQUESTS_GRACE_S``), then the app's
        lifespan lets running jobs finish within the grace period and stops the workers. The process
        then exits 0; uvicorn's own handler would re-raise the signal at the end (exit 143 / 130). A
        second SIGINT still forces an immediate exit.
        """

        def handle_exit(self, sig: int, frame: Any) -> None:
            if self.should_exit and sig == signal.SIGINT:
                self.force_exit = True
            else:
                self.should_exit = True

        async def shutdown(self, sockets: Any = None) -> None:
            try:
                on_signal()
            except Exception:
                logging.getLogger("kadr.service").exception("stopping new work")
            await super().shutdown(sockets=sockets)

    return _DrainingServer(config)


def listen_socket(host: str, port: int) -> socket.socket:
    """A bound TCP socket for uvicorn (bound here so that port 0 can be printed before the app starts).

    proto=IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on accepted sockets whose proto says TCP.
    Without it, Nagle holds back the body uvicorn writes after the headers until the client's delayed
    ACK (40 ms on Linux), and every response takes 40 ms or more.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


# ---- users ------------------------------------------------------------------------------------


def _stores(settings: ServiceSettings) -> Any:
    from kadr.service.store import Database, UserStore

    db = Database(settings.database_url)
    db.create_schema()
    return db, UserStore(db)


def cmd_users_add(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    plans = load_plans(settings.plans_path)
    plan = plans.check(args.plan) if args.plan else plans.default
    db, users = _stores(settings)
    try:
        made = users.add(args.name, plan, time.time(), webhook_url=args.webhook)
    finally:
        db.close()
    print(f"user: {made.user.name} (plan {made.user.plan})")
    if made.webhook_secret:
        print(f"webhook: {made.user.webhook_url}")
        print(f"webhook secret: {made.webhook_secret}")
    print("API key (shown once; keep it safe):")
    print(made.api_key)
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db, users = _stores(settings)
    try:
        records = users.list()
    finally:
        db.close()
    if args.json:
        print(json.dumps([{"name": u.name, "plan": u.plan, "key_prefix": u.key_prefix, "webhook_url": u.webhook_url,
                           "created_at": int(u.created_at)} for u in records], ensure_ascii=False))
        return 0
    rows = [("NAME", "PLAN", "KEY", "CREATED", "WEBHOOK")] + [
        (u.name, u.plan, u.key_prefix + "…", datetime.fromtimestamp(u.created_at, timezone.utc).strftime("%Y-%m-%d"),
         u.webhook_url or "-") for u in records]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db, users = _stores(settings)
    try:
        job_ids = users.remove(args.name)
    finally:
        db.close()
    for job_id in job_ids:
        JobFiles.of(settings.videos_dir, job_id).remove()
    print(f"removed {args.name} and {len(job_ids)} video(s)")
    return 0


def cmd_users_set(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    plan = load_plans(settings.plans_path).check(args.plan) if args.plan else None
    db, users = _stores(settings)
    try:
        record = users.update(args.name, plan=plan, webhook_url=args.webhook, clear_webhook=args.no_webhook)
    finally:
        db.close()
    print(f"user: {record.name} (plan {record.plan})")
    if args.webhook:
        print(f"webhook: {record.webhook_url}")
        print(f"webhook secret: {record.webhook_secret}")
    return 0


def cmd_users_key(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db, users = _stores(settings)
    try:
        key = users.rotate_key(args.name)
    finally:
        db.close()
    print(f"new API key for {args.name} (the old one no longer works):")
    print(key)
    return 0
