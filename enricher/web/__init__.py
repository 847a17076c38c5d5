"""enricher web: the dashboard (see :mod:`enricher.web.server`)."""

from enricher.web.server import create_app

__all__ = ["create_app"]
