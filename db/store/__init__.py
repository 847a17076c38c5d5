"""Typed functions over the named queries: the only modules that name one.

The rest of the code never passes a query name or a parameter mapping to a
:class:`~enricher.db.Session`: it calls these, with typed keyword arguments, and gets
back exactly what the session returned (``list[Row]``, ``Row | None``, a row count,
or the :class:`~enricher.db.Statement` a handler defers). Each function is a thin
wrapper: the SQL stays in ``db/sql``, and what a function adds is the types, the JSON
encoding of list and map parameters, and a name a reader can follow. One module per
subject, grouped as the queries cluster:

- :mod:`.schema`: the ``schema_version`` table the migrations keep;
- :mod:`.jobs`: enqueue, ``jobs show / list / retry``, cancel, prune;
- :mod:`.claims`: a worker's claimed jobs, from the claim to the verdict or reclaim;
- :mod:`.entities`: what ingest writes into the built-in target tables;
- :mod:`.targets`: any target table, built-in or a host's: catalog, reads, writes, sweep;
- :mod:`.enrichment`: the keyword and topic rows handlers write;
- :mod:`.pauses`, :mod:`.limits`, :mod:`.workers`: ``ai_pauses``, the rate budgets,
  ``ai_workers``;
- :mod:`.batches`: ``ai_provider_batches`` and the jobs waiting in them (the batch lane);
- :mod:`.schedules`: ``ai_schedule_runs``, each fire time claimed once;
- :mod:`.reports`: counts for ``status``, the metrics and the demo.

Every argument is passed by keyword after the session, so a call site reads like
the query's parameters, and a renamed parameter is a type error, not a missing
``:name`` at run time.
"""

from __future__ import annotations

from . import (
    batches,
    claims,
    enrichment,
    entities,
    jobs,
    limits,
    pauses,
    reports,
    schedules,
    schema,
    targets,
    workers,
)

__all__ = [
    "batches",
    "claims",
    "enrichment",
    "entities",
    "jobs",
    "limits",
    "pauses",
    "reports",
    "schedules",
    "schema",
    "targets",
    "workers",
]
