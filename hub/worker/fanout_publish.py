"""Fanout publishes (task events, broadcasts) sent without waiting for Redis's answer.

A worker's main process publishes its task events (received, started, succeeded: what
Flower shows) from its event loop, and kombu's ``PUBLISH`` waits for Redis's answer,
a number of subscribers nobody reads. On a server that fsyncs every write that wait is
about 0.3 ms, during which the loop hands no message to a worker process: it stood
between a message's take and its step. :class:`UnansweredPublish` sends each
``PUBLISH`` on a connection of its own and reads the answers later, those already
there before each send, all of them once :data:`MAX_UNREAD` are due.

An event published on a connection the server has just closed can be lost without an
error, as it can when the blocking publish fails; events are for watching, and the
hub's run records, not events, say what happened. A connection is never used by two
processes: a forked child makes its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError, TimeoutError

__all__ = ["MAX_UNREAD", "UnansweredPublish"]

log = logging.getLogger("hub.worker")

#: answers left unread at most; then a send first reads them all
MAX_UNREAD = 256


class UnansweredPublish:
    """``PUBLISH`` on a connection of its own (``make_connection``), answers read later."""

    def __init__(
        self, make_connection: Callable[[], Any], getpid: Callable[[], int] = os.getpid
    ) -> None:
        self._make_connection = make_connection
        self._getpid = getpid
        self._connection: Any = None
        self._pid = 0
        self.unread = 0

    def publish(self, channel: str, body: str | bytes) -> None:
        """Send one ``PUBLISH``; raises the connection's error when the send fails."""
        connection = self._current()
        self._read_answers(connection, every=self.unread >= MAX_UNREAD)
        connection = self._current()  # a new one when reading found the old one dead
        try:
            # no health check: its PING would read an answer left unread as its own
            connection.send_command("PUBLISH", channel, body, check_health=False)
        except (RedisConnectionError, TimeoutError, OSError):
            self.close()
            raise
        self.unread += 1

    def close(self) -> None:
        """Drop the connection (the answers still unread with it)."""
        if self._connection is not None and self._pid == self._getpid():
            self._connection.disconnect()
        self._connection, self.unread = None, 0

    def _current(self) -> Any:
        if self._connection is None or self._pid != self._getpid():
            # a forked child leaves its parent's connection alone and makes its own
            self._connection, self._pid, self.unread = self._make_connection(), self._getpid(), 0
        return self._connection

    def _read_answers(self, connection: Any, *, every: bool) -> None:
        try:
            while self.unread and (every or connection.can_read(timeout=0)):
                try:
                    connection.read_response()
                except ResponseError as exc:  # refused (an ACL): said, the next one tried
                    log.warning("an event publish was refused: %s", exc)
                self.unread -= 1
            if not self.unread and connection.can_read(timeout=0):
                self.close()  # readable with nothing due: out of step, start afresh
        except (RedisConnectionError, TimeoutError, OSError):  # closed by the server too
            self.close()  # gone with its answers; the send goes on a new connection
