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

CREATE TABLE code_entities (
    entity_id            text PRIMARY KEY,
    file_path            text NOT NULL DEFAULT '',
    entity_type          text NOT NULL DEFAULT 'file',
    name                 text NOT NULL DEFAULT '',
    language             text,
    start_line           integer,
    end_line             integer,
    raw_content          text,
    content_hash         text,
    summary              text,
    keywords             jsonb,
    ai_status            text,
    ai_error             text,
    ai_content_hash      text,
    ai_last_processed_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE project_documents (
    document_id          text PRIMARY KEY,
    file_path            text NOT NULL DEFAULT '',
    file_type            text,
    title                text,
    raw_content          text,
    content_hash         text,
    summary              text,
    keywords             jsonb,
    ai_status            text,
    ai_error             text,
    ai_content_hash      text,
    ai_last_processed_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversations (
    conversation_id      text PRIMARY KEY,
    title                text,
    content_hash         text,
    ai_status            text,
    ai_error             text,
    ai_content_hash      text,
    ai_last_processed_at timestamptz,
    created_at           timestamptz NOT NULL DEFAULT now(),
    updated_at           timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE conversation_messages (
    message_id      text PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    role            text NOT NULL,
    content         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX conversation_messages_by_conversation
    ON conversation_messages (conversation_id, created_at, message_id);

CREATE TABLE conversation_topics (
    topic_id         text PRIMARY KEY,
    conversation_id  text NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
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

-- The entity status rule (docs/architecture.md), kept by the database: whoever writes a job,
-- its target's ai_status and ai_error follow in the same transaction.
CREATE FUNCTION enricher_entity_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.error_message IS NOT DISTINCT FROM OLD.error_message THEN
        RETURN NEW;
    END IF;
    IF NEW.target_entity_type = 'code_entity' THEN
        UPDATE code_entities SET ai_status = NEW.status, ai_error = NEW.error_message
         WHERE entity_id = NEW.target_entity_id;
    ELSIF NEW.target_entity_type = 'project_document' THEN
        UPDATE project_documents SET ai_status = NEW.status, ai_error = NEW.error_message
         WHERE document_id = NEW.target_entity_id;
    ELSIF NEW.target_entity_type = 'conversation' THEN
        UPDATE conversations SET ai_status = NEW.status, ai_error = NEW.error_message
         WHERE conversation_id = NEW.target_entity_id;
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER background_ai_jobs_entity_status
AFTER INSERT OR UPDATE OF status, error_message ON background_ai_jobs
FOR EACH ROW EXECUTE FUNCTION enricher_entity_status();

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
