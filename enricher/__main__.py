"""``python -m enricher`` is the ``enricher`` console script."""

from enricher.cli.main import main

main()
