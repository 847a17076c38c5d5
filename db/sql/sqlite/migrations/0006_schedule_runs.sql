-- One row per fire time of each [[schedules]] entry (docs/architecture.md, "Schedules"):
-- the worker that inserts it runs the sweep, so each fire time runs once however many
-- workers there are.
CREATE TABLE ai_schedule_runs (
    schedule_name TEXT NOT NULL,
    fire_time     TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed', 'skipped')),
    worker_id     TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    finished_at   TEXT,
    result        TEXT,
    error         TEXT,
    PRIMARY KEY (schedule_name, fire_time)
);
