"""A Celery task message exactly as kombu's Redis transport stores it, without I/O.

:func:`capture` runs Celery's own publishing path (a chain's ``run``, ``send_task``,
routing, ``app.amqp.as_task_v2``) against a producer that records instead of sending;
:class:`Channel` then serialises a recorded publish the way kombu's Producer and Redis
channel do (JSON body, ``body_encoding``, ``delivery_info``, ``delivery_tag``, the
priority suffix of the list name, ``global_keyprefix``) into the list to LPUSH onto and
the text to push.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from celery import Celery
from celery.canvas import Signature, _chain
from kombu import compression, entity, serialization
from kombu.transport.redis import Channel as RedisChannel
from kombu.utils import json as kombu_json_module

from hub.core import ConfigError

__all__ = [
    "Channel",
    "Published",
    "QueuedMessage",
    "capture",
    "compress",
    "decoded",
    "kombu_json",
    "serialize",
    "steps",
]

# kombu's own helpers (untyped), so messages are serialised exactly as kombu does
compress = cast(Callable[[bytes, str], tuple[bytes, str]], compression.compress)
maybe_delivery_mode = cast(Callable[[Any], int], entity.maybe_delivery_mode)
serialize = cast(Callable[..., tuple[str, str, Any]], serialization.dumps)
kombu_json = cast(Callable[[Any], str], kombu_json_module.dumps)


@dataclass(frozen=True)
class QueuedMessage:
    """One Celery message as kombu's Redis transport stores it."""

    key: str
    payload: str
    task_id: str


@dataclass
class Published:
    body: Any
    exchange: str
    routing_key: str
    serializer: str
    compression: str | None
    priority: int
    delivery_mode: Any
    expiration: float | None
    headers: dict[str, Any]
    properties: dict[str, Any]


class CapturingProducer:
    """Takes the place of kombu's Producer in Celery's ``send_task``: records, sends nothing."""

    def __init__(self) -> None:
        self.published: list[Published] = []

    @property
    def connection(self) -> CapturingProducer:
        return self

    @contextmanager
    def _reraise_as_library_errors(self) -> Iterator[None]:
        yield

    def publish(  # same signature as kombu.Producer.publish
        self,
        body: Any,
        routing_key: str | None = None,
        delivery_mode: Any = None,
        mandatory: bool = False,
        immediate: bool = False,
        priority: int = 0,
        content_type: str | None = None,
        content_encoding: str | None = None,
        serializer: str | None = None,
        headers: dict[str, Any] | None = None,
        compression: str | None = None,
        exchange: Any = None,
        retry: bool = False,
        retry_policy: Any = None,
        declare: Any = None,
        expiration: float | None = None,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
        **properties: Any,
    ) -> None:
        name = getattr(exchange, "name", exchange) or ""
        self.published.append(
            Published(
                body,
                name,
                routing_key or "",
                serializer or "json",
                compression,
                priority,
                delivery_mode,
                expiration,
                dict(headers or {}),
                properties,
            )
        )


class Channel:
    """The settings of kombu's Redis channel that shape a stored message."""

    def __init__(self, celery: Celery) -> None:
        options = dict(celery.conf.broker_transport_options or {})
        self.sep: str = options.get("sep", RedisChannel.sep)
        self.steps: list[int] = list(options.get("priority_steps", RedisChannel.priority_steps))
        self.prefix: str = options.get("global_keyprefix", RedisChannel.global_keyprefix) or ""
        self.body_encoding: str | None = options.get("body_encoding", RedisChannel.body_encoding)
        self.event_exchange: str = celery.conf.event_exchange

    def key(self, queue: str, priority: int) -> str:
        """kombu's ``_q_for_pri``: the list a message of ``priority`` goes to."""
        level = max(min(int(priority or 0), 9), 0)
        step = max((s for s in self.steps if s <= level), default=0)
        return self.prefix + (f"{queue}{self.sep}{step}" if step else queue)

    def message(self, pub: Published, body: str, tag: str) -> tuple[str, dict[str, Any]]:
        """kombu's Producer.publish + Channel.prepare_message/basic_publish, minus I/O."""
        if pub.exchange:
            raise ConfigError(
                f"a run is routed to exchange '{pub.exchange}': the ingress writes only to "
                "queues (direct routing)"
            )
        headers, properties = dict(pub.headers), dict(pub.properties)
        properties["delivery_mode"] = maybe_delivery_mode(pub.delivery_mode)
        if pub.expiration is not None:
            properties["expiration"] = str(int(pub.expiration * 1000))
        properties.setdefault("delivery_info", {})
        properties.setdefault("priority", pub.priority or 0)
        properties.update(body_encoding=self.body_encoding, delivery_tag=tag)
        properties["delivery_info"] = {
            **properties["delivery_info"],
            "exchange": "",
            "routing_key": pub.routing_key,
        }
        message = {
            "body": body,
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": headers,
            "properties": properties,
        }
        return self.key(pub.routing_key, properties["priority"]), message

    def encode(self, inner: str) -> str:
        return self.encode_bytes(inner.encode())

    def encode_bytes(self, data: bytes) -> str:
        """The body as the channel stores it (``body_encoding``)."""
        if self.body_encoding == "base64":
            return base64.b64encode(data).decode()
        return data.decode()


def capture(sig: Signature, **options: Any) -> list[Published]:
    """What Celery publishes to start ``sig`` (a chain's ``run``, with our producer)."""
    producer = CapturingProducer()
    if isinstance(sig, _chain):
        tasks, _ = sig.prepare_steps((), {}, sig.tasks, None, None, None, sig.app, None, None, None)
        first = tasks.pop()
        first.apply_async(producer=producer, chain=tasks, **options)
    else:
        sig.apply_async(producer=producer, **options)
    return producer.published


def steps(sig: Signature) -> list[Signature]:
    """The signatures of a chain, in order (or the one signature)."""
    return list(sig.tasks) if isinstance(sig, _chain) else [sig]


def decoded(payload: str) -> dict[str, Any]:
    """A stored message with its body decoded (for checks and tests)."""
    message = cast(dict[str, Any], json.loads(payload))
    if message["properties"].get("body_encoding") == "base64":
        message["body"] = base64.b64decode(message["body"])
    message["body"] = json.loads(message["body"])
    return message
