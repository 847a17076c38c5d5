-- Templates for target tables on PostgreSQL (docs/architecture.md, "Target tables"):
-- the built-in target types' tables, created only for types the config does not map
-- to a host table, and the status-mirror trigger every target with ai_status or
-- ai_error gets. db/targets.py fills each {{placeholder}} with checked, quoted names.

-- The entity status rule for one target type: its ai_status and ai_error follow the
-- job written last, in the same transaction, whoever writes it (the API, a worker, the
-- CLI or a host's plain SQL). A job id that cannot be the table's key type (text in
-- an integer key) matches no row, rather than failing the job's own write. On a host's
-- table, {{mirror}} catches what the host's own constraints or triggers refuse, with a
-- warning, so the host's rules can never stop the queue (see "host_mirror" below).
-- name: status_trigger
CREATE FUNCTION {{name}}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status
       AND NEW.error_message IS NOT DISTINCT FROM OLD.error_message THEN
        RETURN NEW;
    END IF;
    IF {{key_guard}} THEN
        {{mirror}}
    END IF;
    RETURN NEW;
END;
$$;
CREATE TRIGGER {{name}}
AFTER INSERT OR UPDATE OF status, error_message ON background_ai_jobs
FOR EACH ROW WHEN (NEW.target_entity_type = {{type}})
EXECUTE FUNCTION {{name}}();

-- The mirror's write onto enricher's own table.
-- name: own_mirror
UPDATE {{table}}
           SET {{set}}
         WHERE {{id}} = {{new_key}};

-- The mirror's write onto a host's table: a refusal (a CHECK, an enum, a trigger of the
-- host's) costs the host its mirror of this one change, never the job its write.
-- name: host_mirror
BEGIN
            UPDATE {{table}}
               SET {{set}}
             WHERE {{id}} = {{new_key}};
        EXCEPTION WHEN OTHERS THEN
            RAISE WARNING 'enricher: % refused the status mirror: %', {{table_name}}, SQLERRM;
        END;

-- name: drop_status_trigger
DROP TRIGGER IF EXISTS {{name}} ON background_ai_jobs;
DROP FUNCTION IF EXISTS {{name}}();

-- name: create_code_entity
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

-- name: create_project_document
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

-- name: create_conversation
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

-- name: conversation_extras
-- Topics are enricher's own rows, keyed by conversation id with no foreign key (a
-- mapped conversation lives in a host table): deleting a built-in conversation
-- deletes its topics here instead.
CREATE OR REPLACE FUNCTION enricher_conversation_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM conversation_topics WHERE conversation_id = OLD.conversation_id;
    RETURN OLD;
END;
$$;
CREATE OR REPLACE TRIGGER conversations_delete_topics
AFTER DELETE ON conversations
FOR EACH ROW EXECUTE FUNCTION enricher_conversation_deleted();
