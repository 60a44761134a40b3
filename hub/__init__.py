"""The hub: declarative YAML workflows run as Celery task chains."""

__all__ = ["__version__"]

__version__ = "0.1.0"
