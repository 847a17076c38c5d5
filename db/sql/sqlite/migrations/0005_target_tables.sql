-- Target tables become per-config (docs/architecture.md, "Target tables"): the built-in
-- target types' tables are created only for types the config does not map to a host
-- table, and each target type gets its own status-mirror trigger.

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

-- A database made by an earlier version has the built-in tables, made by enricher,
-- and one trigger for all three: those tables are enricher's, and the trigger gives
-- way to the per-type ones.
INSERT INTO ai_owned_tables (table_name, target_entity_type)
SELECT owned.table_name, owned.target_entity_type
  FROM (SELECT 'code_entities' AS table_name, 'code_entity' AS target_entity_type
        UNION ALL SELECT 'project_documents', 'project_document'
        UNION ALL SELECT 'conversations', 'conversation'
        UNION ALL SELECT 'conversation_messages', 'conversation') AS owned
 WHERE EXISTS (SELECT 1 FROM sqlite_master
                WHERE type = 'trigger' AND name = 'background_ai_jobs_entity_status_on_insert');
DROP TRIGGER IF EXISTS background_ai_jobs_entity_status_on_insert;
DROP TRIGGER IF EXISTS background_ai_jobs_entity_status_on_update;

-- Topics lose their foreign key to conversations: a mapped conversation is a host's row.
ALTER TABLE conversation_topics RENAME TO conversation_topics_0004;
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
INSERT INTO conversation_topics SELECT * FROM conversation_topics_0004;
DROP TABLE conversation_topics_0004;
CREATE INDEX conversation_topics_by_conversation ON conversation_topics (conversation_id);
