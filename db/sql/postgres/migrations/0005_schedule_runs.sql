-- One row per fire time of each [[schedules]] entry (docs/architecture.md, "Schedules"):
-- the worker that inserts it runs the sweep, so each fire time runs once however many
-- workers there are.
CREATE TABLE ai_schedule_runs (
    schedule_name text NOT NULL,
    fire_time     timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'skipped')),
    worker_id     text NOT NULL,
    started_at    timestamptz NOT NULL,
    finished_at   timestamptz,
    result        text,
    error         text,
    PRIMARY KEY (schedule_name, fire_time)
);
