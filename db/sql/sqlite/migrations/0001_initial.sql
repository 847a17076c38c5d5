-- enricher schema, version 1 (SQLite).
-- Timestamps are ISO-8601 UTC text with milliseconds and 'Z' ("2026-01-31T12:00:00.000Z"):
-- one fixed width, so text order is time order and the claim can use an index.

CREATE TABLE background_ai_jobs (
    job_id             TEXT PRIMARY KEY NOT NULL DEFAULT (
        lower(hex(randomblob(4))) || '-' || lower(hex(randomblob(2))) || '-4'
        || substr(lower(hex(randomblob(2))), 2) || '-'
        || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(lower(hex(randomblob(2))), 2)
        || '-' || lower(hex(randomblob(6)))
    ),
    task_type          TEXT NOT NULL,
    target_entity_type TEXT NOT NULL,
    target_entity_id   TEXT NOT NULL,
    status             TEXT NOT NULL DEFAULT 'pending' CHECK (status IN (
        'pending', 'processing', 'rate_limited', 'retry_ai', 'completed',
        'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')),
    payload            TEXT,
    priority           INTEGER NOT NULL DEFAULT 0,
    attempts           INTEGER NOT NULL DEFAULT 0,
    max_attempts       INTEGER CHECK (max_attempts IS NULL OR max_attempts > 0),
    run_after          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    locked_by          TEXT,
    locked_at          TEXT,
    last_attempted_at  TEXT,
    completed_at       TEXT,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    error_message      TEXT,
    result             TEXT,
    provider           TEXT,
    model              TEXT,
    input_tokens       INTEGER,
    output_tokens      INTEGER,
    cost_usd           REAL
);

-- At most one active job per target: enqueueing again finds this one.
CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai');

-- The claim walks this index in order; completed rows are not in it at all.
CREATE INDEX background_ai_jobs_claimable
    ON background_ai_jobs (priority DESC, run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');

-- Heartbeats, the reaper and shutdown look up a worker's running jobs.
CREATE INDEX background_ai_jobs_processing
    ON background_ai_jobs (locked_by, locked_at)
    WHERE status = 'processing';

CREATE INDEX background_ai_jobs_target
    ON background_ai_jobs (target_entity_type, target_entity_id);

CREATE INDEX background_ai_jobs_status_task ON background_ai_jobs (status, task_type);

CREATE TABLE conversation_topics (
    topic_id         TEXT PRIMARY KEY NOT NULL,
    conversation_id  TEXT NOT NULL,
    summary          TEXT NOT NULL,
    keywords         TEXT NOT NULL,
    purpose_tag      TEXT NOT NULL,
    start_message_id TEXT,
    end_message_id   TEXT,
    created_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX conversation_topics_by_conversation ON conversation_topics (conversation_id);

CREATE TABLE entity_keywords (
    target_entity_type TEXT NOT NULL,
    target_entity_id   TEXT NOT NULL,
    keyword            TEXT NOT NULL,
    weight             REAL NOT NULL DEFAULT 1.0,
    keyword_type       TEXT NOT NULL DEFAULT 'keyword',
    UNIQUE (target_entity_type, target_entity_id, keyword)
);
CREATE INDEX entity_keywords_by_keyword ON entity_keywords (keyword);

CREATE TABLE ai_pauses (
    scope        TEXT PRIMARY KEY NOT NULL,
    paused_until TEXT NOT NULL,
    reason       TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE ai_workers (
    worker_id         TEXT PRIMARY KEY NOT NULL,
    hostname          TEXT NOT NULL,
    pid               INTEGER NOT NULL,
    concurrency       INTEGER NOT NULL,
    status            TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    running           INTEGER NOT NULL DEFAULT 0,
    started_at        TEXT NOT NULL,
    last_heartbeat_at TEXT NOT NULL,
    stopped_at        TEXT
);

