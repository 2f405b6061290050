"""Plexus app: the ``plexus`` command line and (later) Panel components.

Nothing here is imported by the engine; the dependency runs
``dashboards -> app -> engine``.
"""

__all__ = ["cli"]
