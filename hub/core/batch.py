"""Redis commands of several stores, sent in one round trip: :class:`RedisBatch`.

A step task writes its run record, its ledger entry and its run's end one after the
other. Each store adds its commands to a batch instead of sending them, and the batch
sends them all at once in one pipeline: not a transaction, each command runs as if sent
alone, in the order added, and a command that fails does not stop the ones after it. Each
command's reply is kept in the :class:`Reply` that :meth:`RedisBatch.add` answered, and
handed to the function given with it, in order, once the batch has been sent.

Scripts go as ``EVAL`` with their text (:meth:`RedisBatch.script`): a server that lost
its script cache (a restart) runs them all the same, with no round trip to load them.

Writes whose answer nobody waits for (a successful call's quota settle, a lock's
release) need no round trip of their own. Within :func:`trailing_writes` (a step task),
:func:`writes_behind` gives a batch that is not sent at once: its commands go ahead of
the commands of the next batch sent through the same client, and whatever is left is sent
as the block ends, whether it ended well or not. Outside, :func:`writes_behind` is a
batch sent as its own block ends.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = [
    "AtSend",
    "RedisBatch",
    "Reply",
    "flush_trailing",
    "trailing_writes",
    "writes_behind",
]

log = logging.getLogger("hub.core")


class Reply:
    """The reply to one command of a batch, once the batch has been sent."""

    def __init__(self) -> None:
        self._value: Any = None
        self._sent = False

    @property
    def value(self) -> Any:
        if not self._sent:
            raise RuntimeError("the batch holding this command has not been sent")
        return self._value

    def _set(self, value: Any) -> None:
        self._value, self._sent = value, True


class AtSend:
    """A command argument worked out as its batch is sent, not as it is added: how long
    ago something happened, for a command that may wait for a later round trip."""

    def __init__(self, value: Callable[[], Any]) -> None:
        self.value = value


def _resolved(command: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(arg.value() if isinstance(arg, AtSend) else arg for arg in command)


class RedisBatch:
    """Commands to send through ``redis`` (a redis-py client) in one round trip."""

    def __init__(self, redis: Any) -> None:
        self._redis = redis
        self._commands: list[tuple[tuple[Any, ...], Reply, Callable[[Any], None] | None]] = []
        self._after: list[Callable[[], None]] = []

    def __len__(self) -> int:
        return len(self._commands)

    def add(self, *command: Any, then: Callable[[Any], None] | None = None) -> Reply:
        """Add ``command``; ``then`` is given its reply once the batch has been sent."""
        reply = Reply()
        self._commands.append((command, reply, then))
        return reply

    def script(
        self,
        text: str,
        keys: Sequence[Any],
        args: Sequence[Any],
        *,
        then: Callable[[Any], None] | None = None,
    ) -> Reply:
        """Add a run of the Lua script ``text`` on ``keys`` with ``args``."""
        return self.add("EVAL", text, len(keys), *keys, *args, then=then)

    def after(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once the batch has been sent and every reply handed on."""
        self._after.append(callback)

    def send(self) -> None:
        """Send every command added since the last send, in one round trip; raise the
        first error a command got (after the others ran, their replies unused)."""
        commands, after = self._commands, self._after
        self._commands, self._after = [], []
        trailer = _trailer_for(self._redis)
        if trailer is not None and trailer is not self and trailer._commands:
            # the writes waiting for a round trip go first, as if sent before
            commands, after = trailer._commands + commands, trailer._after + after
            trailer._commands, trailer._after = [], []
        if commands:
            pipe = self._redis.pipeline(transaction=False)
            for command, _, _ in commands:
                pipe.execute_command(*_resolved(command))
            replies = pipe.execute(raise_on_error=False)
            for reply in replies:
                if isinstance(reply, Exception):
                    raise reply
            for (_, reply, then), value in zip(commands, replies, strict=True):
                reply._set(value)
                if then is not None:
                    then(value)
        for callback in after:
            callback()


#: the writes of the running step that wait for its next round trip (:func:`trailing_writes`)
_trailer: ContextVar[RedisBatch | None] = ContextVar("hub_trailing_writes", default=None)


def _trailer_for(redis: Any) -> RedisBatch | None:
    trailer = _trailer.get()
    return trailer if trailer is not None and trailer._redis is redis else None


@contextmanager
def trailing_writes(redis: Any) -> Iterator[None]:
    """Within the block, :func:`writes_behind` through ``redis`` wait for the next batch
    sent through it, or for the block's end, where what is left is sent. When the block
    raised, they are sent all the same (a lock released, a quota slot settled) and a
    failure to send them is logged, not raised over the block's own error."""
    trailer = RedisBatch(redis)
    token = _trailer.set(trailer)
    try:
        yield
    except BaseException:
        _trailer.reset(token)
        left = len(trailer)
        try:
            trailer.send()
        except Exception:
            log.warning("%d write(s) left at a step's end were not sent", left, exc_info=True)
        raise
    _trailer.reset(token)
    trailer.send()


@contextmanager
def writes_behind(redis: Any) -> Iterator[RedisBatch]:
    """A batch for writes nobody waits to see answered: within :func:`trailing_writes`
    on the same client, the one sent with the next round trip; else one sent as the
    block ends. Replies of its commands may be read only once it has been sent."""
    trailer = _trailer_for(redis)
    if trailer is not None:
        yield trailer
        return
    batch = RedisBatch(redis)
    yield batch
    batch.send()


def flush_trailing(redis: Any) -> None:
    """Send the writes waiting for a round trip through ``redis`` now (a caller about to
    make a round trip that cannot carry them)."""
    trailer = _trailer_for(redis)
    if trailer is not None and len(trailer):
        trailer.send()
