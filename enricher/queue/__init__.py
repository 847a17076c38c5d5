"""The queue: how a job enters, leaves and is read back, and each state transition.

``enqueue`` creates jobs (one active job per target, the content-hash skip),
``verdicts`` decides the transition an attempt ends in, ``redrive`` sends failed jobs
back, ``retention`` deletes old terminal ones, and ``views`` reads jobs for people.
See docs/architecture.md, "State machine".
"""
