-- Named queries, SQLite dialect. Every name here exists in every dialect's file.
-- Parameters are :name; timestamps are passed in as datetimes and stored as ISO text.

-- ───────────────────────────── migrations ─────────────────────────────

-- name: create_schema_version_table
CREATE TABLE IF NOT EXISTS schema_version (
    version    INTEGER PRIMARY KEY NOT NULL,
    name       TEXT NOT NULL,
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

-- name: schema_versions
SELECT version, name, applied_at FROM schema_version ORDER BY version;

-- name: record_schema_version
INSERT INTO schema_version (version, name) VALUES (:version, :name);

-- ───────────────────────────── enqueue ─────────────────────────────

-- name: insert_job
INSERT INTO background_ai_jobs (
    job_id, task_type, target_entity_type, target_entity_id, status, payload,
    priority, max_attempts, run_after, created_at, updated_at
) VALUES (
    :job_id, :task_type, :target_entity_type, :target_entity_id, 'pending', :payload,
    :priority, :max_attempts, :run_after, :now, :now
)
ON CONFLICT DO NOTHING
RETURNING job_id, status;

-- name: find_active_job
SELECT job_id, status FROM background_ai_jobs
 WHERE task_type = :task_type
   AND target_entity_type = :target_entity_type
   AND target_entity_id = :target_entity_id
   AND status IN ('pending', 'processing', 'rate_limited', 'retry_ai');

-- name: code_entity_hashes
SELECT content_hash, ai_content_hash FROM code_entities WHERE entity_id = :target_entity_id;

-- name: project_document_hashes
SELECT content_hash, ai_content_hash FROM project_documents WHERE document_id = :target_entity_id;

-- name: conversation_hashes
SELECT content_hash, ai_content_hash FROM conversations WHERE conversation_id = :target_entity_id;

-- name: mark_code_entity_skipped
UPDATE code_entities SET ai_status = 'skipped', ai_error = NULL, updated_at = :now
 WHERE entity_id = :target_entity_id;

-- name: mark_project_document_skipped
UPDATE project_documents SET ai_status = 'skipped', ai_error = NULL, updated_at = :now
 WHERE document_id = :target_entity_id;

-- name: mark_conversation_skipped
UPDATE conversations SET ai_status = 'skipped', ai_error = NULL, updated_at = :now
 WHERE conversation_id = :target_entity_id;

-- ───────────────────────────── worker ─────────────────────────────

-- name: claim_jobs
-- :provider_scopes is a JSON object {task_type: "provider:<name>:<model>"} built from the
-- worker's config, so provider pauses are filtered here, before the LIMIT. Both maps are
-- read with json_each, never a JSON path built from task_type: a task type a host wrote
-- with a quote or a '$' in it would make the path invalid and fail every claim.
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
               WHERE p.paused_until > :now
                 AND (p.scope = 'task:' || j.task_type
                      OR p.scope = (SELECT s.value FROM json_each(:provider_scopes) AS s
                                    WHERE s.key = j.task_type)))
          AND j.task_type NOT IN (SELECT h.value FROM json_each(:held_task_types) AS h)
        ORDER BY j.priority DESC, j.run_after, j.created_at
        LIMIT :limit)
RETURNING job_id, task_type, target_entity_type, target_entity_id, payload, priority,
          attempts, max_attempts, run_after, created_at;

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
-- {job_id, result (JSON text), provider, model, input_tokens, output_tokens, cost_usd};
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
               json_extract(value, '$.cost_usd') AS cost_usd
          FROM json_each(:verdicts)) AS v
 WHERE background_ai_jobs.job_id = v.job_id
   AND +locked_by = :worker_id AND +status = 'processing'
RETURNING job_id;

-- name: finish_job
-- Fenced end of an attempt that did not complete: retry, fail, or hold back.
UPDATE background_ai_jobs
   SET status = :status,
       attempts = attempts + :consumed,
       error_message = :error_message,
       run_after = :run_after,
       provider = COALESCE(:provider, provider),
       model = COALESCE(:model, model),
       locked_by = NULL,
       locked_at = NULL,
       completed_at = CASE WHEN :terminal THEN :now ELSE NULL END,
       updated_at = :now
 WHERE job_id = :job_id AND locked_by = :worker_id AND status = 'processing'
RETURNING job_id, attempts;

-- name: release_worker_jobs
-- Shutdown: jobs still running go back to the queue; the attempt is not consumed.
UPDATE background_ai_jobs
   SET status = 'retry_ai',
       error_message = :error_message,
       run_after = :now,
       locked_by = NULL,
       locked_at = NULL,
       updated_at = :now
 WHERE locked_by = :worker_id AND status = 'processing'
RETURNING job_id;

-- name: reap_stale_jobs
-- A lost heartbeat consumes an attempt: the job may be what killed its worker.
UPDATE background_ai_jobs
   SET status = CASE WHEN attempts + 1 >= COALESCE(max_attempts, :default_max_attempts)
                     THEN 'failed_ai' ELSE 'retry_ai' END,
       attempts = attempts + 1,
       error_message = 'worker ' || COALESCE(locked_by, '?') || ' stopped heart-beating: lock '
                       || 'older than ' || :lock_timeout_s || ' s; job reclaimed',
       completed_at = CASE WHEN attempts + 1 >= COALESCE(max_attempts, :default_max_attempts)
                           THEN :now ELSE NULL END,
       run_after = :now,
       locked_by = NULL,
       locked_at = NULL,
       updated_at = :now
 WHERE status = 'processing' AND locked_at < :stale_before
RETURNING job_id, task_type, target_entity_type, target_entity_id, status, attempts;

-- name: upsert_pause
INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at)
VALUES (:scope, :paused_until, :reason, :now, :now)
ON CONFLICT (scope) DO UPDATE
   SET paused_until = max(ai_pauses.paused_until, excluded.paused_until),
       reason = excluded.reason,
       updated_at = excluded.updated_at;

-- name: active_pauses
SELECT scope, paused_until, reason FROM ai_pauses WHERE paused_until > :now ORDER BY scope;

-- name: burst_remaining
-- Jobs that keep a --burst worker alive: running anywhere, or due before the horizon
-- and not held by a pause that outlasts it.
SELECT count(*) AS remaining,
       min(CASE WHEN j.status <> 'processing' THEN j.run_after END) AS next_run_after
  FROM background_ai_jobs AS j
 WHERE j.status IN ('pending', 'processing', 'rate_limited', 'retry_ai')
   AND (j.status = 'processing'
        OR (j.run_after <= :horizon
            AND NOT EXISTS (
                SELECT 1 FROM ai_pauses AS p
                 WHERE p.paused_until > :horizon
                   AND (p.scope = 'task:' || j.task_type
                        OR p.scope = (SELECT s.value FROM json_each(:provider_scopes) AS s
                                    WHERE s.key = j.task_type)))));

-- name: register_worker
INSERT INTO ai_workers (worker_id, hostname, pid, concurrency, status, running,
                        started_at, last_heartbeat_at)
VALUES (:worker_id, :hostname, :pid, :concurrency, 'running', 0, :now, :now)
ON CONFLICT (worker_id) DO UPDATE
   SET hostname = excluded.hostname, pid = excluded.pid, concurrency = excluded.concurrency,
       status = 'running', running = 0, started_at = excluded.started_at,
       last_heartbeat_at = excluded.last_heartbeat_at, stopped_at = NULL;

-- name: worker_heartbeat
UPDATE ai_workers SET last_heartbeat_at = :now, running = :running WHERE worker_id = :worker_id;

-- name: worker_stopped
UPDATE ai_workers SET status = 'stopped', running = 0, stopped_at = :now, last_heartbeat_at = :now
 WHERE worker_id = :worker_id;

-- ───────────────────────────── jobs ─────────────────────────────

-- name: get_job
SELECT * FROM background_ai_jobs WHERE job_id = :job_id;

-- name: cancel_job
UPDATE background_ai_jobs
   SET status = 'cancelled', error_message = :error_message, locked_by = NULL,
       locked_at = NULL, completed_at = :now, updated_at = :now
 WHERE job_id = :job_id AND status IN ('pending', 'processing', 'rate_limited', 'retry_ai')
RETURNING job_id;

-- ───────────────────────────── targets ─────────────────────────────

-- name: load_code_entity
SELECT entity_id AS id, file_path, entity_type, name, language, raw_content, content_hash
  FROM code_entities WHERE entity_id = :target_entity_id;

-- name: load_project_document
SELECT document_id AS id, file_path, file_type, title, raw_content, content_hash
  FROM project_documents WHERE document_id = :target_entity_id;

-- name: load_conversation
SELECT conversation_id AS id, title, content_hash FROM conversations
 WHERE conversation_id = :target_entity_id;

-- name: load_conversation_messages
SELECT message_id, role, content, created_at FROM conversation_messages
 WHERE conversation_id = :target_entity_id
 ORDER BY created_at, message_id;

-- name: save_code_entity_enrichment
UPDATE code_entities
   SET summary = :summary, keywords = :keywords, ai_content_hash = :content_hash,
       ai_last_processed_at = :now, updated_at = :now
 WHERE entity_id = :target_entity_id;

-- name: save_project_document_enrichment
UPDATE project_documents
   SET summary = :summary, keywords = :keywords, ai_content_hash = :content_hash,
       ai_last_processed_at = :now, updated_at = :now
 WHERE document_id = :target_entity_id;

-- name: save_conversation_enrichment
UPDATE conversations
   SET ai_content_hash = :content_hash, ai_last_processed_at = :now, updated_at = :now
 WHERE conversation_id = :target_entity_id;

-- name: delete_entity_keywords
DELETE FROM entity_keywords
 WHERE target_entity_type = :target_entity_type AND target_entity_id = :target_entity_id;

-- name: insert_entity_keyword
INSERT INTO entity_keywords (target_entity_type, target_entity_id, keyword, weight, keyword_type)
VALUES (:target_entity_type, :target_entity_id, :keyword, :weight, :keyword_type)
ON CONFLICT (target_entity_type, target_entity_id, keyword) DO UPDATE
   SET weight = excluded.weight, keyword_type = excluded.keyword_type;

-- name: delete_conversation_topics
DELETE FROM conversation_topics WHERE conversation_id = :target_entity_id;

-- name: insert_conversation_topic
INSERT INTO conversation_topics (topic_id, conversation_id, summary, keywords, purpose_tag,
                                 start_message_id, end_message_id, created_at)
VALUES (:topic_id, :conversation_id, :summary, :keywords, :purpose_tag,
        :start_message_id, :end_message_id, :now);

-- ───────────────────────────── ingest ─────────────────────────────

-- name: upsert_code_entity
INSERT INTO code_entities (entity_id, file_path, entity_type, name, language, start_line,
                           end_line, raw_content, content_hash, created_at, updated_at)
VALUES (:entity_id, :file_path, :entity_type, :name, :language, :start_line, :end_line,
        :raw_content, :content_hash, :now, :now)
ON CONFLICT (entity_id) DO UPDATE
   SET file_path = excluded.file_path, entity_type = excluded.entity_type,
       name = excluded.name, language = excluded.language, start_line = excluded.start_line,
       end_line = excluded.end_line, raw_content = excluded.raw_content,
       content_hash = excluded.content_hash, updated_at = excluded.updated_at;

-- name: upsert_project_document
INSERT INTO project_documents (document_id, file_path, file_type, title, raw_content,
                               content_hash, created_at, updated_at)
VALUES (:document_id, :file_path, :file_type, :title, :raw_content, :content_hash, :now, :now)
ON CONFLICT (document_id) DO UPDATE
   SET file_path = excluded.file_path, file_type = excluded.file_type, title = excluded.title,
       raw_content = excluded.raw_content, content_hash = excluded.content_hash,
       updated_at = excluded.updated_at;

-- name: upsert_conversation
INSERT INTO conversations (conversation_id, title, content_hash, created_at, updated_at)
VALUES (:conversation_id, :title, :content_hash, :now, :now)
ON CONFLICT (conversation_id) DO UPDATE
   SET title = excluded.title, content_hash = excluded.content_hash,
       updated_at = excluded.updated_at;

-- name: upsert_conversation_message
INSERT INTO conversation_messages (message_id, conversation_id, role, content, created_at)
VALUES (:message_id, :conversation_id, :role, :content, :created_at)
ON CONFLICT (message_id) DO UPDATE
   SET role = excluded.role, content = excluded.content;

-- ───────────────────────────── status ─────────────────────────────

-- name: job_counts
SELECT task_type, status, count(*) AS jobs FROM background_ai_jobs
 GROUP BY task_type, status ORDER BY task_type, status;

-- name: oldest_claimable
SELECT min(run_after) AS oldest FROM background_ai_jobs
 WHERE status IN ('pending', 'retry_ai', 'rate_limited') AND run_after <= :now;

-- name: usage_totals
SELECT COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens,
       COALESCE(sum(cost_usd), 0.0) AS cost_usd
  FROM background_ai_jobs;

-- name: finished_counts
-- Throughput: jobs that reached a terminal status (their updated_at says when) in the
-- last minute and hour. The literal status list lets the planner use the partial index.
SELECT COALESCE(sum(CASE WHEN status = 'completed' AND updated_at > :minute
                         THEN 1 ELSE 0 END), 0) AS completed_1m,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' AND updated_at > :minute
                         THEN 1 ELSE 0 END), 0) AS failed_1m,
       COALESCE(sum(CASE WHEN status = 'completed' THEN 1 ELSE 0 END), 0) AS completed_1h,
       COALESCE(sum(CASE WHEN status LIKE 'failed%' THEN 1 ELSE 0 END), 0) AS failed_1h
  FROM background_ai_jobs
 WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled')
   AND updated_at > :hour;

-- name: list_workers
SELECT worker_id, hostname, pid, concurrency, status, running, started_at,
       last_heartbeat_at, stopped_at
  FROM ai_workers ORDER BY started_at DESC;

-- name: entity_status_counts
SELECT 'code_entity' AS target_entity_type, ai_status, count(*) AS entities
  FROM code_entities GROUP BY ai_status
UNION ALL
SELECT 'project_document', ai_status, count(*) FROM project_documents GROUP BY ai_status
UNION ALL
SELECT 'conversation', ai_status, count(*) FROM conversations GROUP BY ai_status;

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

-- name: upsert_rate_limit
-- Configured limits win over learned ones; NULL keeps what the row had.
INSERT INTO ai_rate_limits (pool_key, rpm, tpm, input_tpm, output_tpm, source, updated_at)
VALUES (:pool_key, :rpm, :tpm, :input_tpm, :output_tpm, :source, :now)
ON CONFLICT (pool_key) DO UPDATE
   SET rpm = CASE WHEN ai_rate_limits.source = 'config' AND excluded.source = 'headers'
                  THEN COALESCE(ai_rate_limits.rpm, excluded.rpm)
                  ELSE COALESCE(excluded.rpm, ai_rate_limits.rpm) END,
       tpm = CASE WHEN ai_rate_limits.source = 'config' AND excluded.source = 'headers'
                  THEN COALESCE(ai_rate_limits.tpm, excluded.tpm)
                  ELSE COALESCE(excluded.tpm, ai_rate_limits.tpm) END,
       input_tpm = CASE WHEN ai_rate_limits.source = 'config' AND excluded.source = 'headers'
                        THEN COALESCE(ai_rate_limits.input_tpm, excluded.input_tpm)
                        ELSE COALESCE(excluded.input_tpm, ai_rate_limits.input_tpm) END,
       output_tpm = CASE WHEN ai_rate_limits.source = 'config' AND excluded.source = 'headers'
                         THEN COALESCE(ai_rate_limits.output_tpm, excluded.output_tpm)
                         ELSE COALESCE(excluded.output_tpm, ai_rate_limits.output_tpm) END,
       source = CASE WHEN ai_rate_limits.source = 'config' THEN 'config' ELSE excluded.source END,
       updated_at = excluded.updated_at;

-- name: lock_rate_limit
-- Inside BEGIN IMMEDIATE the whole database is already ours; the row is simply read.
SELECT pool_key, rpm, tpm, input_tpm, output_tpm, source, factor, last_limited_at
  FROM ai_rate_limits WHERE pool_key = :pool_key;

-- name: rate_usage_window
SELECT used_at, requests, tokens, input_tokens, output_tokens FROM ai_rate_usage
 WHERE pool_key = :pool_key AND used_at > :since ORDER BY used_at;

-- name: rate_usage_totals
SELECT COALESCE(sum(requests), 0) AS requests, COALESCE(sum(tokens), 0) AS tokens,
       COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens
  FROM ai_rate_usage WHERE pool_key = :pool_key AND used_at > :since;

-- name: insert_rate_usage
INSERT INTO ai_rate_usage (usage_id, pool_key, worker_id, used_at, requests, tokens,
                           input_tokens, output_tokens)
VALUES (:usage_id, :pool_key, :worker_id, :now, :requests, :tokens, :input_tokens,
        :output_tokens);

-- name: reconcile_rate_usage
UPDATE ai_rate_usage
   SET tokens = :tokens, input_tokens = :input_tokens, output_tokens = :output_tokens
 WHERE usage_id = :usage_id;

-- name: forget_rate_usage
DELETE FROM ai_rate_usage WHERE pool_key = :pool_key AND used_at < :before;

-- name: rate_limited_pool
UPDATE ai_rate_limits SET factor = :factor, last_limited_at = :now, updated_at = :now
 WHERE pool_key = :pool_key;

-- name: rate_pools
SELECT pool_key, rpm, tpm, source, factor, last_limited_at,
       (SELECT COALESCE(sum(u.requests), 0) FROM ai_rate_usage AS u
         WHERE u.pool_key = l.pool_key AND u.used_at > :since) AS window_requests,
       (SELECT COALESCE(sum(u.tokens), 0) FROM ai_rate_usage AS u
         WHERE u.pool_key = l.pool_key AND u.used_at > :since) AS window_tokens
  FROM ai_rate_limits AS l ORDER BY pool_key;

-- ───────────────────────────── job administration ─────────────────────────────
-- jobs list / show / retry, prune (enricher/jobviews.py, redrive.py, housekeeping.py)

-- name: list_jobs
-- Every column (SELECT *), so columns added by later migrations show up in `jobs list`.
-- :statuses is a JSON array or NULL; NULL filters match everything.
SELECT * FROM background_ai_jobs
 WHERE (:statuses IS NULL OR status IN (SELECT value FROM json_each(:statuses)))
   AND (:task_type IS NULL OR task_type = :task_type)
   AND (:target_entity_type IS NULL OR target_entity_type = :target_entity_type)
 ORDER BY created_at DESC, job_id DESC
 LIMIT :limit;

-- name: get_code_entity
SELECT * FROM code_entities WHERE entity_id = :target_entity_id;

-- name: get_project_document
SELECT * FROM project_documents WHERE document_id = :target_entity_id;

-- name: get_conversation
SELECT * FROM conversations WHERE conversation_id = :target_entity_id;

-- name: redrive_candidates
-- The jobs a redrive considers (:job_ids, or the filters), each with the target's active
-- job and the newest later job of the same target, if any: either one means skip.
-- Jobs that will be redriven take the :limit slots before superseded ones.
SELECT * FROM (
    SELECT j.job_id, j.status, j.task_type, j.target_entity_type, j.target_entity_id,
           j.updated_at,
           (SELECT a.job_id FROM background_ai_jobs AS a
             WHERE a.task_type = j.task_type AND a.target_entity_type = j.target_entity_type
               AND a.target_entity_id = j.target_entity_id AND a.job_id <> j.job_id
               AND a.status IN ('pending', 'processing', 'rate_limited', 'retry_ai')
             LIMIT 1) AS active_job_id,
           (SELECT n.job_id FROM background_ai_jobs AS n
             WHERE n.task_type = j.task_type AND n.target_entity_type = j.target_entity_type
               AND n.target_entity_id = j.target_entity_id
               AND (n.created_at > j.created_at
                    OR (n.created_at = j.created_at AND n.job_id > j.job_id))
             ORDER BY n.created_at DESC, n.job_id DESC
             LIMIT 1) AS newer_job_id
      FROM background_ai_jobs AS j
     WHERE (:job_ids IS NULL OR j.job_id IN (SELECT value FROM json_each(:job_ids)))
       AND (:statuses IS NULL OR j.status IN (SELECT value FROM json_each(:statuses)))
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
DELETE FROM background_ai_jobs
 WHERE job_id IN (
       SELECT job_id FROM background_ai_jobs
        WHERE status IN (SELECT value FROM json_each(:statuses))
          AND status IN ('completed', 'failed_ai', 'failed_payload_parsing',
                         'failed_job_logic', 'cancelled')
          AND updated_at < :before
        LIMIT :batch_size)
   AND status NOT IN ('pending', 'processing', 'rate_limited', 'retry_ai')
   AND updated_at < :before;
