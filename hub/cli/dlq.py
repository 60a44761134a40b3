"""``hub dlq``: list, show, replay and purge dead letters (runs that failed for good)."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any

import typer

from hub.cli.support import connect_redis, fail
from hub.core import get_settings

__all__ = ["dlq_cli"]

dlq_cli = typer.Typer(
    help="Dead letters: runs whose step used up its retries or failed fatally, kept with "
    "the event, revision, step, every attempt's error and the context until replayed or "
    "purged.",
    no_args_is_help=True,
)

Workflow = Annotated[str | None, typer.Option(help="Only this workflow's dead letters.")]
Source = Annotated[str | None, typer.Option(help="Only events from this source.")]
Error = Annotated[
    str | None, typer.Option(help="Only those whose error (message, type, status) has this.")
]
Since = Annotated[str | None, typer.Option(help="Failed since: 15m, 2h, 7d, or a date/time.")]
Event = Annotated[str | None, typer.Option(help="Only this event id.")]


def _filter(
    workflow: str | None,
    source: str | None,
    error: str | None,
    since: str | None,
    event: str | None,
    status: Any = "dead",
) -> Any:
    from hub.history import DeadLetterFilter, parse_since

    try:
        start = parse_since(since) if since else None
    except ValueError as exc:
        fail(f"--since: {exc}")
    return DeadLetterFilter(
        workflow=workflow, source=source, error=error, since=start, event_id=event, status=status
    )


def _store(client: Any) -> Any:
    from hub.history import DeadLetterStore

    return DeadLetterStore(client)


def _resolve(store: Any, ids: list[str]) -> list[str]:
    """Full run ids for ``ids`` (each whole, or a prefix as listings show it)."""
    from hub.history import DeadLetterFilter

    known: list[str] | None = None
    full = []
    for given in ids:
        if store.get(given) is not None:
            full.append(given)
            continue
        if known is None:
            known = [d.run_id for d in store.find(DeadLetterFilter(status=None))]
        matches = [i for i in known if i.startswith(given)]
        if len(matches) != 1:
            fail(
                f"no dead letter for run {given}"
                if not matches
                else f"run id prefix '{given}' matches {len(matches)} dead letters; give more",
                1,
            )
        full.append(matches[0])
    return full


@dlq_cli.command("list")
def dlq_list(
    workflow: Workflow = None,
    source: Source = None,
    error: Error = None,
    since: Since = None,
    event: Event = None,
    replayed: Annotated[bool, typer.Option(help="Those replayed already instead.")] = False,
    all_: Annotated[bool, typer.Option("--all", help="Replayed or not.")] = False,
    limit: Annotated[int | None, typer.Option(help="At most this many.")] = None,
    json_: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """List dead letters, newest first (by default those not replayed yet)."""
    from hub.history import as_json, dead_letter_table

    status = None if all_ else ("replayed" if replayed else "dead")
    where = _filter(workflow, source, error, since, event, status)
    letters = _store(connect_redis()).find(where, limit=limit)
    if json_:
        typer.echo(as_json(letters))
    elif not letters:
        typer.echo("no dead letters match")
    else:
        typer.echo(dead_letter_table(letters))
        typer.echo(f"{len(letters)} dead letter(s)")


@dlq_cli.command("show")
def dlq_show(
    run_id: Annotated[str, typer.Argument(help="The dead run's id (or its first characters).")],
    json_: Annotated[bool, typer.Option("--json", help="As JSON.")] = False,
) -> None:
    """Everything stored about one dead letter: attempts, error, event, context."""
    from hub.history import as_json, dead_letter_detail

    store = _store(connect_redis())
    (full,) = _resolve(store, [run_id])
    letter = store.get(full)
    typer.echo(as_json(letter) if json_ else dead_letter_detail(letter))


Priority = Annotated[
    str | None,
    typer.Option(
        help="Queue the replays at this priority: interactive, default or bulk "
        "[default: bulk with --all, else the workflow's own].",
    ),
]


def _replay_ids(
    store: Any, run_ids: list[str] | None, all_: bool, where: Any
) -> tuple[list[str], list[Any]]:
    """The run ids to replay (oldest first for ``--all``) and their dead letters."""
    if run_ids:
        ids = _resolve(store, run_ids)
        return ids, [store.get(run_id) for run_id in ids]
    if all_:
        letters = list(reversed(store.find(where)))  # oldest first
        return [d.run_id for d in letters], letters
    fail("name the runs to replay, or pass --all (with filters to narrow it)")


def _dry_run(letters: list[Any]) -> None:
    """Say how many dead letters match and of which workflows; send nothing."""
    from hub.history import replay_summary

    typer.echo(f"{len(letters)} dead letter(s) match; nothing replayed (--dry-run)")
    for name, count in replay_summary(letters).items():
        typer.echo(f"  {count:>7}  {name}")


@dlq_cli.command("replay")
def dlq_replay(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Dead runs to replay.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter the filters match.")
    ] = False,
    workflow: Workflow = None,
    source: Source = None,
    error: Error = None,
    since: Since = None,
    event: Event = None,
    from_start: Annotated[
        bool, typer.Option("--from-start", help="Run every step again, not from the failed one.")
    ] = False,
    latest: Annotated[
        bool,
        typer.Option("--latest", help="On the workflow's current revision, not the pinned one."),
    ] = False,
    priority: Priority = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="Print how many dead letters match and their workflows; send none."
        ),
    ] = False,
) -> None:
    """Run dead letters again as new runs, through the same queue and quotas as any run."""
    from hub.core import PauseStore
    from hub.history import Replayer, RunStore
    from hub.http import PRIORITIES
    from hub.worker import create_celery
    from hub.workflow import WorkflowStore

    if priority is not None and priority not in PRIORITIES:
        fail(f"--priority: '{priority}' is not one of {', '.join(PRIORITIES)}")
    client = connect_redis()
    store = _store(client)
    where = _filter(workflow, source, error, since, event)
    ids, letters = _replay_ids(store, run_ids, all_, where)
    if dry_run:
        _dry_run(letters)
        return
    if priority is None and all_ and not run_ids:
        priority = "bulk"
    retention = get_settings().hub_run_retention_seconds
    replayer = Replayer(
        create_celery(get_settings()),
        store,
        WorkflowStore(client),
        RunStore(client, retention_seconds=retention),
        keep_replayed_seconds=retention,
        paused=partial(PauseStore(client).is_paused, "workflow"),
    )
    failed = _send_replays(replayer, ids, from_start, latest, priority)
    typer.echo(f"{len(ids) - failed} replayed, {failed} not replayed")
    if failed:
        raise typer.Exit(1)


def _send_replays(
    replayer: Any, ids: list[str], from_start: bool, latest: bool, priority: str | None
) -> int:
    """Replay ``ids`` in order, a line each; how many could not be replayed."""
    from hub.history import ReplayError

    total, failed = len(ids), 0
    for n, run_id in enumerate(ids, 1):
        try:
            done = replayer.replay(run_id, from_start=from_start, latest=latest, priority=priority)
        except ReplayError as exc:
            failed += 1
            typer.echo(f"[{n}/{total}] not replayed: {exc}")
            continue
        typer.echo(
            f"[{n}/{total}] run {run_id[:12]} ({done.workflow}, event {done.event_id}) -> "
            f"run {done.new_run_id} from step {done.from_step} on revision {done.revision} "
            f"at {done.priority} priority"
        )
    return failed


@dlq_cli.command("purge")
def dlq_purge(
    run_ids: Annotated[list[str] | None, typer.Argument(help="Dead letters to delete.")] = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every dead letter the filters match.")
    ] = False,
    replayed: Annotated[
        bool, typer.Option(help="Only those replayed already (with --all).")
    ] = False,
    workflow: Workflow = None,
    source: Source = None,
    error: Error = None,
    since: Since = None,
    event: Event = None,
) -> None:
    """Delete dead letters for good (they are not replayed)."""
    store = _store(connect_redis())
    if run_ids:
        ids = _resolve(store, run_ids)
    elif all_:
        where = _filter(workflow, source, error, since, event, "replayed" if replayed else None)
        ids = [d.run_id for d in store.find(where)]
    else:
        fail("name the dead letters to purge, or pass --all (with filters to narrow it)")
    typer.echo(f"{store.purge(ids)} dead letter(s) purged")
