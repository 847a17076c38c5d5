-- Target tables become per-config (docs/architecture.md, "Target tables"): the built-in
-- target types' tables are created only for types the config does not map to a host
-- table, and each target type gets its own status-mirror trigger.

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

-- A database made by an earlier version has the built-in tables, made by enricher,
-- and one trigger for all three: those tables are enricher's, and the trigger gives
-- way to the per-type ones.
INSERT INTO ai_owned_tables (table_name, target_entity_type)
SELECT owned.table_name, owned.target_entity_type
  FROM (VALUES ('code_entities', 'code_entity'), ('project_documents', 'project_document'),
               ('conversations', 'conversation'), ('conversation_messages', 'conversation'))
       AS owned (table_name, target_entity_type)
 WHERE EXISTS (SELECT 1 FROM pg_proc WHERE proname = 'enricher_entity_status');
DROP TRIGGER IF EXISTS background_ai_jobs_entity_status ON background_ai_jobs;
DROP FUNCTION IF EXISTS enricher_entity_status();

-- Topics lose their foreign key to conversations: a mapped conversation is a host's row.
ALTER TABLE conversation_topics DROP CONSTRAINT IF EXISTS conversation_topics_conversation_id_fkey;
