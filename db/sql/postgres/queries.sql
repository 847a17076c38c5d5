-- Named queries, PostgreSQL dialect: the ones each dialect writes its own way. Every
-- name here exists in every dialect's file, with the same parameters (db/queries.py
-- checks both at start). Queries that differ only in PostgreSQL's parameter casts
-- are written once, in db/sql/common/queries.sql.
-- What stays here differs in more than casts: JSON parameters (json_each in SQLite,
-- jsonb functions in PostgreSQL), row locks (FOR UPDATE, SKIP LOCKED), max() against
-- GREATEST, NOTIFY, NULL-safe comparison, column types.
-- Parameters are :name (rewritten to $n by the connector); casts pin their types.

-- ───────────────────────────── migrations ─────────────────────────────

-- name: create_schema_version_table
CREATE TABLE IF NOT EXISTS schema_version (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- name: schema_version_table_exists
SELECT (to_regclass('schema_version') IS NOT NULL)::integer AS present;

-- ───────────────────────────── worker ─────────────────────────────

-- name: claim_jobs
-- SKIP LOCKED lets any number of workers claim side by side without waiting on each
-- other; paused scopes are filtered before the LIMIT, as in every dialect, and so are
-- :held_task_types (a JSON array: task types whose pool has a job of ours waiting).
-- :provider_scopes is {task_type: [[scope, ...], ...]}, the task's chain of pools: a task
-- type is left out when every pool has a scope paused (see the SQLite file).
UPDATE background_ai_jobs AS b
   SET status = 'processing',
       locked_by = :worker_id::text,
       locked_at = :now::timestamptz,
       last_attempted_at = :now::timestamptz,
       updated_at = :now::timestamptz,
       max_attempts = COALESCE(
           b.max_attempts,
           (:max_attempts_by_task::jsonb ->> b.task_type)::integer,
           :default_max_attempts::integer)
 WHERE b.job_id IN (
       SELECT j.job_id FROM background_ai_jobs AS j
        WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
          AND j.run_after <= :now::timestamptz
          AND NOT EXISTS (
              SELECT 1 FROM ai_pauses AS p
               WHERE p.scope = 'task:' || j.task_type AND p.paused_until > :now::timestamptz)
          AND j.task_type NOT IN (
              SELECT t.key FROM jsonb_each(:provider_scopes::jsonb) AS t
               WHERE NOT EXISTS (
                     SELECT 1 FROM jsonb_array_elements(t.value) AS pool(scopes)
                      WHERE NOT EXISTS (
                            SELECT 1 FROM jsonb_array_elements_text(pool.scopes) AS s(scope)
                              JOIN ai_pauses AS p ON p.scope = s.scope
                             WHERE p.paused_until > :now::timestamptz)))
          AND NOT (:held_task_types::jsonb ? j.task_type)
        ORDER BY j.priority DESC, j.run_after, j.created_at
        LIMIT :limit::integer
        FOR UPDATE SKIP LOCKED)
RETURNING b.job_id, b.task_type, b.target_entity_type, b.target_entity_id, b.payload,
          b.priority, b.attempts, b.max_attempts, b.run_after, b.created_at;

-- name: plan_fair_claim
-- Run just before claim_jobs_fair, in its transaction: its generic plan (the same index
-- walks, whatever the parameters) takes about 0.2 ms, while re-planning the statement
-- for every claim, as PostgreSQL otherwise keeps doing, costs about 1 ms more than the
-- claim itself. SET LOCAL ends with the transaction; no other query is affected.
SET LOCAL plan_cache_mode = force_generic_plan;

-- name: claim_jobs_fair
-- The fair claim (worker.fair_groups): free slots shared round-robin across the groups
-- that have due, unpaused work, within priority. docs/architecture.md, "The claim".
-- No step reads more than it hands out: two walks over background_ai_jobs_fair (one index
-- probe per group found, one per priority level) collect at most :limit groups each, and
-- each group gives at most :limit of its rows, locked in claim order with SKIP LOCKED.
-- The group key is COALESCE('1' || job_group, '0') (NULL is its own group, '0'), in the
-- column's "C" collation: the worker keeps :after_group, the key it served last, and
-- the walks start after it (after_cursor), then wrap round to it (before_cursor).
-- The filters (due, task pauses, provider scopes, :held_task_types) are today's claim's,
-- applied in every probe and in every group's read: before any LIMIT.
WITH RECURSIVE
eligible AS NOT MATERIALIZED (
    SELECT j.job_id, j.priority, COALESCE('1' || j.job_group, '0') AS grp
      FROM background_ai_jobs AS j
     WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
       AND j.run_after <= :now::timestamptz
       AND NOT EXISTS (
           SELECT 1 FROM ai_pauses AS p
            WHERE p.scope = 'task:' || j.task_type AND p.paused_until > :now::timestamptz)
       AND j.task_type NOT IN (SELECT b.task_type FROM blocked AS b)
       AND NOT (:held_task_types::jsonb ? j.task_type)
),
blocked(task_type) AS MATERIALIZED (
    SELECT t.key FROM jsonb_each(:provider_scopes::jsonb) AS t
     WHERE NOT EXISTS (
           SELECT 1 FROM jsonb_array_elements(t.value) AS pool(scopes)
            WHERE NOT EXISTS (
                  SELECT 1 FROM jsonb_array_elements_text(pool.scopes) AS s(scope)
                    JOIN ai_pauses AS p ON p.scope = s.scope
                   WHERE p.paused_until > :now::timestamptz))
),
top_level(priority) AS (
    SELECT j.priority FROM background_ai_jobs AS j
     WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
     ORDER BY j.priority DESC LIMIT 1
),
-- A walk's row: (priority, grp, stage, groups found before it). Stage 0 starts a level;
-- each stage-1 row is a probe's answer: the next group with due work at that level, or
-- NULL when there is none, and then the next row starts the level below. Keys after
-- the cursor here; those up to it in before_cursor. CASE evaluates one subquery a step.
after_cursor(priority, grp, stage, found) AS (
    SELECT t.priority, NULL::text COLLATE "C", 0, 0 FROM top_level AS t
    UNION ALL
    SELECT CASE WHEN w.stage = 1 AND w.grp IS NULL
                THEN (SELECT l.priority FROM background_ai_jobs AS l
                       WHERE l.status IN ('pending', 'retry_ai', 'rate_limited')
                         AND l.priority < w.priority
                       ORDER BY l.priority DESC LIMIT 1)
                ELSE w.priority END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN NULL
                ELSE (SELECT e.grp FROM eligible AS e
                       WHERE e.priority = w.priority
                         AND e.grp > COALESCE(w.grp, :after_group::text)
                       ORDER BY e.grp LIMIT 1) END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN 0 ELSE 1 END,
           w.found + (w.grp IS NOT NULL)::integer
      FROM after_cursor AS w
     WHERE w.priority IS NOT NULL
       AND w.found + (w.grp IS NOT NULL)::integer < :limit::integer
),
before_cursor(priority, grp, stage, found) AS (
    SELECT t.priority, NULL::text COLLATE "C", 0, 0 FROM top_level AS t
    UNION ALL
    SELECT CASE WHEN w.stage = 1 AND w.grp IS NULL
                THEN (SELECT l.priority FROM background_ai_jobs AS l
                       WHERE l.status IN ('pending', 'retry_ai', 'rate_limited')
                         AND l.priority < w.priority
                       ORDER BY l.priority DESC LIMIT 1)
                ELSE w.priority END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN NULL
                ELSE (SELECT e.grp FROM eligible AS e
                       WHERE e.priority = w.priority
                         AND e.grp > COALESCE(w.grp, '') AND e.grp <= :after_group::text
                       ORDER BY e.grp LIMIT 1) END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN 0 ELSE 1 END,
           w.found + (w.grp IS NOT NULL)::integer
      FROM before_cursor AS w
     WHERE w.priority IS NOT NULL
       AND w.found + (w.grp IS NOT NULL)::integer < :limit::integer
),
groups(wrapped, priority, grp) AS (
    SELECT 0, a.priority, a.grp FROM after_cursor AS a WHERE a.grp IS NOT NULL
    UNION ALL
    SELECT 1, b.priority, b.grp FROM before_cursor AS b WHERE b.grp IS NOT NULL
),
candidates AS (
    SELECT c.job_id, g.wrapped, g.priority, g.grp,
           row_number() OVER (PARTITION BY g.wrapped, g.priority, g.grp
                              ORDER BY c.run_after, c.created_at) AS round
      FROM groups AS g
     CROSS JOIN LATERAL (
           SELECT j.job_id, j.run_after, j.created_at FROM background_ai_jobs AS j
            WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
              AND j.priority = g.priority
              AND COALESCE('1' || j.job_group, '0') = g.grp
              AND j.run_after <= :now::timestamptz
              AND NOT EXISTS (
                  SELECT 1 FROM ai_pauses AS p
                   WHERE p.scope = 'task:' || j.task_type
                     AND p.paused_until > :now::timestamptz)
              AND j.task_type NOT IN (SELECT b.task_type FROM blocked AS b)
              AND NOT (:held_task_types::jsonb ? j.task_type)
            ORDER BY j.run_after, j.created_at
            LIMIT :limit::integer
            FOR UPDATE OF j SKIP LOCKED) AS c
),
chosen AS (
    SELECT c.job_id FROM candidates AS c
     ORDER BY c.priority DESC, c.round, c.wrapped, c.grp
     LIMIT :limit::integer
)
UPDATE background_ai_jobs AS b
   SET status = 'processing',
       locked_by = :worker_id::text,
       locked_at = :now::timestamptz,
       last_attempted_at = :now::timestamptz,
       updated_at = :now::timestamptz,
       max_attempts = COALESCE(
           b.max_attempts,
           (:max_attempts_by_task::jsonb ->> b.task_type)::integer,
           :default_max_attempts::integer)
  FROM chosen
 WHERE b.job_id = chosen.job_id
RETURNING b.job_id, b.task_type, b.target_entity_type, b.target_entity_id, b.payload,
          b.priority, b.attempts, b.max_attempts, b.run_after, b.created_at, b.job_group;

-- name: group_backlog
-- The active jobs per job_group (NULL is a group of its own), the largest :limit groups:
-- waiting (claimable) and running (processing). Grouped by the fair claim's group key,
-- so the waiting rows are read from background_ai_jobs_fair and the running ones from
-- the small processing index, never the finished rows; the key's leading character is
-- cut off again for the name.
SELECT CASE WHEN g.grp = '0' THEN NULL ELSE substr(g.grp, 2) END AS job_group,
       sum(g.waiting)::bigint AS waiting, sum(g.running)::bigint AS running
  FROM (SELECT COALESCE('1' || w.job_group, '0') AS grp, 1 AS waiting, 0 AS running
          FROM background_ai_jobs AS w
         WHERE w.status IN ('pending', 'retry_ai', 'rate_limited')
        UNION ALL
        SELECT COALESCE('1' || r.job_group, '0'), 0, 1
          FROM background_ai_jobs AS r
         WHERE r.status = 'processing') AS g
 GROUP BY g.grp
 ORDER BY sum(g.waiting) + sum(g.running) DESC, g.grp
 LIMIT :limit::integer;

-- name: heartbeat_jobs
-- Which of :job_ids the worker still holds (held: read from the statement's snapshot,
-- without waiting), and a fresh locked_at on those no other transaction has locked.
-- It never waits for a row lock: waiting on the worker's own group-committed verdict,
-- which locks the same rows in another order, is a deadlock (PostgreSQL aborts one of
-- the two). A row skipped now is being written by someone (our verdict, a cancel, a
-- reclaim); the next beat refreshes it if it is still ours, long before any lock
-- timeout. The UPDATE runs whether or not the SELECT reads it.
WITH held AS (
    SELECT h.job_id FROM background_ai_jobs AS h
     WHERE h.job_id IN (SELECT jsonb_array_elements_text(:job_ids::jsonb)::uuid)
       AND h.locked_by = :worker_id::text AND h.status = 'processing'
),
beat AS (
    UPDATE background_ai_jobs AS j SET locked_at = :now::timestamptz
      FROM (SELECT f.job_id FROM background_ai_jobs AS f
             WHERE f.job_id IN (SELECT held.job_id FROM held)
               AND f.locked_by = :worker_id::text AND f.status = 'processing'
               FOR UPDATE SKIP LOCKED) AS free
     WHERE j.job_id = free.job_id
)
SELECT held.job_id FROM held;

-- name: running_job_states
-- The ids are cast to uuid, not job_id to text: the primary key stays usable.
SELECT job_id, task_type, status, locked_by FROM background_ai_jobs
 WHERE job_id IN (SELECT jsonb_array_elements_text(:job_ids::jsonb)::uuid);

-- name: complete_jobs
-- Fenced, for a whole group commit in one statement (one round trip, not one per job):
-- :verdicts is a JSON array of {job_id, result (JSON text), provider, model,
-- input_tokens, output_tokens, cached_input_tokens, cache_write_tokens, cost_usd}; only
-- the jobs this worker still holds are completed, and they are returned.
UPDATE background_ai_jobs AS j
   SET status = 'completed',
       attempts = j.attempts + 1,
       result = v.result::jsonb,
       provider = v.provider,
       model = v.model,
       input_tokens = v.input_tokens,
       output_tokens = v.output_tokens,
       cached_input_tokens = v.cached_input_tokens,
       cache_write_tokens = v.cache_write_tokens,
       cost_usd = v.cost_usd,
       error_message = NULL,
       locked_by = NULL,
       locked_at = NULL,
       completed_at = :now::timestamptz,
       updated_at = :now::timestamptz
  FROM jsonb_to_recordset(:verdicts::jsonb) AS v(
           job_id uuid, result text, provider text, model text, input_tokens integer,
           output_tokens integer, cached_input_tokens integer, cache_write_tokens integer,
           cost_usd double precision)
 WHERE j.job_id = v.job_id AND j.locked_by = :worker_id::text AND j.status = 'processing'
RETURNING j.job_id;

-- name: upsert_pause
INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at)
VALUES (:scope::text, :paused_until::timestamptz, :reason::text, :now::timestamptz,
        :now::timestamptz)
ON CONFLICT (scope) DO UPDATE
   SET paused_until = GREATEST(ai_pauses.paused_until, excluded.paused_until),
       reason = excluded.reason,
       updated_at = excluded.updated_at;

-- name: spend_by_provider
-- The stored cost of the jobs that finished in [:since, :until), per provider: what a
-- spend cap measures. The literal status list lets the planner use the partial index on
-- finished jobs' updated_at, so the read walks the period's finished rows only.
SELECT provider, COALESCE(sum(cost_usd), 0.0) AS cost_usd
  FROM background_ai_jobs
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at >= :since::timestamptz AND updated_at < :until::timestamptz
   AND cost_usd IS NOT NULL
 GROUP BY provider;

-- name: burst_remaining
SELECT count(*) AS remaining,
       min(CASE WHEN j.status NOT IN ('processing', 'batched') THEN j.run_after END) AS next_run_after
  FROM background_ai_jobs AS j
 WHERE j.status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
   AND (j.status IN ('processing', 'batched')
        OR (j.run_after <= :horizon::timestamptz
            AND NOT EXISTS (
                SELECT 1 FROM ai_pauses AS p
                 WHERE p.scope = 'task:' || j.task_type
                   AND p.paused_until > :horizon::timestamptz)
            AND j.task_type NOT IN (
                SELECT t.key FROM jsonb_each(:provider_scopes::jsonb) AS t
                 WHERE NOT EXISTS (
                       SELECT 1 FROM jsonb_array_elements(t.value) AS pool(scopes)
                        WHERE NOT EXISTS (
                              SELECT 1 FROM jsonb_array_elements_text(pool.scopes) AS s(scope)
                                JOIN ai_pauses AS p ON p.scope = s.scope
                               WHERE p.paused_until > :horizon::timestamptz)))));

-- ───────────────────────────── demo ─────────────────────────────

-- name: sample_code_entities
SELECT entity_id, name, summary, keywords::text AS keywords, ai_status FROM code_entities
 WHERE entity_type IN ('function', 'class') ORDER BY entity_id LIMIT :limit::integer;

-- name: sample_documents
SELECT document_id, title, summary, keywords::text AS keywords, ai_status FROM project_documents
 ORDER BY document_id LIMIT :limit::integer;

-- name: sample_topics
SELECT t.conversation_id, c.title, t.summary, t.keywords::text AS keywords, t.purpose_tag,
       t.start_message_id, t.end_message_id
  FROM conversation_topics AS t JOIN conversations AS c USING (conversation_id)
 ORDER BY t.conversation_id, t.start_message_id LIMIT :limit::integer;

-- name: unenriched_entities
SELECT 'code_entity' AS target_entity_type, entity_id AS target_entity_id, ai_status
  FROM code_entities
 WHERE summary IS NULL OR keywords IS NULL OR ai_status IS DISTINCT FROM 'completed'
UNION ALL
SELECT 'project_document', document_id, ai_status FROM project_documents
 WHERE summary IS NULL OR keywords IS NULL OR ai_status IS DISTINCT FROM 'completed'
UNION ALL
SELECT 'conversation', conversation_id, ai_status FROM conversations AS c
 WHERE ai_status IS DISTINCT FROM 'completed'
    OR NOT EXISTS (SELECT 1 FROM conversation_topics AS t
                    WHERE t.conversation_id = c.conversation_id);

-- ───────────────────────────── rate budgets ─────────────────────────────

-- name: lock_rate_limit
-- The pool's row lock serialises reservations for one pool across every worker.
SELECT pool_key, rpm, tpm, input_tpm, output_tpm, source, factor, last_limited_at
  FROM ai_rate_limits WHERE pool_key = :pool_key::text FOR UPDATE;

-- ───────────────────────────── job administration ─────────────────────────────
-- jobs list, jobs retry (redrive), prune

-- name: list_jobs
-- One statement per filter shape, as in SQLite's file.
SELECT * FROM background_ai_jobs
 WHERE (:target_entity_type::text IS NULL OR target_entity_type = :target_entity_type::text)
   AND (:error_text::text IS NULL
        OR lower(error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit::integer OFFSET :offset::integer;

-- name: list_jobs_by_status
-- One ordered read of (status, created_at DESC, job_id DESC) per status asked for, each
-- stopping at the page's end, merged. As one `status = ANY (...)`, the planner (which
-- cannot see the statuses of a JSON parameter) walked the created_at index newest first
-- and filtered: quick for a common status, the whole table for one with no jobs (1.2 s
-- at 10,000,000 rows).
SELECT j.* FROM (SELECT DISTINCT value AS status
                   FROM jsonb_array_elements_text(:statuses::jsonb)) AS wanted
 CROSS JOIN LATERAL (
       SELECT * FROM background_ai_jobs AS b
        WHERE b.status = wanted.status
          AND (:task_type::text IS NULL OR b.task_type = :task_type::text)
          AND (:target_entity_type::text IS NULL
               OR b.target_entity_type = :target_entity_type::text)
          AND (:error_text::text IS NULL
               OR lower(b.error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
        ORDER BY b.created_at DESC, b.job_id DESC
        LIMIT :limit::integer + :offset::integer) AS j
 ORDER BY j.created_at DESC, j.job_id DESC
 LIMIT :limit::integer OFFSET :offset::integer;

-- name: list_jobs_by_task
SELECT * FROM background_ai_jobs
 WHERE task_type = :task_type::text
   AND (:target_entity_type::text IS NULL OR target_entity_type = :target_entity_type::text)
   AND (:error_text::text IS NULL
        OR lower(error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit::integer OFFSET :offset::integer;

-- name: redrive_candidates
-- = ANY (ARRAY(...)) as in prune_jobs: the ids and statuses are looked up in the primary
-- key and the status index, where IN (subquery) filters a sequential scan of every job.
SELECT * FROM (
    SELECT j.job_id, j.status, j.task_type, j.target_entity_type, j.target_entity_id,
           j.updated_at,
           (SELECT a.job_id FROM background_ai_jobs AS a
             WHERE a.task_type = j.task_type AND a.target_entity_type = j.target_entity_type
               AND a.target_entity_id = j.target_entity_id AND a.job_id <> j.job_id
               AND a.status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
             LIMIT 1) AS active_job_id,
           (SELECT n.job_id FROM background_ai_jobs AS n
             WHERE n.task_type = j.task_type AND n.target_entity_type = j.target_entity_type
               AND n.target_entity_id = j.target_entity_id
               AND (n.created_at > j.created_at
                    OR (n.created_at = j.created_at AND n.job_id > j.job_id))
             ORDER BY n.created_at DESC, n.job_id DESC
             LIMIT 1) AS newer_job_id
      FROM background_ai_jobs AS j
     WHERE (:job_ids::jsonb IS NULL
            OR j.job_id = ANY (ARRAY(SELECT (jsonb_array_elements_text(:job_ids::jsonb))::uuid)))
       AND (:statuses::jsonb IS NULL
            OR j.status = ANY (ARRAY(SELECT jsonb_array_elements_text(:statuses::jsonb))))
       AND (:task_type::text IS NULL OR j.task_type = :task_type::text)
       AND (:target_entity_type::text IS NULL
            OR j.target_entity_type = :target_entity_type::text)
) AS c
 ORDER BY (c.active_job_id IS NOT NULL OR c.newer_job_id IS NOT NULL), c.updated_at, c.job_id
 LIMIT :limit::integer;

-- name: redrive_jobs
UPDATE background_ai_jobs
   SET status = 'pending', attempts = 0, run_after = :now::timestamptz, locked_by = NULL,
       locked_at = NULL, error_message = NULL, completed_at = NULL,
       updated_at = :now::timestamptz
 WHERE job_id = ANY (ARRAY(SELECT (jsonb_array_elements_text(:job_ids::jsonb))::uuid))
   AND status IN ('failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
RETURNING job_id;

-- name: notify_jobs
-- The NOTIFY trigger fires on INSERT only; a redrive (an UPDATE) announces itself here.
-- Delivered when the transaction commits, so no worker wakes before the rows are visible.
SELECT pg_notify('enricher_jobs', :reason::text) AS notified;

-- name: prune_jobs
-- = ANY (ARRAY(...)): the batch's ids are looked up by primary key, where IN (subquery)
-- plans a sequential scan of the whole table for every batch.
-- No FOR UPDATE in the batch's SELECT: locking each row before deleting it wrote every
-- tuple twice (twice the WAL and dirtied pages, a third less deleted per second). A row
-- another session is changing (a redrive) is waited for, and the outer WHERE, evaluated
-- again on the row as that session committed it, leaves a redriven job alone.
DELETE FROM background_ai_jobs
 WHERE job_id = ANY (ARRAY(
       SELECT job_id FROM background_ai_jobs
        WHERE status IN (SELECT jsonb_array_elements_text(:statuses::jsonb))
          AND status IN ('completed', 'failed_ai', 'failed_payload_parsing',
                         'failed_job_logic', 'cancelled')
          AND updated_at < :before::timestamptz
        LIMIT :batch_size::integer))
   AND status NOT IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
   AND updated_at < :before::timestamptz;

-- ───────────────────────────── target tables ─────────────────────────────

-- name: table_columns
-- The columns of a host's or enricher's table: (name, type, category, max_length of a
-- varchar/char); none if no table. Without a schema, the first schema of the search_path, as an unqualified name means.
SELECT a.attname AS name, format_type(a.atttypid, a.atttypmod) AS type,
       t.typcategory::text AS category,
       CASE WHEN t.typname IN ('varchar', 'bpchar') AND a.atttypmod > 4
            THEN a.atttypmod - 4 END AS max_length
  FROM pg_attribute AS a
  JOIN pg_type AS t ON t.oid = a.atttypid
 WHERE a.attrelid = (SELECT c.oid FROM pg_class AS c
                       JOIN pg_namespace AS n ON n.oid = c.relnamespace
                      WHERE c.relname = :table_name::text
                        AND n.nspname = COALESCE(:schema_name::text, current_schema())
                        AND c.relkind IN ('r', 'p', 'v', 'f'))
   AND a.attnum > 0 AND NOT a.attisdropped
 ORDER BY a.attnum;

-- name: status_triggers
-- The status-mirror triggers in place (db/targets.py names them enricher_target_*).
SELECT tgname::text AS name FROM pg_trigger
 WHERE tgrelid = 'background_ai_jobs'::regclass AND NOT tgisinternal
   AND tgname LIKE 'enricher\_target\_%' ESCAPE '\' ORDER BY tgname;

-- name: lock_targets
-- Two processes provisioning at once would both replace the triggers: one waits.
SELECT 1 AS locked FROM (SELECT pg_advisory_xact_lock(hashtext('enricher_targets'))) AS l;

-- ───────────────────────────── batch lane ─────────────────────────────

-- name: mark_jobs_batched
-- Fenced like a verdict: only the jobs this worker still holds (:job_ids, a JSON array)
-- join the batch, and they are returned; a job cancelled while it was being collected
-- is not sent.
UPDATE background_ai_jobs
   SET status = 'batched', batch_id = :batch_id::uuid, locked_by = NULL, locked_at = NULL,
       error_message = NULL, updated_at = :now::timestamptz
 WHERE job_id IN (SELECT jsonb_array_elements_text(:job_ids::jsonb)::uuid)
   AND locked_by = :worker_id::text AND status = 'processing'
RETURNING job_id;

-- name: claim_due_batches
-- Open batches due a poll, each taken by one worker until :next_poll_at; SKIP LOCKED
-- lets pollers on many hosts take different batches at once.
UPDATE ai_provider_batches
   SET next_poll_at = :next_poll_at::timestamptz, polled_by = :worker_id::text,
       updated_at = :now::timestamptz
 WHERE batch_id IN (SELECT b.batch_id FROM ai_provider_batches AS b
                     WHERE b.status IN ('preparing', 'submitted', 'cancelling')
                       AND b.next_poll_at <= :now::timestamptz
                     ORDER BY b.next_poll_at
                     LIMIT :limit::integer
                     FOR UPDATE SKIP LOCKED)
RETURNING *;

-- ───────────────────────────── enricher web ─────────────────────────────
-- The dashboard's jobs list: newest first from a keyset cursor (:before_at, :before_id;
-- the first page passes a cursor past every job), jobs created at or after
-- :created_from. The window is the next :scan jobs in that order, read from one index
-- (the created index, or the status or task one when that filter is given); the other
-- filters pick from the window. So a page reads at most :scan rows whatever the
-- filters: a rare combination, or error text no job has, costs one bounded window, and
-- the page offers the next window from jobs_window_end.

-- name: jobs_page
SELECT * FROM (
    SELECT * FROM background_ai_jobs
     WHERE (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan::integer) AS w
 WHERE (:target_entity_type::text IS NULL OR w.target_entity_type = :target_entity_type::text)
   AND (:provider::text IS NULL OR w.provider = :provider::text)
   AND (:model::text IS NULL OR w.model = :model::text)
   AND w.updated_at >= :updated_from::timestamptz AND w.updated_at < :updated_to::timestamptz
   AND (:error_text::text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit::integer;

-- name: jobs_page_by_status
SELECT * FROM (
    SELECT * FROM background_ai_jobs
     WHERE status = :status::text
       AND (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan::integer) AS w
 WHERE (:task_type::text IS NULL OR w.task_type = :task_type::text)
   AND (:target_entity_type::text IS NULL OR w.target_entity_type = :target_entity_type::text)
   AND (:provider::text IS NULL OR w.provider = :provider::text)
   AND (:model::text IS NULL OR w.model = :model::text)
   AND w.updated_at >= :updated_from::timestamptz AND w.updated_at < :updated_to::timestamptz
   AND (:error_text::text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit::integer;

-- name: jobs_page_by_task
SELECT * FROM (
    SELECT * FROM background_ai_jobs
     WHERE task_type = :task_type::text
       AND (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan::integer) AS w
 WHERE (:target_entity_type::text IS NULL OR w.target_entity_type = :target_entity_type::text)
   AND (:provider::text IS NULL OR w.provider = :provider::text)
   AND (:model::text IS NULL OR w.model = :model::text)
   AND w.updated_at >= :updated_from::timestamptz AND w.updated_at < :updated_to::timestamptz
   AND (:error_text::text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text::text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit::integer;

-- name: jobs_window_end
-- The last job of a full window (the :scan-th from the cursor), where the next one starts;
-- no row when the window reached the end. Reads the index only.
SELECT created_at, job_id FROM background_ai_jobs
 WHERE (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan::integer - 1;

-- name: jobs_window_end_by_status
SELECT created_at, job_id FROM background_ai_jobs
 WHERE status = :status::text
   AND (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan::integer - 1;

-- name: jobs_window_end_by_task
SELECT created_at, job_id FROM background_ai_jobs
 WHERE task_type = :task_type::text
   AND (created_at, job_id) < (:before_at::timestamptz, :before_id::uuid)
       AND created_at >= :created_from::timestamptz
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan::integer - 1;

-- name: failure_groups
-- The failures page: errors grouped by status and message, most frequent first, each with
-- its newest example. Grouping every errored job of all time has no index to read and
-- grows with the history, so the groups are taken from a bounded window: the newest
-- :window jobs of each erroring status, read from the status index (the page says so).
SELECT status, error_message, count(*) AS jobs, max(updated_at) AS latest_at,
       (array_agg(job_id ORDER BY updated_at DESC, job_id DESC))[1] AS example_job_id
  FROM (SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'failed_ai'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s1
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'failed_payload_parsing'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s2
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'failed_job_logic'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s3
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'cancelled'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s4
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'retry_ai'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s5
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs
                        WHERE status = 'rate_limited'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window::integer) AS s6) AS recent
 WHERE error_message IS NOT NULL
 GROUP BY status, error_message
 ORDER BY jobs DESC, latest_at DESC
 LIMIT :limit::integer;

-- name: finished_counts
-- Throughput: jobs that reached a terminal status (their updated_at says when) in the
-- last minute and hour. The literal status list lets the planner use the partial index.
SELECT COALESCE(sum(CASE WHEN status = 'completed' AND updated_at > :minute::timestamptz
                         THEN 1 ELSE 0 END), 0) AS completed_1m,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' AND updated_at > :minute::timestamptz
                         THEN 1 ELSE 0 END), 0) AS failed_1m,
       COALESCE(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed_1h,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' THEN 1 ELSE 0 END), 0) AS failed_1h
  FROM background_ai_jobs
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at > :hour::timestamptz;

-- name: finished_per_minute
-- The overview's throughput chart: jobs that reached a terminal status in each minute
-- since :since ('YYYY-MM-DDTHH:MM', UTC), read from the partial index on finished jobs.
SELECT to_char(updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI') AS minute,
       sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
       sum(CASE WHEN status LIKE 'failed%' THEN 1 ELSE 0 END) AS failed
  FROM background_ai_jobs
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at > :since::timestamptz
 GROUP BY minute
 ORDER BY minute;

-- name: usage_since
-- Tokens and cost of the jobs that finished since :since (today's, on the overview),
-- read from the partial index on finished jobs; the same columns as usage_totals.
SELECT COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens,
       COALESCE(sum(cost_usd), 0.0) AS cost_usd,
       COALESCE(sum(cached_input_tokens), 0) AS cached_input_tokens,
       COALESCE(sum(cache_write_tokens), 0) AS cache_write_tokens,
       COALESCE(sum(CASE WHEN cached_input_tokens IS NOT NULL THEN input_tokens END), 0)
           AS cache_counted_input_tokens
  FROM background_ai_jobs
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at >= :since::timestamptz;
