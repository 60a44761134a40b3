"""A Redis client that notes the commands of each pipeline sent through it."""

from __future__ import annotations

import redis

__all__ = ["RoundTrips"]


class RoundTrips:
    """Hands out pipelines of ``client`` and notes, per pipeline sent, its commands'
    names (``round_trips``); only pipelines go through it."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self.round_trips: list[list[str]] = []

    def pipeline(self, transaction: bool = True) -> object:
        books, pipe = self, self._client.pipeline(transaction=transaction)
        sent: list[str] = []

        class Noted:
            def execute_command(self, *command: object) -> None:
                sent.append(str(command[0]))
                pipe.execute_command(*command)

            def execute(self, raise_on_error: bool = True) -> list[object]:
                books.round_trips.append(sent)
                return pipe.execute(raise_on_error=raise_on_error)

        return Noted()
