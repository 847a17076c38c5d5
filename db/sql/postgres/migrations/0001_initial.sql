-- enricher schema, version 1 (PostgreSQL): timestamptz, jsonb, uuid defaults.

CREATE TABLE background_ai_jobs (
    job_id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    task_type          text NOT NULL,
    target_entity_type text NOT NULL,
    target_entity_id   text NOT NULL,
    status             text NOT NULL DEFAULT 'pending' CHECK (status IN (
        'pending', 'processing', 'rate_limited', 'retry_ai', 'completed',
        'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')),
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
    cost_usd           double precision
);

CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai');

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
