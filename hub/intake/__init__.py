"""intake: a delivery (webhook, polled record, replay, test case) becomes a plan of runs.

- :mod:`~hub.intake.delivery`: the kinds of delivery, and :class:`~hub.intake.delivery.Event`.
- :mod:`~hub.intake.plan`: :class:`~hub.intake.plan.Intake`, the one place that routes,
  evaluates the workflow-level ``if`` and names the event id to dedupe on.
- :mod:`~hub.intake.webhook`: reading a webhook delivery (authentication, JSON, type, id).
- :mod:`~hub.intake.batch`: a delivery that carries many events, one per element.
- :mod:`~hub.intake.handshakes`: verification handshakes, answered without a run.
- :mod:`~hub.intake.sources`, :mod:`~hub.intake.presets`, :mod:`~hub.intake.resolve`:
  source files, the senders the hub knows by name, the sources the ingress serves.
- :mod:`~hub.intake.signatures`, :mod:`~hub.intake.credentials`,
  :mod:`~hub.intake.secret_refs`: the signature schemes, the credential schemes (shared
  secret, bearer, Basic), secrets as files name them.
- :mod:`~hub.intake.extract`, :mod:`~hub.intake.routing`: where values are read in a
  delivery (headers, paths, formats); which workflows match.
- :mod:`~hub.intake.demo`: signed deliveries with a stand-in secret for local runs.
"""
