-- Named queries, SQLite dialect: the ones each dialect writes its own way. Every
-- name here exists in every dialect's file, with the same parameters (db/queries.py
-- checks both at start). Queries that differ only in PostgreSQL's parameter casts
-- are written once, in db/sql/common/queries.sql.
-- What stays here differs in more than casts: JSON parameters (json_each in SQLite,
-- jsonb functions in PostgreSQL), row locks (FOR UPDATE, SKIP LOCKED), max() against
-- GREATEST, NOTIFY, NULL-safe comparison, column types.
-- Parameters are :name; timestamps are passed in as datetimes and stored as ISO text.

-- ───────────────────────────── migrations ─────────────────────────────

-- name: create_schema_version_table
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- name: schema_version_table_exists
SELECT count(*) AS present FROM sqlite_master WHERE type = 'table' AND name = 'schema_version';

-- ───────────────────────────── worker ─────────────────────────────

-- name: claim_jobs
-- :provider_scopes is a JSON object {task_type: [[scope, ...], ...]} built from the
-- worker's config: the task's chain of pools (its provider, then its fallbacks), each
-- with the scopes that stop it ("provider:<name>:<model>", "spend:<name>", "spend:total").
-- A task type is left out when every pool of its chain has a scope paused; the set of
-- such task types is computed once per statement (the subquery is not correlated), and
-- filtered here, before the LIMIT. The maps are read with json_each, never a JSON path
-- built from task_type: a task type a host wrote with a quote or a '$' in it would make
-- the path invalid and fail every claim.
-- :held_task_types (a JSON array) are task types this worker claims none of right now:
-- their provider pool already has one of its jobs waiting for room.
-- :max_attempts_by_task is a JSON object {task_type: n}; rows inserted by plain SQL
-- with a NULL max_attempts get their task's configured limit at claim time.
UPDATE background_ai_jobs
   SET status = 'processing',
       locked_by = :worker_id,
       locked_at = :now,
       last_attempted_at = :now,
       updated_at = :now,
       max_attempts = COALESCE(
           max_attempts,
           (SELECT m.value FROM json_each(:max_attempts_by_task) AS m WHERE m.key = task_type),
           :default_max_attempts)
 WHERE job_id IN (
       SELECT j.job_id FROM background_ai_jobs AS j
        WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
          AND j.run_after <= :now
          AND NOT EXISTS (
              SELECT 1 FROM ai_pauses AS p
               WHERE p.scope = 'task:' || j.task_type AND p.paused_until > :now)
          AND j.task_type NOT IN (
              SELECT t.key FROM json_each(:provider_scopes) AS t
               WHERE NOT EXISTS (
                     SELECT 1 FROM json_each(t.value) AS pool
                      WHERE NOT EXISTS (
                            SELECT 1 FROM json_each(pool.value) AS s
                              JOIN ai_pauses AS p ON p.scope = s.value
                             WHERE p.paused_until > :now)))
          AND j.task_type NOT IN (SELECT h.value FROM json_each(:held_task_types) AS h)
        ORDER BY j.priority DESC, j.run_after, j.created_at
        LIMIT :limit)
RETURNING job_id, task_type, target_entity_type, target_entity_id, payload, priority,
          attempts, max_attempts, run_after, created_at;

-- name: plan_fair_claim
-- PostgreSQL is told to reuse the fair claim's generic plan; SQLite prepares each
-- statement once per connection anyway. Nothing to do.
SELECT 1 AS planned;

-- name: claim_jobs_fair
-- The fair claim (worker.fair_groups): free slots shared round-robin across the groups
-- that have due, unpaused work, within priority. docs/architecture.md, "The claim".
-- No step reads more than it hands out: two walks over background_ai_jobs_fair (one index
-- probe per group found, one per priority level) collect at most :limit groups each, and
-- each group gives at most :limit of its rows, in claim order.
-- The group key is COALESCE('1' || job_group, '0') (NULL is its own group, '0'), compared
-- byte by byte: the worker keeps :after_group, the key it served last, and the walks
-- start after it (after_cursor), then wrap round to it (before_cursor).
-- The filters (due, task pauses, provider scopes, :held_task_types) are today's claim's
-- (see claim_jobs), applied in every probe and in every group's read: before any LIMIT.
-- INDEXED BY holds every read to background_ai_jobs_fair: without ANALYZE statistics
-- SQLite prefers the status index for the level probes, which sorts every claimable row.
WITH RECURSIVE
blocked(task_type) AS MATERIALIZED (
    SELECT t.key FROM json_each(:provider_scopes) AS t
     WHERE NOT EXISTS (
           SELECT 1 FROM json_each(t.value) AS pool
            WHERE NOT EXISTS (
                  SELECT 1 FROM json_each(pool.value) AS s
                    JOIN ai_pauses AS p ON p.scope = s.value
                   WHERE p.paused_until > :now))
    UNION ALL
    SELECT h.value FROM json_each(:held_task_types) AS h
),
eligible AS NOT MATERIALIZED (
    SELECT j.job_id, j.priority, COALESCE('1' || j.job_group, '0') AS grp, j.run_after,
           j.created_at
      FROM background_ai_jobs AS j INDEXED BY background_ai_jobs_fair
     WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
       AND j.run_after <= :now
       AND NOT EXISTS (
           SELECT 1 FROM ai_pauses AS p
            WHERE p.scope = 'task:' || j.task_type AND p.paused_until > :now)
       AND j.task_type NOT IN (SELECT b.task_type FROM blocked AS b)
),
top_level(priority) AS (
    SELECT j.priority FROM background_ai_jobs AS j INDEXED BY background_ai_jobs_fair
     WHERE j.status IN ('pending', 'retry_ai', 'rate_limited')
     ORDER BY j.priority DESC LIMIT 1
),
-- A walk's row: (priority, grp, stage, groups found before it). Stage 0 starts a level;
-- each stage-1 row is a probe's answer: the next group with due work at that level, or
-- NULL when there is none, and then the next row starts the level below. Keys after
-- the cursor here; those up to it in before_cursor. CASE evaluates one subquery a step.
after_cursor(priority, grp, stage, found) AS (
    SELECT t.priority, NULL, 0, 0 FROM top_level AS t
    UNION ALL
    SELECT CASE WHEN w.stage = 1 AND w.grp IS NULL
                THEN (SELECT l.priority FROM background_ai_jobs AS l INDEXED BY background_ai_jobs_fair
                       WHERE l.status IN ('pending', 'retry_ai', 'rate_limited')
                         AND l.priority < w.priority
                       ORDER BY l.priority DESC LIMIT 1)
                ELSE w.priority END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN NULL
                ELSE (SELECT e.grp FROM eligible AS e
                       WHERE e.priority = w.priority
                         AND e.grp > COALESCE(w.grp, :after_group)
                       ORDER BY e.grp LIMIT 1) END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN 0 ELSE 1 END,
           w.found + (w.grp IS NOT NULL)
      FROM after_cursor AS w
     WHERE w.priority IS NOT NULL
       AND w.found + (w.grp IS NOT NULL) < :limit
),
before_cursor(priority, grp, stage, found) AS (
    SELECT t.priority, NULL, 0, 0 FROM top_level AS t
    UNION ALL
    SELECT CASE WHEN w.stage = 1 AND w.grp IS NULL
                THEN (SELECT l.priority FROM background_ai_jobs AS l INDEXED BY background_ai_jobs_fair
                       WHERE l.status IN ('pending', 'retry_ai', 'rate_limited')
                         AND l.priority < w.priority
                       ORDER BY l.priority DESC LIMIT 1)
                ELSE w.priority END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN NULL
                ELSE (SELECT e.grp FROM eligible AS e
                       WHERE e.priority = w.priority
                         AND e.grp > COALESCE(w.grp, '') AND e.grp <= :after_group
                       ORDER BY e.grp LIMIT 1) END,
           CASE WHEN w.stage = 1 AND w.grp IS NULL THEN 0 ELSE 1 END,
           w.found + (w.grp IS NOT NULL)
      FROM before_cursor AS w
     WHERE w.priority IS NOT NULL
       AND w.found + (w.grp IS NOT NULL) < :limit
),
groups(wrapped, priority, grp) AS (
    SELECT 0, a.priority, a.grp FROM after_cursor AS a WHERE a.grp IS NOT NULL
    UNION ALL
    SELECT 1, b.priority, b.grp FROM before_cursor AS b WHERE b.grp IS NOT NULL
),
-- Each group's first :limit due rows (SQLite has no LATERAL: a correlated IN list,
-- looked up by primary key), numbered: round 1 is every group's first job.
candidates AS (
    SELECT j.job_id, g.wrapped, g.priority, g.grp,
           row_number() OVER (PARTITION BY g.wrapped, g.priority, g.grp
                              ORDER BY j.run_after, j.created_at) AS round
      FROM groups AS g
      JOIN background_ai_jobs AS j
        ON j.job_id IN (SELECT e.job_id FROM eligible AS e
                         WHERE e.priority = g.priority AND e.grp = g.grp
                         ORDER BY e.run_after, e.created_at LIMIT :limit)
)
UPDATE background_ai_jobs
   SET status = 'processing',
       locked_by = :worker_id,
       locked_at = :now,
       last_attempted_at = :now,
       updated_at = :now,
       max_attempts = COALESCE(
           max_attempts,
           (SELECT m.value FROM json_each(:max_attempts_by_task) AS m WHERE m.key = task_type),
           :default_max_attempts)
 WHERE job_id IN (
       SELECT c.job_id FROM candidates AS c
        ORDER BY c.priority DESC, c.round, c.wrapped, c.grp
        LIMIT :limit)
RETURNING job_id, task_type, target_entity_type, target_entity_id, payload, priority,
          attempts, max_attempts, run_after, created_at, job_group;

-- name: group_backlog
-- The active jobs per job_group (NULL is a group of its own), the largest :limit groups:
-- waiting (claimable) and running (processing). Grouped by the fair claim's group key,
-- so the waiting rows are read from background_ai_jobs_fair alone (INDEXED BY: the
-- status index would fetch every row for its group), and the running ones from the
-- small processing index; the key's leading character is cut off again for the name.
SELECT CASE WHEN g.grp = '0' THEN NULL ELSE substr(g.grp, 2) END AS job_group,
       sum(g.waiting) AS waiting, sum(g.running) AS running
  FROM (SELECT COALESCE('1' || w.job_group, '0') AS grp, 1 AS waiting, 0 AS running
          FROM background_ai_jobs AS w INDEXED BY background_ai_jobs_fair
         WHERE w.status IN ('pending', 'retry_ai', 'rate_limited')
        UNION ALL
        SELECT COALESCE('1' || r.job_group, '0'), 0, 1
          FROM background_ai_jobs AS r INDEXED BY background_ai_jobs_processing
         WHERE r.status = 'processing') AS g
 GROUP BY g.grp
 ORDER BY sum(g.waiting) + sum(g.running) DESC, g.grp
 LIMIT :limit;

-- name: heartbeat_jobs
-- Only the jobs this worker is really running (:job_ids, a JSON array): a job it holds
-- but dropped (its verdict could not be written) must go stale for the reaper.
UPDATE background_ai_jobs SET locked_at = :now
 WHERE locked_by = :worker_id AND status = 'processing'
   AND job_id IN (SELECT value FROM json_each(:job_ids))
RETURNING job_id;

-- name: running_job_states
-- Where the jobs this worker runs (:job_ids, a JSON array) stand now: a cancel or a
-- reclaim elsewhere shows here within one check, long before the next heartbeat.
SELECT job_id, task_type, status, locked_by FROM background_ai_jobs
 WHERE job_id IN (SELECT value FROM json_each(:job_ids));

-- name: complete_jobs
-- Fenced, for a whole group commit at once: :verdicts is a JSON array of
-- {job_id, result (JSON text), provider, model, input_tokens, output_tokens,
-- cached_input_tokens, cache_write_tokens, cost_usd};
-- only the jobs this worker still holds are completed, and they are returned. The
-- verdicts drive the join (one primary-key lookup each), not the processing rows.
UPDATE background_ai_jobs
   SET status = 'completed',
       attempts = attempts + 1,
       result = v.result,
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
       completed_at = :now,
       updated_at = :now
  FROM (SELECT json_extract(value, '$.job_id') AS job_id,
               json_extract(value, '$.result') AS result,
               json_extract(value, '$.provider') AS provider,
               json_extract(value, '$.model') AS model,
               json_extract(value, '$.input_tokens') AS input_tokens,
               json_extract(value, '$.output_tokens') AS output_tokens,
               json_extract(value, '$.cached_input_tokens') AS cached_input_tokens,
               json_extract(value, '$.cache_write_tokens') AS cache_write_tokens,
               json_extract(value, '$.cost_usd') AS cost_usd
          FROM json_each(:verdicts)) AS v
 WHERE background_ai_jobs.job_id = v.job_id
   AND +locked_by = :worker_id AND +status = 'processing'
RETURNING job_id;

-- name: upsert_pause
INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at)
VALUES (:scope, :paused_until, :reason, :now, :now)
ON CONFLICT (scope) DO UPDATE
   SET paused_until = max(ai_pauses.paused_until, excluded.paused_until),
       reason = excluded.reason,
       updated_at = excluded.updated_at;

-- name: spend_by_provider
-- The stored cost of the jobs that finished in [:since, :until), per provider: what a
-- spend cap measures. INDEXED BY holds the planner to the partial index on finished
-- jobs' updated_at (the literal status list is that index's own condition): left alone
-- it prefers the status index, which walks every finished job of all time.
SELECT provider, COALESCE(sum(cost_usd), 0.0) AS cost_usd
  FROM background_ai_jobs INDEXED BY background_ai_jobs_finished
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at >= :since AND updated_at < :until
   AND cost_usd IS NOT NULL
 GROUP BY provider;

-- name: burst_remaining
-- Jobs that keep a --burst worker alive: running anywhere, or due before the horizon
-- and not held by a pause that outlasts it.
SELECT count(*) AS remaining,
       min(CASE WHEN j.status NOT IN ('processing', 'batched') THEN j.run_after END) AS next_run_after
  FROM background_ai_jobs AS j
 WHERE j.status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
   AND (j.status IN ('processing', 'batched')
        OR (j.run_after <= :horizon
            AND NOT EXISTS (
                SELECT 1 FROM ai_pauses AS p
                 WHERE p.scope = 'task:' || j.task_type AND p.paused_until > :horizon)
            AND j.task_type NOT IN (
                SELECT t.key FROM json_each(:provider_scopes) AS t
                 WHERE NOT EXISTS (
                       SELECT 1 FROM json_each(t.value) AS pool
                        WHERE NOT EXISTS (
                              SELECT 1 FROM json_each(pool.value) AS s
                                JOIN ai_pauses AS p ON p.scope = s.value
                               WHERE p.paused_until > :horizon)))));

-- ───────────────────────────── demo ─────────────────────────────

-- name: sample_code_entities
SELECT entity_id, name, summary, keywords, ai_status FROM code_entities
 WHERE entity_type IN ('function', 'class') ORDER BY entity_id LIMIT :limit;

-- name: sample_documents
SELECT document_id, title, summary, keywords, ai_status FROM project_documents
 ORDER BY document_id LIMIT :limit;

-- name: sample_topics
SELECT t.conversation_id, c.title, t.summary, t.keywords, t.purpose_tag,
       t.start_message_id, t.end_message_id
  FROM conversation_topics AS t JOIN conversations AS c USING (conversation_id)
 ORDER BY t.conversation_id, t.start_message_id LIMIT :limit;

-- name: unenriched_entities
-- Entities without their enrichment: what the demo checks is zero.
SELECT 'code_entity' AS target_entity_type, entity_id AS target_entity_id, ai_status
  FROM code_entities WHERE summary IS NULL OR keywords IS NULL OR ai_status <> 'completed'
UNION ALL
SELECT 'project_document', document_id, ai_status FROM project_documents
 WHERE summary IS NULL OR keywords IS NULL OR ai_status <> 'completed'
UNION ALL
SELECT 'conversation', conversation_id, ai_status FROM conversations AS c
 WHERE ai_status <> 'completed'
    OR NOT EXISTS (SELECT 1 FROM conversation_topics AS t
                    WHERE t.conversation_id = c.conversation_id);

-- ───────────────────────────── rate budgets ─────────────────────────────

-- name: lock_rate_limit
-- Inside BEGIN IMMEDIATE the whole database is already ours; the row is simply read.
SELECT pool_key, rpm, tpm, input_tpm, output_tpm, source, factor, last_limited_at
  FROM ai_rate_limits WHERE pool_key = :pool_key;

-- ───────────────────────────── job administration ─────────────────────────────
-- jobs list, jobs retry (redrive), prune

-- name: list_jobs
-- Every column (SELECT *), so columns added by later migrations show up in `jobs list`.
-- One statement per filter shape, each reading its index newest first (the form
-- `:filter IS NULL OR ...` hid the filter from the planner, which scanned the table):
-- this one without a status or task type filter, list_jobs_by_status with statuses (a
-- JSON array), list_jobs_by_task with a task type and no status.
SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_created
 WHERE (:target_entity_type IS NULL OR target_entity_type = :target_entity_type)
   AND (:error_text IS NULL
        OR lower(error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit OFFSET :offset;

-- name: list_jobs_by_status
SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
 WHERE status IN (SELECT value FROM json_each(:statuses))
   AND (:task_type IS NULL OR task_type = :task_type)
   AND (:target_entity_type IS NULL OR target_entity_type = :target_entity_type)
   AND (:error_text IS NULL
        OR lower(error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit OFFSET :offset;

-- name: list_jobs_by_task
SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_task_created
 WHERE task_type = :task_type
   AND (:target_entity_type IS NULL OR target_entity_type = :target_entity_type)
   AND (:error_text IS NULL
        OR lower(error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit OFFSET :offset;

-- name: redrive_candidates
-- The jobs a redrive considers (:job_ids, or the filters), each with the target's active
-- job and the newest later job of the same target, if any: either one means skip.
-- Jobs that will be redriven take the :limit slots before superseded ones. Exactly one
-- of :job_ids and :statuses is given (JSON arrays; json_each(NULL) is empty): the ids
-- are read from the primary key, the statuses from their index.
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
     WHERE j.job_id IN (SELECT value FROM json_each(:job_ids)
                         UNION ALL
                         SELECT s.job_id
                           FROM background_ai_jobs AS s
                                INDEXED BY background_ai_jobs_status_created
                          WHERE s.status IN (SELECT value FROM json_each(:statuses)))
       AND (:task_type IS NULL OR j.task_type = :task_type)
       AND (:target_entity_type IS NULL OR j.target_entity_type = :target_entity_type)
) AS c
 ORDER BY (c.active_job_id IS NOT NULL OR c.newer_job_id IS NOT NULL), c.updated_at, c.job_id
 LIMIT COALESCE(:limit, -1);

-- name: redrive_jobs
-- Back to the queue as new: the trigger makes the target's ai_status 'pending' again.
-- The status fence skips a job another session changed since redrive_candidates.
UPDATE background_ai_jobs
   SET status = 'pending', attempts = 0, run_after = :now, locked_by = NULL,
       locked_at = NULL, error_message = NULL, completed_at = NULL, updated_at = :now
 WHERE job_id IN (SELECT value FROM json_each(:job_ids))
   AND status IN ('failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
RETURNING job_id;

-- name: notify_jobs
-- SQLite has no NOTIFY: workers in this process are woken by Enricher.notify(), the
-- others find the work at their next poll. (Postgres sends NOTIFY enricher_jobs.)
SELECT :reason AS notified;

-- name: prune_jobs
-- One batch of old terminal jobs. Active statuses are excluded here too, whatever
-- :statuses (a JSON array) says; the outer WHERE re-checks rows changed meanwhile.
-- The oldest first, from the finished index: left to itself the planner read the
-- status index, every old row of a status before the batch was full.
DELETE FROM background_ai_jobs
 WHERE job_id IN (
       SELECT job_id FROM background_ai_jobs INDEXED BY background_ai_jobs_finished
        WHERE status IN (SELECT value FROM json_each(:statuses))
          AND status IN ('completed', 'failed_ai', 'failed_payload_parsing',
                         'failed_job_logic', 'cancelled')
          AND updated_at < :before
        LIMIT :batch_size)
   AND status NOT IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
   AND updated_at < :before;

-- ───────────────────────────── target tables ─────────────────────────────

-- name: table_columns
-- The columns of a host's or enricher's table: (name, type, category, max_length); none if
-- no table. SQLite enforces no declared length, so there is none to respect.
SELECT name, lower(type) AS type, '' AS category, NULL AS max_length
  FROM pragma_table_info(:table_name, COALESCE(:schema_name, 'main'))
 ORDER BY cid;

-- name: status_triggers
-- The status-mirror triggers in place (db/targets.py names them enricher_target_*).
SELECT name FROM sqlite_master
 WHERE type = 'trigger' AND name LIKE 'enricher\_target\_%' ESCAPE '\' ORDER BY name;

-- name: lock_targets
-- Provisioning runs in a write transaction (BEGIN IMMEDIATE): that is the lock.
SELECT 1 AS locked;

-- ───────────────────────────── batch lane ─────────────────────────────

-- name: mark_jobs_batched
-- Fenced like a verdict: only the jobs this worker still holds (:job_ids, a JSON array)
-- join the batch, and they are returned; a job cancelled while it was being collected
-- is not sent.
UPDATE background_ai_jobs
   SET status = 'batched', batch_id = :batch_id, locked_by = NULL, locked_at = NULL,
       error_message = NULL, updated_at = :now
 WHERE job_id IN (SELECT value FROM json_each(:job_ids))
   AND locked_by = :worker_id AND status = 'processing'
RETURNING job_id;

-- name: claim_due_batches
-- Open batches due a poll, each taken by one worker until :next_poll_at (BEGIN
-- IMMEDIATE serialises pollers on one file).
UPDATE ai_provider_batches
   SET next_poll_at = :next_poll_at, polled_by = :worker_id, updated_at = :now
 WHERE batch_id IN (SELECT b.batch_id FROM ai_provider_batches AS b
                     WHERE b.status IN ('preparing', 'submitted', 'cancelling') AND b.next_poll_at <= :now
                     ORDER BY b.next_poll_at
                     LIMIT :limit)
RETURNING *;

-- ───────────────────────────── enricher web ─────────────────────────────
-- The dashboard's jobs list: newest first from a keyset cursor (:before_at, :before_id;
-- the first page passes a cursor past every job), jobs created at or after
-- :created_from. The window is the next :scan jobs in that order, read from one index
-- (the created index, or the status or task one when that filter is given); the other
-- filters pick from the window. So a page reads at most :scan rows whatever the
-- filters: a rare combination, or error text no job has, costs one bounded window, and
-- the page offers the next window from jobs_window_end. INDEXED BY holds each query to
-- its index (left alone SQLite may prefer the status/task index and sort).

-- name: jobs_page
SELECT * FROM (
    SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_created
     WHERE (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan) AS w
 WHERE (:target_entity_type IS NULL OR w.target_entity_type = :target_entity_type)
   AND (:provider IS NULL OR w.provider = :provider)
   AND (:model IS NULL OR w.model = :model)
   AND w.updated_at >= :updated_from AND w.updated_at < :updated_to
   AND (:error_text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit;

-- name: jobs_page_by_status
SELECT * FROM (
    SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
     WHERE status = :status
       AND (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan) AS w
 WHERE (:task_type IS NULL OR w.task_type = :task_type)
   AND (:target_entity_type IS NULL OR w.target_entity_type = :target_entity_type)
   AND (:provider IS NULL OR w.provider = :provider)
   AND (:model IS NULL OR w.model = :model)
   AND w.updated_at >= :updated_from AND w.updated_at < :updated_to
   AND (:error_text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit;

-- name: jobs_page_by_task
SELECT * FROM (
    SELECT * FROM background_ai_jobs INDEXED BY background_ai_jobs_task_created
     WHERE task_type = :task_type
       AND (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
     ORDER BY created_at DESC, job_id DESC
     LIMIT :scan) AS w
 WHERE (:target_entity_type IS NULL OR w.target_entity_type = :target_entity_type)
   AND (:provider IS NULL OR w.provider = :provider)
   AND (:model IS NULL OR w.model = :model)
   AND w.updated_at >= :updated_from AND w.updated_at < :updated_to
   AND (:error_text IS NULL
        OR lower(w.error_message) LIKE '%' || lower(:error_text) || '%' ESCAPE '\')
 ORDER BY w.created_at DESC, w.job_id DESC
 LIMIT :limit;

-- name: jobs_window_end
-- The last job of a full window (the :scan-th from the cursor), where the next one starts;
-- no row when the window reached the end. Reads the index only.
SELECT created_at, job_id FROM background_ai_jobs INDEXED BY background_ai_jobs_created
 WHERE (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan - 1;

-- name: jobs_window_end_by_status
SELECT created_at, job_id FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
 WHERE status = :status
   AND (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan - 1;

-- name: jobs_window_end_by_task
SELECT created_at, job_id FROM background_ai_jobs INDEXED BY background_ai_jobs_task_created
 WHERE task_type = :task_type
   AND (created_at, job_id) < (:before_at, :before_id) AND created_at >= :created_from
 ORDER BY created_at DESC, job_id DESC
 LIMIT 1 OFFSET :scan - 1;

-- name: failure_groups
-- The failures page: errors grouped by status and message, most frequent first, each with
-- its newest example. Grouping every errored job of all time has no index to read and
-- grows with the history, so the groups are taken from a bounded window: the newest
-- :window jobs of each erroring status, read from the status index (the page says so).
-- The bare job_id is the row of max(updated_at): SQLite's documented min/max rule.
SELECT status, error_message, count(*) AS jobs, max(updated_at) AS latest_at,
       job_id AS example_job_id
  FROM (SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'failed_ai'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'failed_payload_parsing'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'failed_job_logic'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'cancelled'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'retry_ai'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)
        UNION ALL
        SELECT * FROM (SELECT status, error_message, updated_at, job_id
                         FROM background_ai_jobs INDEXED BY background_ai_jobs_status_created
                        WHERE status = 'rate_limited'
                        ORDER BY created_at DESC, job_id DESC LIMIT :window)) AS recent
 WHERE error_message IS NOT NULL
 GROUP BY status, error_message
 ORDER BY jobs DESC, latest_at DESC
 LIMIT :limit;

-- name: finished_counts
-- Throughput: jobs that reached a terminal status (their updated_at says when) in the
-- last minute and hour. INDEXED BY holds SQLite to the partial index on finished jobs
-- (left alone it may walk the status index over every completed job of all time).
SELECT COALESCE(sum(CASE WHEN status = 'completed' AND updated_at > :minute
                         THEN 1 ELSE 0 END), 0) AS completed_1m,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' AND updated_at > :minute
                         THEN 1 ELSE 0 END), 0) AS failed_1m,
       COALESCE(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed_1h,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' THEN 1 ELSE 0 END), 0) AS failed_1h
  FROM background_ai_jobs INDEXED BY background_ai_jobs_finished
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at > :hour;

-- name: finished_per_minute
-- The overview's throughput chart: jobs that reached a terminal status in each minute
-- since :since ('YYYY-MM-DDTHH:MM', UTC), read from the partial index on finished jobs.
SELECT substr(updated_at, 1, 16) AS minute,
       sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END) AS completed,
       sum(CASE WHEN status LIKE 'failed%' THEN 1 ELSE 0 END) AS failed
  FROM background_ai_jobs INDEXED BY background_ai_jobs_finished
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at > :since
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
  FROM background_ai_jobs INDEXED BY background_ai_jobs_finished
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at >= :since;
