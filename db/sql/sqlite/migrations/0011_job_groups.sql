-- Fair share between groups (SQLite): job_group names the tenant, repository or project
-- a job belongs to; NULL is one group of its own. With worker.fair_groups the claim
-- shares free slots round-robin across the groups that have claimable work, within
-- priority (claim_jobs_fair; docs/architecture.md, "The claim").
--
-- background_ai_jobs_fair is what that claim walks: the claimable rows by priority, then
-- group, then claim order. The group key is COALESCE('1' || job_group, '0'): NULL gets a
-- key of its own ('0') that no named group ('1' followed by the name) can take, even
-- '', and every key sorts after '' so a walk can start "before everything" at ''.
-- SQLite compares text byte by byte (BINARY), the order the worker's round-robin cursor
-- assumes.
--
-- Every job column is type-checked at the write (0004): the checking triggers are
-- recreated with the new column, text or NULL (and batch_id, 0009). Existing rows need no repair: the new
-- column is NULL in all of them.

ALTER TABLE background_ai_jobs ADD COLUMN job_group TEXT;

CREATE INDEX background_ai_jobs_fair
    ON background_ai_jobs (priority DESC, COALESCE('1' || job_group, '0'), run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');

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
