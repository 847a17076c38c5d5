-- Job rows the worker can always read (SQLite). PostgreSQL refuses a wrongly typed value
-- by its column types; SQLite stores whatever a host's plain SQL writes, and one row with
-- priority = 'high' sorted first in every claim and crashed every worker. From here on
-- the table refuses such rows, naming the column, and normalises timestamps to the one
-- fixed-width form the claim compares as text (SQLite's own "2026-01-31 12:00:00", an
-- offset, or a date alone become "2026-01-31T12:00:00.000Z"; see docs in the README).
-- The checks run only when a value is off: the trigger's WHEN is one expression over the
-- row, false for every row enricher itself writes.

-- Rows written before this version: timestamps normalised where they can be read; rows
-- with a value of the wrong type have it reset, and active ones fail with the reason.
UPDATE background_ai_jobs
   SET run_after = CASE WHEN COALESCE(typeof(run_after) = 'text' AND julianday(run_after) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(run_after)) ELSE run_after END,
       created_at = CASE WHEN COALESCE(typeof(created_at) = 'text' AND julianday(created_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(created_at)) ELSE created_at END,
       updated_at = CASE WHEN COALESCE(typeof(updated_at) = 'text' AND julianday(updated_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(updated_at)) ELSE updated_at END,
       locked_at = CASE WHEN COALESCE(typeof(locked_at) = 'text' AND julianday(locked_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(locked_at)) ELSE locked_at END,
       last_attempted_at = CASE WHEN COALESCE(typeof(last_attempted_at) = 'text' AND julianday(last_attempted_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(last_attempted_at)) ELSE last_attempted_at END,
       completed_at = CASE WHEN COALESCE(typeof(completed_at) = 'text' AND julianday(completed_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(completed_at)) ELSE completed_at END
 WHERE NOT COALESCE(run_after GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) OR NOT COALESCE(created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) OR NOT COALESCE(updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) OR NOT COALESCE((locked_at IS NULL OR locked_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0) OR NOT COALESCE((last_attempted_at IS NULL OR last_attempted_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0) OR NOT COALESCE((completed_at IS NULL OR completed_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0);

UPDATE background_ai_jobs
   SET error_message = CASE WHEN status IN ('pending', 'processing', 'rate_limited', 'retry_ai')
                            THEN 'invalid row, repaired by schema upgrade 0004: '
                                 || rtrim(CASE WHEN NOT COALESCE((typeof(job_id) = 'text' AND job_id <> '' AND job_id NOT GLOB '*[^ -~]*'), 0) THEN 'job_id = ' || quote(job_id) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(task_type) = 'text', 0) THEN 'task_type = ' || quote(task_type) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(target_entity_type) = 'text', 0) THEN 'target_entity_type = ' || quote(target_entity_type) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(target_entity_id) = 'text', 0) THEN 'target_entity_id = ' || quote(target_entity_id) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(payload) IN ('text', 'null'), 0) THEN 'payload = ' || quote(payload) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(locked_by) IN ('text', 'null'), 0) THEN 'locked_by = ' || quote(locked_by) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(error_message) IN ('text', 'null'), 0) THEN 'error_message = ' || quote(error_message) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(result) IN ('text', 'null'), 0) THEN 'result = ' || quote(result) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(provider) IN ('text', 'null'), 0) THEN 'provider = ' || quote(provider) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(model) IN ('text', 'null'), 0) THEN 'model = ' || quote(model) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(error_history) IN ('text', 'null'), 0) THEN 'error_history = ' || quote(error_history) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((typeof(priority) = 'integer' AND priority BETWEEN -2147483648 AND 2147483647), 0) THEN 'priority = ' || quote(priority) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((typeof(attempts) = 'integer' AND attempts BETWEEN 0 AND 2147483647), 0) THEN 'attempts = ' || quote(attempts) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((max_attempts IS NULL OR (typeof(max_attempts) = 'integer' AND max_attempts BETWEEN 1 AND 2147483647)), 0) THEN 'max_attempts = ' || quote(max_attempts) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((input_tokens IS NULL OR (typeof(input_tokens) = 'integer' AND input_tokens >= 0)), 0) THEN 'input_tokens = ' || quote(input_tokens) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((output_tokens IS NULL OR (typeof(output_tokens) = 'integer' AND output_tokens >= 0)), 0) THEN 'output_tokens = ' || quote(output_tokens) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(typeof(cost_usd) IN ('real', 'integer', 'null'), 0) THEN 'cost_usd = ' || quote(cost_usd) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(run_after GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) THEN 'run_after = ' || quote(run_after) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) THEN 'created_at = ' || quote(created_at) || '; ' ELSE '' END || CASE WHEN NOT COALESCE(updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z', 0) THEN 'updated_at = ' || quote(updated_at) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((locked_at IS NULL OR locked_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0) THEN 'locked_at = ' || quote(locked_at) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((last_attempted_at IS NULL OR last_attempted_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0) THEN 'last_attempted_at = ' || quote(last_attempted_at) || '; ' ELSE '' END || CASE WHEN NOT COALESCE((completed_at IS NULL OR completed_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0) THEN 'completed_at = ' || quote(completed_at) || '; ' ELSE '' END, '; ')
                            ELSE error_message END,
       status = CASE WHEN status IN ('pending', 'processing', 'rate_limited', 'retry_ai') THEN 'failed_job_logic' ELSE status END,
       locked_by = CASE WHEN status IN ('pending', 'processing', 'rate_limited', 'retry_ai') THEN NULL ELSE locked_by END,
       job_id = CASE WHEN (typeof(job_id) = 'text' AND job_id <> '' AND job_id NOT GLOB '*[^ -~]*') THEN job_id ELSE lower(hex(job_id)) END,
       task_type = CASE WHEN typeof(task_type) IN ('text', 'null') THEN task_type ELSE CAST(task_type AS TEXT) END,
       target_entity_type = CASE WHEN typeof(target_entity_type) IN ('text', 'null') THEN target_entity_type ELSE CAST(target_entity_type AS TEXT) END,
       target_entity_id = CASE WHEN typeof(target_entity_id) IN ('text', 'null') THEN target_entity_id ELSE CAST(target_entity_id AS TEXT) END,
       payload = CASE WHEN typeof(payload) IN ('text', 'null') THEN payload ELSE CAST(payload AS TEXT) END,
       result = CASE WHEN typeof(result) IN ('text', 'null') THEN result ELSE CAST(result AS TEXT) END,
       provider = CASE WHEN typeof(provider) IN ('text', 'null') THEN provider ELSE CAST(provider AS TEXT) END,
       model = CASE WHEN typeof(model) IN ('text', 'null') THEN model ELSE CAST(model AS TEXT) END,
       error_history = CASE WHEN typeof(error_history) IN ('text', 'null') THEN error_history ELSE CAST(error_history AS TEXT) END,
       priority = CASE WHEN (typeof(priority) = 'integer' AND priority BETWEEN -2147483648 AND 2147483647) THEN priority ELSE 0 END,
       attempts = CASE WHEN (typeof(attempts) = 'integer' AND attempts BETWEEN 0 AND 2147483647) THEN attempts ELSE 0 END,
       max_attempts = CASE WHEN (max_attempts IS NULL OR (typeof(max_attempts) = 'integer' AND max_attempts BETWEEN 1 AND 2147483647)) THEN max_attempts END,
       input_tokens = CASE WHEN (input_tokens IS NULL OR (typeof(input_tokens) = 'integer' AND input_tokens >= 0)) THEN input_tokens END,
       output_tokens = CASE WHEN (output_tokens IS NULL OR (typeof(output_tokens) = 'integer' AND output_tokens >= 0)) THEN output_tokens END,
       cost_usd = CASE WHEN typeof(cost_usd) IN ('real', 'integer', 'null') THEN cost_usd END,
       run_after = COALESCE(CASE WHEN COALESCE(typeof(run_after) = 'text' AND julianday(run_after) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(run_after)) END, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       created_at = COALESCE(CASE WHEN COALESCE(typeof(created_at) = 'text' AND julianday(created_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(created_at)) END, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       updated_at = COALESCE(CASE WHEN COALESCE(typeof(updated_at) = 'text' AND julianday(updated_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(updated_at)) END, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
       locked_at = CASE WHEN COALESCE(typeof(locked_at) = 'text' AND julianday(locked_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(locked_at)) END,
       last_attempted_at = CASE WHEN COALESCE(typeof(last_attempted_at) = 'text' AND julianday(last_attempted_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(last_attempted_at)) END,
       completed_at = CASE WHEN COALESCE(typeof(completed_at) = 'text' AND julianday(completed_at) BETWEEN 1721425.5 AND 5373485.4999, 0) THEN strftime('%Y-%m-%dT%H:%M:%fZ', julianday(completed_at)) END
 WHERE NOT COALESCE((typeof(job_id) = 'text' AND job_id <> '' AND job_id NOT GLOB '*[^ -~]*') AND typeof(task_type) = 'text' AND typeof(target_entity_type) = 'text' AND typeof(target_entity_id) = 'text' AND typeof(payload) IN ('text', 'null') AND typeof(locked_by) IN ('text', 'null') AND typeof(error_message) IN ('text', 'null') AND typeof(result) IN ('text', 'null') AND typeof(provider) IN ('text', 'null') AND typeof(model) IN ('text', 'null') AND typeof(error_history) IN ('text', 'null') AND (typeof(priority) = 'integer' AND priority BETWEEN -2147483648 AND 2147483647) AND (typeof(attempts) = 'integer' AND attempts BETWEEN 0 AND 2147483647) AND (max_attempts IS NULL OR (typeof(max_attempts) = 'integer' AND max_attempts BETWEEN 1 AND 2147483647)) AND (input_tokens IS NULL OR (typeof(input_tokens) = 'integer' AND input_tokens >= 0)) AND (output_tokens IS NULL OR (typeof(output_tokens) = 'integer' AND output_tokens >= 0)) AND typeof(cost_usd) IN ('real', 'integer', 'null') AND run_after GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z' AND created_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z' AND updated_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z' AND (locked_at IS NULL OR locked_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z') AND (last_attempted_at IS NULL OR last_attempted_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z') AND (completed_at IS NULL OR completed_at GLOB '[0-9][0-9][0-9][0-9]-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9].[0-9][0-9][0-9]Z'), 0);

-- From now on: refuse, or normalise, at the write.

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
      AND typeof(NEW.error_history) IN ('text', 'null')
      AND (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647)
      AND (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647)
      AND (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647))
      AND (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0))
      AND (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0))
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
    SELECT RAISE(ABORT, 'background_ai_jobs.error_history must be text or NULL') WHERE NOT typeof(NEW.error_history) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.priority must be an integer from -2147483648 to 2147483647') WHERE NOT (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.attempts must be an integer from 0 to 2147483647') WHERE NOT (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.max_attempts must be NULL or an integer from 1 to 2147483647') WHERE NOT (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647));
    SELECT RAISE(ABORT, 'background_ai_jobs.input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.output_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0));
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
      AND typeof(NEW.error_history) IN ('text', 'null')
      AND (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647)
      AND (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647)
      AND (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647))
      AND (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0))
      AND (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0))
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
    SELECT RAISE(ABORT, 'background_ai_jobs.error_history must be text or NULL') WHERE NOT typeof(NEW.error_history) IN ('text', 'null');
    SELECT RAISE(ABORT, 'background_ai_jobs.priority must be an integer from -2147483648 to 2147483647') WHERE NOT (typeof(NEW.priority) = 'integer' AND NEW.priority BETWEEN -2147483648 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.attempts must be an integer from 0 to 2147483647') WHERE NOT (typeof(NEW.attempts) = 'integer' AND NEW.attempts BETWEEN 0 AND 2147483647);
    SELECT RAISE(ABORT, 'background_ai_jobs.max_attempts must be NULL or an integer from 1 to 2147483647') WHERE NOT (NEW.max_attempts IS NULL OR (typeof(NEW.max_attempts) = 'integer' AND NEW.max_attempts BETWEEN 1 AND 2147483647));
    SELECT RAISE(ABORT, 'background_ai_jobs.input_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.input_tokens IS NULL OR (typeof(NEW.input_tokens) = 'integer' AND NEW.input_tokens >= 0));
    SELECT RAISE(ABORT, 'background_ai_jobs.output_tokens must be NULL or a non-negative integer') WHERE NOT (NEW.output_tokens IS NULL OR (typeof(NEW.output_tokens) = 'integer' AND NEW.output_tokens >= 0));
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

