-- The batch lane (SQLite): jobs sent through a provider's batch API at half price.
--
-- A job waiting in a provider batch is 'batched': active (it counts in the
-- one-active-job rule and in the target's ai_status), not claimable. Its batch_id names
-- the row of ai_provider_batches that maps the provider's batch to its jobs, so any
-- worker can poll a batch another worker submitted (docs/architecture.md, "The batch
-- lane").
--
-- The status CHECK gains 'batched' by editing the table's stored definition
-- (writable_schema), as SQLite's documentation describes for a constraint that only
-- loosens: no row changes, so no table rebuild, whatever the table's size. The ALTER
-- TABLE below changes the schema cookie, so other connections reload the definition.

PRAGMA writable_schema = ON;
UPDATE sqlite_master
   SET sql = replace(sql, '''failed_job_logic'', ''cancelled''))',
                          '''failed_job_logic'', ''cancelled'', ''batched''))')
 WHERE type = 'table' AND name = 'background_ai_jobs';
PRAGMA writable_schema = RESET;

ALTER TABLE background_ai_jobs ADD COLUMN batch_id TEXT;

DROP INDEX background_ai_jobs_one_active;
CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched');

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

DROP TRIGGER background_ai_jobs_checked_on_insert;
DROP TRIGGER background_ai_jobs_checked_on_update;

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
