"""intake: a delivery (webhook, polled record, replay, test case) becomes a plan of runs.

- :mod:`~hub.intake.delivery`: the kinds of delivery, and :class:`~hub.intake.delivery.Event`.
- :mod:`~hub.intake.plan`: :class:`~hub.intake.plan.Intake`, the one place that routes,
  evaluates the workflow-level ``if`` and names the event id to dedupe on.
- :mod:`~hub.intake.webhook`: reading a webhook delivery (authentication, JSON, type, id).
- :mod:`~hub.intake.sources`, :mod:`~hub.intake.resolve`, :mod:`~hub.intake.signatures`:
  source files, the sources the ingress serves, the signature schemes.
- :mod:`~hub.intake.routing`: where values are read in a body; which workflows match.
- :mod:`~hub.intake.demo`: signed deliveries with a stand-in secret for local runs.
"""
