-- Templates for target tables on SQLite (docs/architecture.md, "Target tables"):
-- the built-in target types' tables, created only for types the config does not map
-- to a host table, and the status-mirror trigger every target with ai_status or
-- ai_error gets. db/targets.py fills each {{placeholder}} with checked, quoted names.

-- The entity status rule for one target type: its ai_status and ai_error follow the
-- job written last, in the same transaction, whoever writes it (the API, a worker, the
-- CLI or a host's plain SQL). On a host's table the write is UPDATE OR IGNORE: a row the
-- host's constraints refuse keeps its old status instead of failing the job's write.
-- name: status_trigger
CREATE TRIGGER {{insert_name}}
AFTER INSERT ON background_ai_jobs
WHEN NEW.target_entity_type = {{type}}
BEGIN
    {{update}} {{table}}
       SET {{set}}
     WHERE {{id}} = {{new_key}};
END;
CREATE TRIGGER {{update_name}}
AFTER UPDATE OF status, error_message ON background_ai_jobs
WHEN NEW.target_entity_type = {{type}}
 AND (NEW.status IS NOT OLD.status OR NEW.error_message IS NOT OLD.error_message)
BEGIN
    {{update}} {{table}}
       SET {{set}}
     WHERE {{id}} = {{new_key}};
END;

-- name: drop_status_trigger
DROP TRIGGER IF EXISTS {{name}};

-- name: create_code_entity
CREATE TABLE code_entities (
    entity_id            TEXT PRIMARY KEY NOT NULL,
    file_path            TEXT NOT NULL DEFAULT '',
    entity_type          TEXT NOT NULL DEFAULT 'file',
    name                 TEXT NOT NULL DEFAULT '',
    language             TEXT,
    start_line           INTEGER,
    end_line             INTEGER,
    raw_content          TEXT,
    content_hash         TEXT,
    summary              TEXT,
    keywords             TEXT,
    ai_status            TEXT,
    ai_error             TEXT,
    ai_content_hash      TEXT,
    ai_last_processed_at TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- name: create_project_document
CREATE TABLE project_documents (
    document_id          TEXT PRIMARY KEY NOT NULL,
    file_path            TEXT NOT NULL DEFAULT '',
    file_type            TEXT,
    title                TEXT,
    raw_content          TEXT,
    content_hash         TEXT,
    summary              TEXT,
    keywords             TEXT,
    ai_status            TEXT,
    ai_error             TEXT,
    ai_content_hash      TEXT,
    ai_last_processed_at TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- name: create_conversation
CREATE TABLE conversations (
    conversation_id      TEXT PRIMARY KEY NOT NULL,
    title                TEXT,
    content_hash         TEXT,
    ai_status            TEXT,
    ai_error             TEXT,
    ai_content_hash      TEXT,
    ai_last_processed_at TEXT,
    created_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at           TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE conversation_messages (
    message_id      TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT NOT NULL REFERENCES conversations (conversation_id) ON DELETE CASCADE,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL DEFAULT '',
    created_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX conversation_messages_by_conversation
    ON conversation_messages (conversation_id, created_at, message_id);

-- name: conversation_extras
-- Topics are enricher's own rows, keyed by conversation id with no foreign key (a
-- mapped conversation lives in a host table): deleting a built-in conversation
-- deletes its topics here instead.
CREATE TRIGGER IF NOT EXISTS conversations_delete_topics
AFTER DELETE ON conversations
BEGIN
    DELETE FROM conversation_topics WHERE conversation_id = OLD.conversation_id;
END;
