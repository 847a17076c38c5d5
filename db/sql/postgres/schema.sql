-- The whole current schema (postgres), as a fresh database would get it. tests/integration/
-- test_migrations.py checks it equals the schema built by applying every migration.

-- enricher schema, version 1 (PostgreSQL): timestamptz, jsonb, uuid defaults.

CREATE TABLE background_ai_jobs (
    job_id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_type          text NOT NULL,
    target_entity_type text NOT NULL,
    target_entity_id   text NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN (
        'pending', 'processing', 'rate_limited', 'retry_ai', 'completed',
        'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled', 'batched')),
    payload            jsonb,
    priority           integer NOT NULL DEFAULT 0,
    attempts           integer NOT NULL DEFAULT 0,
    max_attempts       integer CHECK (max_attempts IS NULL OR max_attempts > 0),
    run_after          timestamptz NOT NULL DEFAULT now(),
    locked_by          text,
    locked_at          timestamptz,
    last_attempted_at  timestamptz,
    completed_at       timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    error_message      text,
    result             jsonb,
    provider           text,
    model              text,
    input_tokens       integer,
    output_tokens      integer,
    cost_usd           double precision,
    error_history      jsonb,
    cached_input_tokens integer,
    cache_write_tokens integer,
    batch_id           uuid,
    job_group          text COLLATE "C"
);

CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched');

-- Claims walk this small partial index; millions of completed rows are not in it.
CREATE INDEX background_ai_jobs_claimable
    ON background_ai_jobs (priority DESC, run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');

CREATE INDEX background_ai_jobs_processing
    ON background_ai_jobs (locked_by, locked_at)
    WHERE status = 'processing';

CREATE INDEX background_ai_jobs_target
    ON background_ai_jobs (target_entity_type, target_entity_id);

CREATE INDEX background_ai_jobs_status_task ON background_ai_jobs (status, task_type);

CREATE TABLE conversation_topics (
    topic_id         text PRIMARY KEY,
    conversation_id  text NOT NULL,
    summary          text NOT NULL,
    keywords         jsonb NOT NULL,
    purpose_tag      text NOT NULL,
    start_message_id text,
    end_message_id   text,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_topics_by_conversation ON conversation_topics (conversation_id);

CREATE TABLE entity_keywords (
    target_entity_type text NOT NULL,
    target_entity_id   text NOT NULL,
    keyword            text NOT NULL,
    weight             double precision NOT NULL DEFAULT 1.0,
    keyword_type       text NOT NULL DEFAULT 'keyword',
    UNIQUE (target_entity_type, target_entity_id, keyword)
);
CREATE INDEX entity_keywords_by_keyword ON entity_keywords (keyword);

CREATE TABLE ai_pauses (
    scope        text PRIMARY KEY,
    paused_until timestamptz NOT NULL,
    reason       text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_workers (
    worker_id         text PRIMARY KEY,
    hostname          text NOT NULL,
    pid               integer NOT NULL,
    concurrency       integer NOT NULL,
    status            text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
    running           integer NOT NULL DEFAULT 0,
    started_at        timestamptz NOT NULL,
    last_heartbeat_at timestamptz NOT NULL,
    stopped_at        timestamptz
);

-- Wake idle workers at once when claimable work appears (polling stays the fallback).
CREATE FUNCTION enricher_notify_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('enricher_jobs', NEW.task_type);
    RETURN NULL;
END;
$$;

CREATE TRIGGER background_ai_jobs_notify
AFTER INSERT ON background_ai_jobs
FOR EACH ROW EXECUTE FUNCTION enricher_notify_job();


CREATE TABLE ai_rate_limits (
    pool_key         text PRIMARY KEY,
    rpm              integer,
    tpm              integer,
    input_tpm        integer,
    output_tpm       integer,
    source           text NOT NULL DEFAULT 'config',
    factor           double precision NOT NULL DEFAULT 1.0,
    last_limited_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_rate_usage (
    usage_id   uuid PRIMARY KEY,
    pool_key   text NOT NULL,
    worker_id  text NOT NULL,
    used_at    timestamptz NOT NULL,
    requests   integer NOT NULL,
    tokens     integer NOT NULL,
    input_tokens  integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0
);
CREATE INDEX ai_rate_usage_window ON ai_rate_usage (pool_key, used_at);

-- 0003: the last 20 errors of every job, kept by a trigger.

CREATE FUNCTION enricher_error_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    history jsonb;
BEGIN
    history := COALESCE(NEW.error_history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
        'at', NEW.updated_at, 'attempt', NEW.attempts, 'status', NEW.status,
        'error', NEW.error_message));
    IF jsonb_array_length(history) > 20 THEN
        history := history - 0;
    END IF;
    NEW.error_history := history;
    RETURN NEW;
END;
$$;

CREATE TRIGGER background_ai_jobs_error_history
BEFORE UPDATE OF status, error_message ON background_ai_jobs
FOR EACH ROW
WHEN (NEW.error_message IS NOT NULL AND NEW.status <> 'processing'
      AND (NEW.status IS DISTINCT FROM OLD.status
           OR NEW.error_message IS DISTINCT FROM OLD.error_message))
EXECUTE FUNCTION enricher_error_history();

-- Finished jobs by the time they finished (a terminal job's updated_at): throughput over
-- the last minute and hour (status) and retention (prune) walk it, not the whole table.
CREATE INDEX background_ai_jobs_finished ON background_ai_jobs (updated_at)
    WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled');

-- Tables enricher created itself. A table with a built-in name that is not listed here
-- is a host's, and enricher never touches it.
CREATE TABLE ai_owned_tables (
    table_name         text PRIMARY KEY,
    target_entity_type text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now()
);

-- The status-mirror triggers in place, by target type, and the script that made each:
-- a worker starting with the same config finds nothing to change.
CREATE TABLE ai_target_triggers (
    target_entity_type text PRIMARY KEY,
    definition         text NOT NULL,
    updated_at         timestamptz NOT NULL DEFAULT now()
);

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

CREATE INDEX background_ai_jobs_created ON background_ai_jobs (created_at DESC, job_id DESC);

-- 0008: the batch lane.
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
    batch_id           uuid PRIMARY KEY,
    task_type          text NOT NULL,
    provider           text NOT NULL,
    model              text NOT NULL,
    base_url           text NOT NULL DEFAULT '',
    provider_batch_id  text,
    input_file_id      text,
    output_file_id     text,
    error_file_id      text,
    status             text NOT NULL DEFAULT 'preparing' CHECK (status IN (
        'preparing', 'submitted', 'cancelling', 'ended', 'failed')),
    provider_status    text,
    request_count      integer NOT NULL DEFAULT 0,
    succeeded_count    integer NOT NULL DEFAULT 0,
    errored_count      integer NOT NULL DEFAULT 0,
    expired_count      integer NOT NULL DEFAULT 0,
    cancelled_count    integer NOT NULL DEFAULT 0,
    estimated_cost_usd double precision,
    created_by         text NOT NULL,
    polled_by          text,
    next_poll_at       timestamptz NOT NULL,
    error              text,
    created_at         timestamptz NOT NULL,
    submitted_at       timestamptz,
    ended_at           timestamptz,
    updated_at         timestamptz NOT NULL
);
-- Open batches by when they are next due a poll: what every worker's poller reads.
CREATE INDEX ai_provider_batches_open ON ai_provider_batches (next_poll_at)
    WHERE status IN ('preparing', 'submitted', 'cancelling');
-- `enricher batches list`, newest first.
CREATE INDEX ai_provider_batches_created ON ai_provider_batches (created_at);
-- A provider's batch id names a batch too, and belongs to one row only: a lost
-- submission found again at the provider is adopted by one row, never two.
CREATE UNIQUE INDEX ai_provider_batches_provider_id ON ai_provider_batches (provider_batch_id);

-- 0009: the dashboard's jobs list by status and by task, newest first.
CREATE INDEX background_ai_jobs_status_created
    ON background_ai_jobs (status, created_at DESC, job_id DESC);
CREATE INDEX background_ai_jobs_task_created
    ON background_ai_jobs (task_type, created_at DESC, job_id DESC);

-- 0010: fair share between groups. The claimable rows by priority, then group (NULL has
-- its own key, '0'), then claim order: what the fair claim walks (claim_jobs_fair).
CREATE INDEX background_ai_jobs_fair
    ON background_ai_jobs (priority DESC, (COALESCE('1' || job_group, '0')), run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');
