"""The ``hub`` command line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from hub.core.errors import ConfigError
from hub.core.settings import get_settings

__all__ = ["cli", "main"]

cli = typer.Typer(
    help="The hub: declarative YAML workflows on Celery, with shared quotas.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


@cli.callback()
def _setup() -> None:
    from hub.core.logs import configure_logging

    settings = get_settings()
    configure_logging(settings.hub_log_format, settings.hub_log_level)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _load_workflows(path: Path | None = None) -> list:  # type: ignore[type-arg]
    from hub.workflow.loader import WorkflowError, load_folder

    folder = path or get_settings().hub_workflows
    try:
        return load_folder(folder)
    except WorkflowError as exc:
        _fail(f"invalid workflows in {folder}:\n{exc}")
    return []


def _require_redis(*, ping: bool = False) -> str:
    from hub.cli.support import require_redis

    return require_redis(ping=ping)


@cli.command()
def up(
    demo: Annotated[bool, typer.Option(help="Send the sample events and show the result.")] = False,
) -> None:
    """Run everything in one terminal: Redis, sandbox, worker, ingress, Flower."""
    from hub.cli.up import Embedded

    _load_workflows()
    try:
        Embedded(get_settings()).run(demo=demo)
    except ConfigError as exc:
        _fail(str(exc))


@cli.command()
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
    _require_redis()
    _load_workflows()
    _require_redis(ping=True)  # Celery would retry an unreachable broker for ever
    from hub.worker.celery_app import app
    from hub.worker.queues import parse_queues

    try:
        names = parse_queues(queues or get_settings().hub_worker_queues)
    except ValueError as exc:
        _fail(f"--queues / HUB_WORKER_QUEUES: {exc}")
    argv = [
        "worker",
        "-Q",
        ",".join(names),
        "--loglevel",
        get_settings().hub_log_level.upper(),
        "-c",
        str(concurrency or get_settings().hub_worker_concurrency),
    ]
    if hostname:
        argv += ["-n", hostname]
    app.worker_main(argv)


@cli.command()
def serve(
    host: Annotated[str | None, typer.Option()] = None,
    port: Annotated[int | None, typer.Option()] = None,
) -> None:
    """Run the HTTP ingress (SIGHUP reloads the workflows)."""
    import signal
    import threading

    import redis

    from hub.ingress import server
    from hub.ingress.app import create_live_app
    from hub.ingress.event_store import check_fsync, connect
    from hub.worker.celery_app import app as celery
    from hub.workflow.live import LiveWorkflows
    from hub.workflow.loader import WorkflowError
    from hub.workflow.revisions import WorkflowStore

    settings = get_settings()
    server.prepare_process(settings)
    url = _require_redis()
    folder = settings.hub_workflows
    live = LiveWorkflows(folder, WorkflowStore(redis.Redis.from_url(url)))
    try:
        live.reload()
    except WorkflowError as exc:
        _fail(f"invalid workflows in {folder}:\n{exc}")
    except redis.ConnectionError as exc:
        _fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
    bind = host or settings.hub_ingress_host
    try:
        if settings.hub_ingress_fsync == "always":
            warning = check_fsync(redis.Redis.from_url(url))
            if warning:
                typer.echo(f"warning: {warning}", err=True)
        app = create_live_app(settings, live, celery, connect(url), bind_host=bind)
    except ConfigError as exc:
        _fail(f"cannot start the ingress:\n{exc}")
    wake, stop = threading.Event(), threading.Event()
    signal.signal(signal.SIGHUP, lambda signum, frame: wake.set())
    live.watch(interval=settings.hub_reload_seconds or None, wake=wake, stop=stop)
    try:
        server.run(app, host=bind, port=port or settings.hub_ingress_port)
    finally:
        stop.set()
        wake.set()


@cli.command()
def flower(
    port: Annotated[int | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
) -> None:
    """Run Flower on the hub's broker."""
    _require_redis(ping=True)
    from hub.worker.celery_app import app

    settings = get_settings()
    argv = [
        "flower",
        f"--port={port or settings.hub_flower_port}",
        f"--address={address or settings.hub_flower_host}",
    ]
    # kwargs carry workflow, revision, step, event id and run id: show them at a glance
    os.environ.setdefault(
        "FLOWER_TASKS_COLUMNS", "name,uuid,state,kwargs,received,started,runtime,worker"
    )
    if settings.hub_flower_basic_auth is not None:
        # through the environment, never argv: a command line is visible to `ps`
        os.environ["FLOWER_BASIC_AUTH"] = settings.hub_flower_basic_auth.get_secret_value()
    app.start(argv)


@cli.command()
def beat() -> None:
    """Run Celery beat: fires the workflows' schedule and poll triggers (run exactly one)."""
    _require_redis()
    workflows = _load_workflows()
    from hub.worker.beat import run_beat

    try:
        run_beat(get_settings(), workflows)
    except ConfigError as exc:
        _fail(str(exc))


cursors_cli = typer.Typer(
    help="Poll cursors: show each poll workflow's, or reset one for a backfill.",
    no_args_is_help=False,
)
cli.add_typer(cursors_cli, name="cursors")


@cursors_cli.callback(invoke_without_command=True)
def cursors(ctx: typer.Context) -> None:
    """Show every poll workflow's cursor and what its last poll did."""
    if ctx.invoked_subcommand is not None:
        return
    import redis

    from hub.polling.cursor_view import cursor_lines
    from hub.polling.cursors import CursorStore

    store = CursorStore(redis.Redis.from_url(_require_redis()))
    polled = [wf.name for wf in _load_workflows() if wf.trigger.poll is not None]
    for line in cursor_lines(store, polled):
        typer.echo(line)


@cursors_cli.command("reset")
def cursors_reset(
    workflow: Annotated[str, typer.Argument(help="The poll workflow.")],
    to: Annotated[
        str | None,
        typer.Option(help="Poll again from records changed at or after this time (ISO 8601)."),
    ] = None,
) -> None:
    """Reset a poll workflow's cursor: from the start, or from --to (a backfill)."""
    import redis

    from hub.polling.cursor_view import reset_cursor
    from hub.polling.cursors import CursorStore

    if workflow not in {wf.name for wf in _load_workflows() if wf.trigger.poll is not None}:
        _fail(f"no poll workflow named '{workflow}' in {get_settings().hub_workflows}")
    client = redis.Redis.from_url(_require_redis())
    try:
        reset_cursor(CursorStore(client), client, workflow, to)
    except ConfigError as exc:
        _fail(str(exc))
    where = f"from {to}" if to is not None else "from the start"
    typer.echo(f"{workflow}: the next poll reads {where}")


@cli.command()
def sandbox(
    name: Annotated[
        str, typer.Argument(help="Which sandbox: plutio, plane, plutora or accounting.")
    ],
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 9100,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Run a connector's sandbox (an in-memory stand-in for the upstream API)."""
    import uvicorn

    factories = {
        "plutio": "connectors.plutio.sandbox:create_app_from_env",
        "plane": "connectors.plane.sandbox:create_app_from_env",
        "plutora": "connectors.plutora.sandbox:create_app_from_env",
        "accounting": "connectors.accounting.sandbox:create_app_from_env",
    }
    if name not in factories:
        _fail(f"unknown sandbox '{name}' (known: {', '.join(factories)})")
    uvicorn.run(factories[name], factory=True, host=host, port=port, log_level="warning")


@cli.command()
def validate(path: Annotated[Path, typer.Argument(help="A workflow file or folder.")]) -> None:
    """Check workflows (and a folder's sources/) without running anything; exit 1 on any
    problem."""
    from hub.intake.sources import SourceError, load_sources
    from hub.workflow.loader import WorkflowError, load_folder, load_workflow

    try:
        loaded = load_folder(path) if path.is_dir() else [load_workflow(path)]
        sources = load_sources(path / "sources") if path.is_dir() else {}
    except (WorkflowError, SourceError) as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from exc
    for wf in loaded:
        typer.echo(f"ok  {wf.source_path}  {wf.name}  revision {wf.revision}")
    for name, (config, file) in sources.items():
        typer.echo(f"ok  {file}  source {name}  auth {config.auth.scheme}")


@cli.command()
def send(
    source: Annotated[str, typer.Argument(help="The source, as in /hooks/{source}.")],
    file: Annotated[
        Path, typer.Argument(help="A JSON event, or a sample file with headers and body.")
    ],
    url: Annotated[str | None, typer.Option(help="Ingress base URL.")] = None,
) -> None:
    """POST an event to the ingress, signed as its source file says.

    Secrets come from HUB_SECRETS; one a source names but HUB_SECRETS lacks is the local
    demo key, which `hub up` gives its ingress too.
    """
    import json

    import httpx

    from hub.intake.demo import signed_delivery

    settings = get_settings()
    data = json.loads(file.read_text())
    headers: dict[str, str] = {}
    if isinstance(data, dict) and "body" in data and "source" in data:
        headers, data = data.get("headers", {}), data["body"]
    try:
        body, signed = signed_delivery(settings, source, data, headers)
    except ConfigError as exc:
        _fail(str(exc))
    base = url or f"http://{settings.hub_ingress_host}:{settings.hub_ingress_port}"
    try:
        answer = httpx.post(f"{base}/hooks/{source}", content=body, headers=signed, timeout=10)
    except httpx.HTTPError as exc:
        _fail(f"cannot reach the ingress at {base}: {exc}")
    typer.echo(f"{answer.status_code} {answer.text}")
    if answer.status_code >= 300:
        raise typer.Exit(1)


@cli.command("test")
def test_cmd(
    path: Annotated[Path, typer.Argument(help="A folder, a test file, or a workflow file.")] = Path(
        "workflows"
    ),
    logs: Annotated[bool, typer.Option(help="Show the hub's log lines while cases run.")] = False,
) -> None:
    """Run workflow tests (<name>.test.yaml) offline against the sandboxes."""
    import logging

    from hub.testing.suite import run_tests, session_redis

    if not logs:
        for name in ("hub.worker", "hub.workflow", "hub.accounting"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    with session_redis() as client:
        report = run_tests(path, client, echo=typer.echo)
    raise typer.Exit(0 if report.ok else 1)


@cli.command()
def schema() -> None:
    """Print the JSON Schema of workflow files (for editors)."""
    import json

    from hub.workflow.schema import workflow_json_schema

    typer.echo(json.dumps(workflow_json_schema(), indent=2))


@cli.command()
def quota(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Show every API client's quota: use, next free slot, waiting calls, drain time."""
    import json

    import redis

    from hub.cli.quota import broker_queue_lengths, format_quota_table
    from hub.http.quota_status import quota_status

    client = redis.Redis.from_url(_require_redis())
    try:
        budgets = quota_status(client)
        queued = broker_queue_lengths(client)
    except redis.ConnectionError as exc:
        _fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")
    if as_json:
        out = {"budgets": [b.to_json() for b in budgets], "broker_queues": queued}
        typer.echo(json.dumps(out, indent=2))
        return
    typer.echo(format_quota_table(budgets, queued))


@cli.command()
def metrics() -> None:
    """Print the cluster's Prometheus metrics (read from Redis) as exposition text."""
    import redis

    from hub.history.metrics import exposition

    client = redis.Redis.from_url(_require_redis())
    try:
        typer.echo(exposition(client).decode(), nl=False)
    except redis.ConnectionError as exc:
        _fail(f"cannot reach Redis at HUB_REDIS_URL: {exc}")


@cli.command("settings")
def settings_cmd() -> None:
    """Print every setting (environment variable, default, meaning) as a Markdown table."""
    from hub.core.settings_doc import settings_table

    typer.echo(settings_table())


@cli.command()
def operations(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Resources and their actions, as README's table.")
    ] = False,
) -> None:
    """Print every operation a workflow step can `use`, with its summary."""
    from hub.connector.operations_doc import operations_listing, operations_table

    typer.echo(operations_table() if markdown else operations_listing())


def _add_groups() -> None:
    from hub.cli.dlq import dlq_cli
    from hub.cli.runs import runs_cli

    cli.add_typer(runs_cli, name="runs")
    cli.add_typer(dlq_cli, name="dlq")


_add_groups()


def main() -> None:
    cli(prog_name="hub")


if __name__ == "__main__":
    main()
