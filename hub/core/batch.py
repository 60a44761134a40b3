"""Redis commands of several stores, sent in one round trip: :class:`RedisBatch`.

A step task writes its run record, its ledger entry and its run's end one after the
other. Each store adds its commands to a batch instead of sending them, and the batch
sends them all at once in one pipeline: not a transaction, each command runs as if sent
alone, in the order added, and a command that fails does not stop the ones after it. Each
command's reply is kept in the :class:`Reply` that :meth:`RedisBatch.add` answered, and
handed to the function given with it, in order, once the batch has been sent.

Scripts go as ``EVAL`` with their text (:meth:`RedisBatch.script`): a server that lost
its script cache (a restart) runs them all the same, with no round trip to load them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

__all__ = ["RedisBatch", "Reply"]


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
        if commands:
            pipe = self._redis.pipeline(transaction=False)
            for command, _, _ in commands:
                pipe.execute_command(*command)
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
