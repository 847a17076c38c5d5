-- Templates of the queries every target table gets (docs/architecture.md, "Target tables").
-- Not named queries themselves: db/targets.py fills each {{placeholder}} with a checked,
-- double-quoted identifier (or NULL for a role the mapping leaves out), registers the
-- result on the connector as target.<type>.<operation>, and strips the casts after
-- parameters for SQLite as db/queries.py does. Written in PostgreSQL's form.

-- name: target_load
SELECT CAST({{id}} AS text) AS id, {{content}} AS raw_content, {{title}} AS title,
       {{path}} AS file_path, {{language}} AS language, {{content_hash}} AS content_hash
  FROM {{table}} WHERE {{id}} = {{key}};

-- name: target_row
SELECT * FROM {{table}} WHERE {{id}} = {{key}};

-- name: target_hashes
SELECT {{content_hash}} AS content_hash, {{ai_content_hash}} AS ai_content_hash
  FROM {{table}} WHERE {{id}} = {{key}};

-- name: target_update
UPDATE {{table}}
   SET {{set}}
 WHERE {{id}} = {{key}};

-- name: target_status_counts
SELECT {{ai_status}} AS ai_status, count(*) AS entities FROM {{table}} GROUP BY {{ai_status}};

-- name: target_messages
SELECT CAST({{message_id}} AS text) AS message_id, {{message_role}} AS role,
       {{message_content}} AS content
  FROM {{messages_table}}
 WHERE {{message_conversation}} = {{message_key}}
 ORDER BY {{message_order}}, {{message_id}};

-- One page of the sweep: keys in order after :after (NULL on the first page), of the
-- entities whose content changed since their last successful enrichment, each with the
-- job group its job gets (the mapping's group column, else NULL).
-- name: target_sweep
SELECT CAST({{id}} AS text) AS id, CAST({{group}} AS text) AS job_group FROM {{table}}
 WHERE (:after_is_null::boolean OR {{id}} > {{after}})
   AND ({{changed}})
 ORDER BY {{id}}
 LIMIT :limit::integer;

-- The three tests of "changed" the sweep may use, the first that the mapping allows.
-- name: changed_by_hash
({{content_hash}} IS NOT NULL
 AND ({{ai_content_hash}} IS NULL OR {{ai_content_hash}} <> {{content_hash}}))
OR ({{content_hash}} IS NULL AND {{ai_last_processed_at}} IS NULL)

-- name: changed_never_processed
{{ai_last_processed_at}} IS NULL

-- name: changed_never_completed
NOT EXISTS (SELECT 1 FROM background_ai_jobs AS j
             WHERE j.target_entity_type = {{type}}
               AND j.target_entity_id = CAST({{table}}.{{id}} AS text)
               AND j.task_type = :task_type::text
               AND j.status = 'completed')
