-- The whole current schema (sqlite), as a fresh database would get it. tests/integration/
-- test_migrations.py checks it equals the schema built by applying every migration.

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
        'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled', 'batched')),
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
    cost_usd           REAL,
    error_history      TEXT,
    cached_input_tokens INTEGER,
    cache_write_tokens INTEGER,
    batch_id           TEXT,
    job_group          TEXT
);

-- At most one active job per target: enqueueing again finds this one.
CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched');

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

CREATE TABLE ai_rate_limits (
    pool_key         TEXT PRIMARY KEY NOT NULL,
    rpm              INTEGER,
    tpm              INTEGER,
    input_tpm        INTEGER,
    output_tpm       INTEGER,
    source           TEXT NOT NULL DEFAULT 'config',
    factor           REAL NOT NULL DEFAULT 1.0,
    last_limited_at  TEXT,
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE ai_rate_usage (
    usage_id   TEXT PRIMARY KEY NOT NULL,
    pool_key   TEXT NOT NULL,
    worker_id  TEXT NOT NULL,
    used_at    TEXT NOT NULL,
    requests   INTEGER NOT NULL,
    tokens     INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ai_rate_usage_window ON ai_rate_usage (pool_key, used_at);

-- 0003: the last 20 errors of every job, kept by a trigger.

CREATE TRIGGER background_ai_jobs_error_history
AFTER UPDATE OF status, error_message ON background_ai_jobs
WHEN NEW.error_message IS NOT NULL AND NEW.status <> 'processing'
 AND (NEW.status IS NOT OLD.status OR NEW.error_message IS NOT OLD.error_message)
BEGIN
    UPDATE background_ai_jobs
       SET error_history = (
           SELECT CASE WHEN json_array_length(h) > 20 THEN json_remove(h, '$[0]') ELSE h END
             FROM (SELECT json_insert(COALESCE(NEW.error_history, '[]'), '$[#]',
                                      json_object('at', NEW.updated_at,
                                                  'attempt', NEW.attempts,
                                                  'status', NEW.status,
                                                  'error', NEW.error_message)) AS h))
     WHERE job_id = NEW.job_id;
END;

-- Finished jobs by the time they finished (a terminal job's updated_at): throughput over
-- the last minute and hour (status) and retention (prune) walk it, not the whole table.
CREATE INDEX background_ai_jobs_finished ON background_ai_jobs (updated_at)
    WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled');

-- 0004: job rows are type-checked and their timestamps normalised at every write
-- (0007 adds the cache token columns to the checks, 0009 batch_id, 0011 job_group).

CREATE TRIGGER background_ai_jobs_checked_on_insert
AFTER INSERT ON background_ai_jobs
WHEN NOT COALESCE((typeof(NEW.job_id) = 'text' AND NEW.job_id <> '' AND NEW.job_id NOT GLOB '*[^ -~]*')
      AND typeof(NEW.task_type) = 'text'
      AND typeof(NEW.target_entity_type) = 'text'
      AND typeof(NEW.target_entity_id) = 'text'
      AND typeof(NEW.payload) IN ('text', 'null')
      AND typeof(NEW.locked_by) IN ('text', 'null')
      AND typeof(NEW.error_message) IN ('text', 'null')
      AND typeof(NEW.result) IN ('text', 'null')
      AND typeof(NEW.provider) IN ('text', 'null')
      AND typeof(NEW.model) IN ('text', 'null')
      AND typeof(NEW.batch_id) IN ('text', 'null')
      AND typeof(NEW.error_history) IN ('text', 'null')
      AND typeof(NEW.job_group) IN ('text', 'null')
      AND (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647)
      AND (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647)
      AND (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647))
      AND (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0))
      AND (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0))
      AND (NEW.cached_input_tokens IS NULL OR (typeof(NEW.cached_input_tokens) = 'integer' AND NEW.cached_input_tokens >= 0))
      AND (NEW.cache_write_tokens IS NULL OR (typeof(NEW.cache_write_tokens) = 'integer' AND NEW.cache_write_tokens >= 0))
      AND typeof(NEW.cost_usd) IN ('real', 'integer', 'null')
      AND NEW.run_after GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND NEW.created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND NEW.updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND (NEW.locked_at IS NULL OR NEW.locked_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
      AND (NEW.last_attempted_at IS NULL OR NEW.last_attempted_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
      AND (NEW.completed_at IS NULL OR NEW.completed_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0)
BEGIN
    SELECT RAISE(ABORT, 'background_ai_jobs.job_id must be printable ASCII text (a UUID)') WHERE NOT (typeof(NEW.job_id) = 'text' AND NEW.job_id <> '' AND NEW.job_id NOT GLOB '*[^ -~]*');
    SELECT RAISE(ABORT, 'background_ai_jobs.task_type must be text') WHERE NOT typeof(NEW.task_type) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.target_entity_type must be text') WHERE NOT typeof(NEW.target_entity_type) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.target_entity_id must be text') WHERE NOT typeof(NEW.target_entity_id) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.payload must be text or NULL') WHERE NOT typeof(NEW.payload) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.locked_by must be text or NULL') WHERE NOT typeof(NEW.locked_by) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.error_message must be text or NULL') WHERE NOT typeof(NEW.error_message) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.result must be text or NULL') WHERE NOT typeof(NEW.result) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.provider must be text or NULL') WHERE NOT typeof(NEW.provider) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.model must be text or NULL') WHERE NOT typeof(NEW.model) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.batch_id must be text or NULL') WHERE NOT typeof(NEW.batch_id) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.error_history must be text or NULL') WHERE NOT typeof(NEW.error_history) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.job_group must be text or NULL') WHERE NOT typeof(NEW.job_group) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.priority must be an integer from -2147483648 to 2147483647') WHERE NOT (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.attempts must be an integer from 0 to 2147483647') WHERE NOT (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.max_attempts must be NULL or an integer from 1 to 2147483647') WHERE NOT (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647));
    SELECT RAISE(ABORT, 'background_ai_jobs.input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.output_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cached_input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.cached_input_tokens IS NULL OR (typeof(NEW.cached_input_tokens) = 'integer' AND NEW.cached_input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cache_write_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.cache_write_tokens IS NULL OR (typeof(NEW.cache_write_tokens) = 'integer' AND NEW.cache_write_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cost_usd must be NULL or a number') WHERE NOT typeof(NEW.cost_usd) IN ('real', 'integer', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.run_after must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.run_after) = 'text' AND julianday(NEW.run_after) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.created_at must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.created_at) = 'text' AND julianday(NEW.created_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.updated_at must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.updated_at) = 'text' AND julianday(NEW.updated_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.locked_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.locked_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.locked_at) = 'text' AND julianday(NEW.locked_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.last_attempted_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.last_attempted_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.last_attempted_at) = 'text' AND julianday(NEW.last_attempted_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.completed_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.completed_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.completed_at) = 'text' AND julianday(NEW.completed_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    UPDATE background_ai_jobs
       SET run_after = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(run_after)),
           created_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(created_at)),
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(updated_at)),
           locked_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(locked_at)),
           last_attempted_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(last_attempted_at)),
           completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(completed_at))
     WHERE rowid = NEW.rowid;
END;

CREATE TRIGGER background_ai_jobs_checked_on_update
AFTER UPDATE ON background_ai_jobs
WHEN NOT COALESCE((typeof(NEW.job_id) = 'text' AND NEW.job_id <> '' AND NEW.job_id NOT GLOB '*[^ -~]*')
      AND typeof(NEW.task_type) = 'text'
      AND typeof(NEW.target_entity_type) = 'text'
      AND typeof(NEW.target_entity_id) = 'text'
      AND typeof(NEW.payload) IN ('text', 'null')
      AND typeof(NEW.locked_by) IN ('text', 'null')
      AND typeof(NEW.error_message) IN ('text', 'null')
      AND typeof(NEW.result) IN ('text', 'null')
      AND typeof(NEW.provider) IN ('text', 'null')
      AND typeof(NEW.model) IN ('text', 'null')
      AND typeof(NEW.batch_id) IN ('text', 'null')
      AND typeof(NEW.error_history) IN ('text', 'null')
      AND typeof(NEW.job_group) IN ('text', 'null')
      AND (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647)
      AND (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647)
      AND (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647))
      AND (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0))
      AND (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0))
      AND (NEW.cached_input_tokens IS NULL OR (typeof(NEW.cached_input_tokens) = 'integer' AND NEW.cached_input_tokens >= 0))
      AND (NEW.cache_write_tokens IS NULL OR (typeof(NEW.cache_write_tokens) = 'integer' AND NEW.cache_write_tokens >= 0))
      AND typeof(NEW.cost_usd) IN ('real', 'integer', 'null')
      AND NEW.run_after GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND NEW.created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND NEW.updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'
      AND (NEW.locked_at IS NULL OR NEW.locked_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
      AND (NEW.last_attempted_at IS NULL OR NEW.last_attempted_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z')
      AND (NEW.completed_at IS NULL OR NEW.completed_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0)
BEGIN
    SELECT RAISE(ABORT, 'background_ai_jobs.job_id must be printable ASCII text (a UUID)') WHERE NOT (typeof(NEW.job_id) = 'text' AND NEW.job_id <> '' AND NEW.job_id NOT GLOB '*[^ -~]*');
    SELECT RAISE(ABORT, 'background_ai_jobs.task_type must be text') WHERE NOT typeof(NEW.task_type) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.target_entity_type must be text') WHERE NOT typeof(NEW.target_entity_type) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.target_entity_id must be text') WHERE NOT typeof(NEW.target_entity_id) = 'text';
    SELECT RAISE(ABORT, 'background_ai_jobs.payload must be text or NULL') WHERE NOT typeof(NEW.payload) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.locked_by must be text or NULL') WHERE NOT typeof(NEW.locked_by) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.error_message must be text or NULL') WHERE NOT typeof(NEW.error_message) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.result must be text or NULL') WHERE NOT typeof(NEW.result) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.provider must be text or NULL') WHERE NOT typeof(NEW.provider) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.model must be text or NULL') WHERE NOT typeof(NEW.model) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.batch_id must be text or NULL') WHERE NOT typeof(NEW.batch_id) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.error_history must be text or NULL') WHERE NOT typeof(NEW.error_history) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.job_group must be text or NULL') WHERE NOT typeof(NEW.job_group) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.priority must be an integer from -2147483648 to 2147483647') WHERE NOT (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.attempts must be an integer from 0 to 2147483647') WHERE NOT (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.max_attempts must be NULL or an integer from 1 to 2147483647') WHERE NOT (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647));
    SELECT RAISE(ABORT, 'background_ai_jobs.input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.output_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cached_input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.cached_input_tokens IS NULL OR (typeof(NEW.cached_input_tokens) = 'integer' AND NEW.cached_input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cache_write_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.cache_write_tokens IS NULL OR (typeof(NEW.cache_write_tokens) = 'integer' AND NEW.cache_write_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.cost_usd must be NULL or a number') WHERE NOT typeof(NEW.cost_usd) IN ('real', 'integer', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.run_after must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.run_after) = 'text' AND julianday(NEW.run_after) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.created_at must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.created_at) = 'text' AND julianday(NEW.created_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.updated_at must be an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NOT (COALESCE(typeof(NEW.updated_at) = 'text' AND julianday(NEW.updated_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.locked_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.locked_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.locked_at) = 'text' AND julianday(NEW.locked_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.last_attempted_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.last_attempted_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.last_attempted_at) = 'text' AND julianday(NEW.last_attempted_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.completed_at must be NULL or an ISO-8601 UTC timestamp such as 2026-01-31T12:00:00Z') WHERE NEW.completed_at IS NOT NULL AND NOT (COALESCE(typeof(NEW.completed_at) = 'text' AND julianday(NEW.completed_at) BETWEEN 1721425.5 AND 5373485.4999, 0));
    UPDATE background_ai_jobs
       SET run_after = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(run_after)),
           created_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(created_at)),
           updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(updated_at)),
           locked_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(locked_at)),
           last_attempted_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(last_attempted_at)),
           completed_at = strftime('%Y-%m-%dT%H:%M:%fZ', julianday(completed_at))
     WHERE rowid = NEW.rowid;
END;

-- Tables enricher created itself. A table with a built-in name that is not listed here
-- is a host's, and enricher never touches it.
CREATE TABLE ai_owned_tables (
    table_name         TEXT PRIMARY KEY NOT NULL,
    target_entity_type TEXT NOT NULL,
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- The status-mirror triggers in place, by target type, and the script that made each:
-- a worker starting with the same config finds nothing to change.
CREATE TABLE ai_target_triggers (
    target_entity_type TEXT PRIMARY KEY NOT NULL,
    definition         TEXT NOT NULL,
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

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

CREATE INDEX background_ai_jobs_created ON background_ai_jobs (created_at DESC, job_id DESC);

-- 0009: the batch lane.
-- A batch's jobs, for its results and for `enricher batches show`.
CREATE INDEX background_ai_jobs_batch ON background_ai_jobs (batch_id)
    WHERE batch_id IS NOT NULL;

-- One row per provider batch: which provider, model and endpoint, the provider's ids,
-- where it stands, its counts. 'preparing' rows have jobs marked but no provider batch
-- yet; 'submitted' ones are open at the provider; 'cancelling' ones an operator
-- cancelled (`enricher batches cancel`), still open until the provider ends them;
-- 'ended' ones had their results applied; 'failed' ones were refused at submission
-- (their jobs went back).
CREATE TABLE ai_provider_batches (
    batch_id           TEXT PRIMARY KEY,
    task_type          TEXT NOT NULL,
    provider           TEXT NOT NULL,
    model              TEXT NOT NULL,
    base_url           TEXT NOT NULL DEFAULT '',
    provider_batch_id  TEXT,
    input_file_id      TEXT,
    output_file_id     TEXT,
    error_file_id      TEXT,
    status             TEXT NOT NULL DEFAULT 'preparing' CHECK (status IN (
        'preparing', 'submitted', 'cancelling', 'ended', 'failed')),
    provider_status    TEXT,
    request_count      INTEGER NOT NULL DEFAULT 0,
    succeeded_count    INTEGER NOT NULL DEFAULT 0,
    errored_count      INTEGER NOT NULL DEFAULT 0,
    expired_count      INTEGER NOT NULL DEFAULT 0,
    cancelled_count    INTEGER NOT NULL DEFAULT 0,
    estimated_cost_usd REAL,
    created_by         TEXT NOT NULL,
    polled_by          TEXT,
    next_poll_at       TEXT NOT NULL,
    error              TEXT,
    created_at         TEXT NOT NULL,
    submitted_at       TEXT,
    ended_at           TEXT,
    updated_at         TEXT NOT NULL
);
-- Open batches by when they are next due a poll: what every worker's poller reads.
CREATE INDEX ai_provider_batches_open ON ai_provider_batches (next_poll_at)
    WHERE status IN ('preparing', 'submitted', 'cancelling');
-- `enricher batches list`, newest first.
CREATE INDEX ai_provider_batches_created ON ai_provider_batches (created_at);
-- A provider's batch id names a batch too, and belongs to one row only: a lost
-- submission found again at the provider is adopted by one row, never two.
CREATE UNIQUE INDEX ai_provider_batches_provider_id ON ai_provider_batches (provider_batch_id);

-- 0010: the dashboard's jobs list by status and by task, newest first.
CREATE INDEX background_ai_jobs_status_created
    ON background_ai_jobs (status, created_at DESC, job_id DESC);
CREATE INDEX background_ai_jobs_task_created
    ON background_ai_jobs (task_type, created_at DESC, job_id DESC);

-- 0011: fair share between groups. The claimable rows by priority, then group (NULL has
-- its own key, '0'), then claim order: what the fair claim walks (claim_jobs_fair).
CREATE INDEX background_ai_jobs_fair
    ON background_ai_jobs (priority DESC, COALESCE('1' || job_group, '0'), run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');
