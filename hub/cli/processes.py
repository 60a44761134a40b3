"""The long-running processes: ``hub up``, ``worker``, ``serve``, ``flower``, ``beat``."""

from __future__ import annotations

import contextlib
import os
from typing import Annotated

import typer

from hub.cli.support import fail, load_workflows, require_redis
from hub.core import ConfigError, Settings, get_settings, redis_client
from hub.ingress import is_loopback

__all__ = ["beat", "flower", "serve", "up", "worker"]


def up(
    demo: Annotated[bool, typer.Option(help="Send the sample events and show the result.")] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            "--verbose",
            "-v",
            help="Stream every line of every process here (they always go to the log files).",
        ),
    ] = False,
) -> None:
    """Run everything in one terminal: Redis, sandbox, worker, ingress, Flower."""
    from hub.cli.up import Embedded

    load_workflows()
    try:
        Embedded(get_settings(), verbose=verbose).run(demo=demo)
    except ConfigError as exc:
        fail(str(exc))


def worker(
    concurrency: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    hostname: Annotated[str | None, typer.Option(help="Worker node name.")] = None,
    queues: Annotated[
        str | None,
        typer.Option(
            help="Queues to consume, comma-separated, highest priority first "
            "(default: HUB_WORKER_QUEUES)."
        ),
    ] = None,
) -> None:
    """Run a Celery worker for the step tasks."""
    require_redis(ping=False)
    load_workflows()
    url = require_redis(ping=True)  # Celery would retry an unreachable broker for ever
    from hub.worker import app, parse_queues

    try:
        names = parse_queues(queues or get_settings().hub_worker_queues)
    except ValueError as exc:
        fail(f"--queues / HUB_WORKER_QUEUES: {exc}")
    processes = concurrency or get_settings().hub_worker_concurrency
    argv = [
        "worker",
        "-Q",
        ",".join(names),
        "--loglevel",
        get_settings().hub_log_level.upper(),
        "-c",
        str(processes),
    ]
    if hostname:
        argv += ["-n", hostname]
    from hub.core import lean_log_records
    from hub.worker import (
        announce_worker,
        freeze_startup_heap_in_worker,
        sweep_keys_in_worker,
        wake_quota_waiters_in_worker,
    )

    lean_log_records()  # a worker logs lines per step
    announce_worker(url, {"concurrency": processes, "queues": names})
    sweep_keys_in_worker()
    wake_quota_waiters_in_worker()
    freeze_startup_heap_in_worker()
    app.worker_main(argv)


def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the HTTP ingress (SIGHUP reloads the workflows)."""
    import signal
    import threading

    import redis

    from hub.core import Presence, freeze_startup_heap
    from hub.ingress import check_fsync, connect, create_live_app, server
    from hub.worker import app as celery
    from hub.workflow import LiveWorkflows, WorkflowError, WorkflowStore

    settings = get_settings()
    server.prepare_process(settings)
    url = require_redis(ping=False)
    folder = settings.hub_workflows
    live = LiveWorkflows(folder, WorkflowStore(redis_client(settings, url)))
    try:
        live.reload()
    except WorkflowError as exc:
        fail(f"invalid workflows in {folder}:\n{exc}")
    except redis.ConnectionError as exc:
        fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
    bind = host or settings.hub_ingress_host
    try:
        waitaof = True
        if settings.hub_ingress_fsync == "always":
            fsync = check_fsync(redis_client(settings, url))
            if fsync.warning:
                typer.echo(f"warning: {fsync.warning}", err=True)
            waitaof = fsync.waitaof
        app = create_live_app(settings, live, celery, connect(url, settings), waitaof=waitaof)
    except ConfigError as exc:
        fail(f"cannot start the ingress:\n{exc}")
    _warn_local_mode(settings, bind)
    wake, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: wake.set())
    live.watch(interval=settings.hub_reload_seconds or None, wake=wake, stop=stop)
    listen = port or settings.hub_ingress_port
    presence = Presence(redis_client(settings, url), "ingress", detail={"port": listen})
    presence.keep_up()
    freeze_startup_heap()  # see hub.core.startup_heap
    try:
        server.run(app, host=bind, port=listen)
    finally:
        stop.set()
        wake.set()
        with contextlib.suppress(redis.RedisError):
            presence.withdraw()


def _warn_local_mode(settings: Settings, bind: str) -> None:
    if settings.hub_local_mode and not is_loopback(bind):
        typer.echo(
            f"warning: HUB_LOCAL_MODE is set and the ingress listens on {bind}: anyone who "
            "reaches it reads the views and posts to sources without a file, unauthenticated",
            err=True,
        )


def flower(
    port: Annotated[int | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run Flower on the hub's broker, all of it (metrics too) behind HUB_FLOWER_BASIC_AUTH."""
    from hub.cli.flower_auth import guard_flower, login_problem

    settings = get_settings()
    bind = address or settings.hub_flower_host
    if problem := login_problem(settings, bind):
        fail(problem)
    require_redis(ping=True)
    from hub.worker import app

    guard_flower()
    argv = ["flower", f"--port={port or settings.hub_flower_port}", f"--address={bind}"]
    # kwargs carry workflow, revision, step, event id and run id: show them at a glance
    os.environ.setdefault(
        "FLOWER_TASKS_COLUMNS", "name,uuid,state,kwargs,received,started,runtime,worker"
    )
    if settings.hub_flower_basic_auth is not None:
        # through the environment, never argv: a command line is visible to `ps`
        os.environ["FLOWER_BASIC_AUTH"] = settings.hub_flower_basic_auth.get_secret_value()
    app.start(argv)


def beat() -> None:
    """Run Celery beat: fires the workflows' schedule and poll triggers (run exactly one)."""
    require_redis(ping=False)
    workflows = load_workflows()
    from hub.worker import run_beat

    try:
        run_beat(get_settings(), workflows)
    except ConfigError as exc:
        fail(str(exc))
