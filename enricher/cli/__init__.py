"""The ``enricher`` command line."""
