"""Throttling: what stands between a claimed job and its provider call.

``pauses`` holds every worker's scope pauses and the guarded provider that checks
them, ``budget`` the rate budget shared through the database, ``spend`` the spend
caps, ``fallback`` a task's chain of pools, and ``guards`` builds one guard per task
type and tracks each provider pool's saturation. See
docs/architecture.md, "Throttling".
"""
