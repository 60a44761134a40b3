"""Intake tests share the ingress tests' fixtures (an ingress on the session Redis)."""

from tests.hub.ingress.conftest import celery_for, make_client, settings_for

__all__ = ["celery_for", "make_client", "settings_for"]
