"""Celery messages for workflow runs, built without blocking and pushed by the ingress.

A run is the first task of its workflow's chain; the rest of the chain rides in that
message (protocol 2 ``embed.chain``). Celery builds the message: the chain from
:func:`hub.workflow.compiler.compile_run` goes through ``send_task`` and
``app.amqp.as_task_v2`` (with Celery's routing, so a queue set by a route or by the
signature's options is honoured) to a capturing producer instead of kombu's. The
captured publish is serialised as kombu's Redis channel serialises it (JSON body,
base64 ``body_encoding``, ``delivery_info``, ``delivery_tag``, priority queue suffix,
``global_keyprefix``) into a :class:`QueuedMessage`: the Redis list and the text to
LPUSH onto it, which is all kombu's Redis transport does on publish.

Running Celery for every event costs 150-300 us of event-loop time, so per workflow
revision the message is built once with placeholder values and kept as JSON text
with slots (run context, event id, run id, task ids, reprs, delivery tag) filled per
event. A self-check compares that template, filled with sample values, with Celery's
own message for the same values; a workflow whose message depends on anything else
(an ``expires`` from the clock, a routing function reading the event) is built through
Celery for every event instead. Celery's ``task-sent`` monitoring event is not sent.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from json.encoder import encode_basestring_ascii as _encode_string
from typing import Any

from celery import Celery
from celery.canvas import Signature

from hub.core import ConfigError, new_uuid
from hub.ingress.celery_message import (
    Channel,
    QueuedMessage,
    capture,
    compress,
    decoded,
    kombu_json,
    serialize,
    steps,
)
from hub.workflow import Workflow, compile_run, new_context, step_kwargs

__all__ = ["Compile", "QueuedMessage", "RunPublisher"]

log = logging.getLogger("hub.ingress")

#: ``(celery, workflow, ctx, event_id, run_id) -> chain``, as compile_run
Compile = Callable[..., Signature]
_SLOTS = ("ctx", "event_id", "run_id", "argsrepr", "kwargsrepr", "body", "tag")


class _Template:
    """JSON text whose quoted placeholder strings are slots, filled by joining."""

    def __init__(self, text: str, tokens: Mapping[str, str]) -> None:
        names = {token: name for name, token in tokens.items()}
        pattern = re.compile('"(' + "|".join(re.escape(t) for t in names) + ')"')
        parts = pattern.split(text)
        self.literals = parts[0::2]
        self.slots = [names[t] for t in parts[1::2]]

    def render(self, values: Mapping[str, str]) -> str:
        out = [self.literals[0]]
        for slot, literal in zip(self.slots, self.literals[1:], strict=True):
            out.append(values[slot])
            out.append(literal)
        return "".join(out)


class _RunTemplate:
    """One workflow revision's message, with slots."""

    def __init__(self, channel: Channel, sig: Signature, tokens: dict[str, str]) -> None:
        published = [
            p
            for p in capture(sig, argsrepr=tokens["argsrepr"], kwargsrepr=tokens["kwargsrepr"])
            if p.exchange != channel.event_exchange
        ]
        if len(published) != 1:
            raise ConfigError(f"a run published {len(published)} messages, not 1")
        pub = published[0]
        if pub.serializer != "json" or pub.compression:
            raise ConfigError("runs must be JSON and uncompressed to be templated")
        self.task_slots = [n for n in tokens if n.startswith("task")]
        self.key, outer = channel.message(pub, tokens["body"], tokens["tag"])
        self.inner = _Template(serialize(pub.body, serializer="json")[2], tokens)
        self.outer = _Template(kombu_json(outer), tokens)
        self.channel = channel

    def render(
        self,
        ctx_json: str,
        event_id: str,
        run_id: str,
        argsrepr: str,
        kwargsrepr: str,
        task_ids: list[str],
        tag: str,
    ) -> QueuedMessage:
        values = {
            "ctx": ctx_json,
            "event_id": _string(event_id),
            "run_id": _string(run_id),
            "argsrepr": _string(argsrepr),
            "kwargsrepr": _string(kwargsrepr),
            "tag": _string(tag),
        }
        for name, task_id in zip(self.task_slots, task_ids, strict=True):
            values[name] = _string(task_id)
        values["body"] = _string(self.channel.encode(self.inner.render(values)))
        return QueuedMessage(self.key, self.outer.render(values), task_ids[0])


class _ContextTemplate:
    """The run context's JSON with the event's own JSON text spliced in, not re-encoded."""

    def __init__(self) -> None:
        salt = secrets.token_hex(6)
        names = ("event", "event_id", "source", "event_type", "run_id")
        tokens = {name: f"hub-slot-{salt}-{name}" for name in names}
        text = json.dumps(new_context(**tokens))
        self.template = _Template(text, tokens)
        sample = new_context(
            event={"a": ["é", 1.5, None]}, event_id='e "1"', source="s", event_type="t", run_id="r"
        )
        rendered = self.render('{"a": ["\\u00e9", 1.5, null]}', 'e "1"', "s", "t", "r")
        if json.loads(rendered) != sample:
            raise ConfigError("new_context holds more than its arguments")

    def render(
        self, event_json: str, event_id: str, source: str, event_type: str, run_id: str
    ) -> str:
        return self.template.render(
            {
                "event": event_json,
                "event_id": _string(event_id),
                "source": _string(source),
                "event_type": _string(event_type),
                "run_id": _string(run_id),
            }
        )


class RunPublisher:
    """Celery messages for runs of the given workflows, ready to LPUSH."""

    def __init__(
        self, celery: Celery, workflows: list[Workflow], compile: Compile = compile_run
    ) -> None:
        self._celery = celery
        self._compile = compile
        self._channel = Channel(celery)
        self._templates: dict[str, _RunTemplate | None] = {}
        self._context: _ContextTemplate | None = None
        try:
            self._context = _ContextTemplate()
        except Exception as exc:
            log.warning("run contexts encoded for every event (%s)", exc)
        for wf in workflows:
            if wf.webhook is not None:
                self._templates[wf.revision] = self._template(wf)

    def templated(self, wf: Workflow) -> bool:
        """True when runs of ``wf`` are filled from a template (the fast path)."""
        return self._templates.get(wf.revision) is not None

    def message(
        self,
        wf: Workflow,
        ctx: dict[str, Any],
        *,
        event_id: str,
        run_id: str,
        event_json: str | None = None,
    ) -> QueuedMessage:
        """The message that starts a run of ``wf`` with context ``ctx``.

        ``event_json``, the event's JSON text as received (UTF-8), is used as is instead
        of encoding ``ctx["event"]`` again.
        """
        template = self._templates.get(wf.revision)
        argsrepr, kwargsrepr = _reprs(wf, ctx, event_id, run_id)
        if template is None:
            return self._through_celery(wf, ctx, event_id, run_id, argsrepr, kwargsrepr)
        if event_json is not None and self._context is not None:
            ctx_json = self._context.render(
                event_json, event_id, ctx["source"], ctx["event_type"], run_id
            )
        else:
            ctx_json = json.dumps(ctx)
        ids = [new_uuid() for _ in template.task_slots]
        return template.render(ctx_json, event_id, run_id, argsrepr, kwargsrepr, ids, new_uuid())

    def _through_celery(
        self,
        wf: Workflow,
        ctx: Any,
        event_id: str,
        run_id: str,
        argsrepr: str,
        kwargsrepr: str,
        task_ids: list[str] | None = None,
        tag: str | None = None,
    ) -> QueuedMessage:
        sig = self._compile(self._celery, wf, ctx, event_id=event_id, run_id=run_id)
        if task_ids is not None:
            for step, task_id in zip(steps(sig), task_ids, strict=True):
                step.set(task_id=task_id)
        published = [
            p
            for p in capture(sig, argsrepr=argsrepr, kwargsrepr=kwargsrepr)
            if p.exchange != self._channel.event_exchange
        ]
        if len(published) != 1:
            raise ConfigError(f"a run of '{wf.name}' published {len(published)} messages")
        pub = published[0]
        content_type, encoding, inner = serialize(pub.body, serializer=pub.serializer)
        data: bytes = inner.encode() if isinstance(inner, str) else inner
        if pub.compression:
            data, pub.headers["compression"] = compress(data, pub.compression)
        key, message = self._channel.message(pub, "", tag or str(uuid.uuid4()))
        message["body"] = self._channel.encode_bytes(data)
        message["content-type"], message["content-encoding"] = content_type, encoding
        first_id = task_ids[0] if task_ids else str(pub.headers.get("id"))
        return QueuedMessage(key, kombu_json(message), first_id)

    def _template(self, wf: Workflow) -> _RunTemplate | None:
        salt = secrets.token_hex(6)
        try:
            probe = self._compile(self._celery, wf, {}, event_id="e", run_id="r")
            count = len(steps(probe))
            names = [*_SLOTS, *(f"task{i}" for i in range(count))]
            tokens = {name: f"hub-slot-{salt}-{name}" for name in names}
            sig = self._compile(
                self._celery,
                wf,
                tokens["ctx"],
                event_id=tokens["event_id"],
                run_id=tokens["run_id"],
            )
            for step, i in zip(steps(sig), range(count), strict=True):
                step.set(task_id=tokens[f"task{i}"])
            template = _RunTemplate(self._channel, sig, tokens)
            self._check(wf, template, count)
        except Exception as exc:  # any surprise: build every message through Celery
            log.warning("workflow %s: runs built through Celery for every event (%s)", wf.name, exc)
            return None
        return template

    def _check(self, wf: Workflow, template: _RunTemplate, count: int) -> None:
        ctx = new_context(
            event={"sample": ["é", 1, None]},
            event_id='sample "1"',
            source="sample",
            event_type="sample.check",
            run_id="run-1",
        )
        ids = [str(uuid.uuid4()) for _ in range(count)]
        args = ('sample "1"', "run-1", "(ctx,)", "{'k': 'v'}")
        mine = template.render(json.dumps(ctx), *args, ids, "tag-1")
        celery = self._through_celery(wf, ctx, *args, task_ids=ids, tag="tag-1")
        if mine.key != celery.key or decoded(mine.payload) != decoded(celery.payload):
            raise ConfigError("its message does not depend on the event alone")


def _string(value: str) -> str:
    """``value`` as a JSON string, exactly as ``json.dumps`` writes it."""
    return _encode_string(value)


def _reprs(wf: Workflow, ctx: Mapping[str, Any], event_id: str, run_id: str) -> tuple[str, str]:
    """What Flower and worker logs show for a run's first task; no event data."""
    argsrepr = f"(<context of {ctx.get('source')} event {event_id!r}>,)"
    kwargs = step_kwargs(wf, wf.steps[0].id, event_id=event_id, run_id=run_id)
    return argsrepr, repr(kwargs)
