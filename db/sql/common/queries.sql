-- Named queries written once for every dialect. Each of them differs between SQLite and
-- PostgreSQL only in the casts on its parameters, so it lives here rather than twice in
-- db/sql/<dialect>/queries.sql; a name here must not appear in a dialect file too.
--
-- Written in the PostgreSQL form. The casts (:now::timestamptz, :job_id::uuid, ...) pin
-- PostgreSQL's parameter types: the server infers the type of each $n when asyncpg
-- prepares the statement, and asyncpg encodes the Python value as that type, so a type
-- guessed from context (text next to ||, unknown in COALESCE or CASE WHEN) would refuse
-- a datetime or an int, or compare the wrong way.
--
-- SQLite has no use for them: it binds each Python value with the value's own type (and
-- the connector stores datetimes as ISO text). So when db/queries.py loads this file
-- for SQLite it drops every ::type that follows a parameter, chains and ::type[] and
-- ::double precision included (write other multi-word types by their one-word names,
-- e.g. timestamptz, varchar), and refuses a query that still holds a cast afterwards.
-- A cast on anything but a parameter, or any other difference between the dialects,
-- means the query belongs in the dialect files instead.

-- ───────────────────────────── migrations ─────────────────────────────

-- name: schema_versions
SELECT version, name, applied_at FROM schema_version ORDER BY version;

-- name: record_schema_version
INSERT INTO schema_version (version, name) VALUES (:version::integer, :name::text);

-- ───────────────────────────── enqueue ─────────────────────────────

-- name: insert_job
INSERT INTO background_ai_jobs (
    job_id, task_type, target_entity_type, target_entity_id, status, payload,
    priority, max_attempts, run_after, created_at, updated_at, job_group
) VALUES (
    :job_id::uuid, :task_type::text, :target_entity_type::text, :target_entity_id::text,
    'pending', :payload::jsonb, :priority::integer, :max_attempts::integer,
    :run_after::timestamptz, :now::timestamptz, :now::timestamptz, :job_group::text
)
ON CONFLICT DO NOTHING
RETURNING job_id, status;

-- name: find_active_job
SELECT job_id, status FROM background_ai_jobs
 WHERE task_type = :task_type::text
   AND target_entity_type = :target_entity_type::text
   AND target_entity_id = :target_entity_id::text
   AND status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched');

-- ───────────────────────────── worker ─────────────────────────────

-- name: finish_job
-- Fenced end of an attempt that did not complete: retry, fail, or hold back.
UPDATE background_ai_jobs
   SET status = :status::text,
       attempts = attempts + :consumed::integer,
       error_message = :error_message::text,
       run_after = :run_after::timestamptz,
       provider = COALESCE(:provider::text, provider),
       model = COALESCE(:model::text, model),
       locked_by = NULL,
       locked_at = NULL,
       completed_at = CASE WHEN :terminal::boolean THEN :now::timestamptz ELSE NULL END,
       updated_at = :now::timestamptz
 WHERE job_id = :job_id::uuid AND locked_by = :worker_id::text AND status = 'processing'
RETURNING job_id, attempts;

-- name: release_worker_jobs
-- Shutdown: jobs still running go back to the queue; the attempt is not consumed.
UPDATE background_ai_jobs
   SET status = 'retry_ai',
       error_message = :error_message::text,
       run_after = :now::timestamptz,
       locked_by = NULL,
       locked_at = NULL,
       updated_at = :now::timestamptz
 WHERE locked_by = :worker_id::text AND status = 'processing'
RETURNING job_id;

-- name: reap_stale_jobs
-- A lost heartbeat consumes an attempt: the job may be what killed its worker.
UPDATE background_ai_jobs
   SET status = CASE WHEN attempts + 1 >= COALESCE(max_attempts, :default_max_attempts::integer)
                     THEN 'failed_ai' ELSE 'retry_ai' END,
       attempts = attempts + 1,
       error_message = 'worker ' || COALESCE(locked_by, '?') || ' stopped heart-beating: lock '
                       || 'older than ' || :lock_timeout_s::double precision::text
                       || ' s; job reclaimed',
       completed_at = CASE WHEN attempts + 1 >= COALESCE(max_attempts,
                                                         :default_max_attempts::integer)
                           THEN :now::timestamptz ELSE NULL END,
       run_after = :now::timestamptz,
       locked_by = NULL,
       locked_at = NULL,
       updated_at = :now::timestamptz
 WHERE status = 'processing' AND locked_at < :stale_before::timestamptz
RETURNING job_id, task_type, target_entity_type, target_entity_id, status, attempts;

-- name: set_pause
-- An operator's pause: exactly what was asked, replacing an automatic one on the scope.
INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at)
VALUES (:scope::text, :paused_until::timestamptz, :reason::text, :now::timestamptz,
        :now::timestamptz)
ON CONFLICT (scope) DO UPDATE
   SET paused_until = excluded.paused_until, reason = excluded.reason,
       updated_at = excluded.updated_at;

-- name: delete_pause
DELETE FROM ai_pauses WHERE scope = :scope::text;

-- name: active_pauses
SELECT scope, paused_until, reason FROM ai_pauses
 WHERE paused_until > :now::timestamptz ORDER BY scope;

-- name: start_pause
-- Pause :scope unless it is paused already: a row comes back only when this statement
-- started the pause, so of several workers that reach a spent budget at once, one says so.
INSERT INTO ai_pauses (scope, paused_until, reason, created_at, updated_at)
VALUES (:scope::text, :paused_until::timestamptz, :reason::text, :now::timestamptz,
        :now::timestamptz)
ON CONFLICT (scope) DO UPDATE
   SET paused_until = excluded.paused_until,
       reason = excluded.reason,
       updated_at = excluded.updated_at
 WHERE ai_pauses.paused_until <= excluded.updated_at
RETURNING scope;

-- name: register_worker
INSERT INTO ai_workers (worker_id, hostname, pid, concurrency, status, running,
                        started_at, last_heartbeat_at)
VALUES (:worker_id::text, :hostname::text, :pid::integer, :concurrency::integer, 'running', 0,
        :now::timestamptz, :now::timestamptz)
ON CONFLICT (worker_id) DO UPDATE
   SET hostname = excluded.hostname, pid = excluded.pid, concurrency = excluded.concurrency,
       status = 'running', running = 0, started_at = excluded.started_at,
       last_heartbeat_at = excluded.last_heartbeat_at, stopped_at = NULL;

-- name: worker_heartbeat
UPDATE ai_workers SET last_heartbeat_at = :now::timestamptz, running = :running::integer
 WHERE worker_id = :worker_id::text;

-- name: worker_stopped
UPDATE ai_workers
   SET status = 'stopped', running = 0, stopped_at = :now::timestamptz,
       last_heartbeat_at = :now::timestamptz
 WHERE worker_id = :worker_id::text;

-- ───────────────────────────── jobs ─────────────────────────────

-- name: get_job
SELECT * FROM background_ai_jobs WHERE job_id = :job_id::uuid;

-- name: jobs_with_id_between
-- A job-id prefix as a range on the primary key (:lo padded with 0s, :hi with fs):
-- the first two ids tell one match from several, and the window counts them all.
SELECT job_id, count(*) OVER () AS matches
  FROM background_ai_jobs
 WHERE job_id BETWEEN :lo::uuid AND :hi::uuid
 ORDER BY job_id
 LIMIT 2;

-- name: cancel_job
UPDATE background_ai_jobs
   SET status = 'cancelled', error_message = :error_message::text, locked_by = NULL,
       locked_at = NULL, completed_at = :now::timestamptz, updated_at = :now::timestamptz
 WHERE job_id = :job_id::uuid
   AND status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
RETURNING job_id;

-- ───────────────────────────── targets ─────────────────────────────

-- name: delete_entity_keywords
DELETE FROM entity_keywords
 WHERE target_entity_type = :target_entity_type::text
   AND target_entity_id = :target_entity_id::text;

-- name: insert_entity_keyword
INSERT INTO entity_keywords (target_entity_type, target_entity_id, keyword, weight, keyword_type)
VALUES (:target_entity_type::text, :target_entity_id::text, :keyword::text,
        :weight::double precision, :keyword_type::text)
ON CONFLICT (target_entity_type, target_entity_id, keyword) DO UPDATE
   SET weight = excluded.weight, keyword_type = excluded.keyword_type;

-- name: delete_conversation_topics
DELETE FROM conversation_topics WHERE conversation_id = :target_entity_id::text;

-- name: insert_conversation_topic
INSERT INTO conversation_topics (topic_id, conversation_id, summary, keywords, purpose_tag,
                                 start_message_id, end_message_id, created_at)
VALUES (:topic_id::text, :conversation_id::text, :summary::text, :keywords::jsonb,
        :purpose_tag::text, :start_message_id::text, :end_message_id::text, :now::timestamptz);

-- name: owned_tables
SELECT table_name, target_entity_type FROM ai_owned_tables ORDER BY table_name;

-- name: own_table
INSERT INTO ai_owned_tables (table_name, target_entity_type, created_at)
VALUES (:table_name::text, :target_entity_type::text, :now::timestamptz)
ON CONFLICT (table_name) DO NOTHING;

-- name: target_trigger_definitions
SELECT target_entity_type, definition FROM ai_target_triggers ORDER BY target_entity_type;

-- name: forget_target_triggers
DELETE FROM ai_target_triggers;

-- name: record_target_trigger
INSERT INTO ai_target_triggers (target_entity_type, definition, updated_at)
VALUES (:target_entity_type::text, :definition::text, :now::timestamptz);

-- ───────────────────────────── ingest ─────────────────────────────

-- name: upsert_code_entity
INSERT INTO code_entities (entity_id, file_path, entity_type, name, language, start_line,
                           end_line, raw_content, content_hash, created_at, updated_at)
VALUES (:entity_id::text, :file_path::text, :entity_type::text, :name::text, :language::text,
        :start_line::integer, :end_line::integer, :raw_content::text, :content_hash::text,
        :now::timestamptz, :now::timestamptz)
ON CONFLICT (entity_id) DO UPDATE
   SET file_path = excluded.file_path, entity_type = excluded.entity_type,
       name = excluded.name, language = excluded.language, start_line = excluded.start_line,
       end_line = excluded.end_line, raw_content = excluded.raw_content,
       content_hash = excluded.content_hash, updated_at = excluded.updated_at;

-- name: upsert_project_document
INSERT INTO project_documents (document_id, file_path, file_type, title, raw_content,
                               content_hash, created_at, updated_at)
VALUES (:document_id::text, :file_path::text, :file_type::text, :title::text,
        :raw_content::text, :content_hash::text, :now::timestamptz, :now::timestamptz)
ON CONFLICT (document_id) DO UPDATE
   SET file_path = excluded.file_path, file_type = excluded.file_type, title = excluded.title,
       raw_content = excluded.raw_content, content_hash = excluded.content_hash,
       updated_at = excluded.updated_at;

-- name: upsert_conversation
INSERT INTO conversations (conversation_id, title, content_hash, created_at, updated_at)
VALUES (:conversation_id::text, :title::text, :content_hash::text, :now::timestamptz,
        :now::timestamptz)
ON CONFLICT (conversation_id) DO UPDATE
   SET title = excluded.title, content_hash = excluded.content_hash,
       updated_at = excluded.updated_at;

-- name: upsert_conversation_message
INSERT INTO conversation_messages (message_id, conversation_id, role, content, created_at)
VALUES (:message_id::text, :conversation_id::text, :role::text, :content::text,
        :created_at::timestamptz)
ON CONFLICT (message_id) DO UPDATE
   SET role = excluded.role, content = excluded.content;

-- ───────────────────────────── status ─────────────────────────────

-- name: job_counts
SELECT task_type, status, count(*) AS jobs FROM background_ai_jobs
 GROUP BY task_type, status ORDER BY task_type, status;

-- name: active_job_counts
-- The active jobs per task and status, exact on every dashboard refresh: a range of the
-- status index, as small as the backlog (job_counts counts the whole history).
SELECT task_type, status, count(*) AS jobs FROM background_ai_jobs
 WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched')
 GROUP BY task_type, status ORDER BY task_type, status;

-- name: oldest_claimable
SELECT min(run_after) AS oldest FROM background_ai_jobs
 WHERE status IN ('pending', 'retry_ai', 'rate_limited') AND run_after <= :now::timestamptz;

-- name: usage_totals
-- input_tokens is all input, cached or not. cache_counted_input_tokens is the input of
-- the jobs whose cache counts were recorded (not those stored before they were), the
-- denominator of the cache-hit share.
SELECT COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens,
       COALESCE(sum(cost_usd), 0.0) AS cost_usd,
       COALESCE(sum(cached_input_tokens), 0) AS cached_input_tokens,
       COALESCE(sum(cache_write_tokens), 0) AS cache_write_tokens,
       COALESCE(sum(CASE WHEN cached_input_tokens IS NOT NULL THEN input_tokens END), 0)
           AS cache_counted_input_tokens
  FROM background_ai_jobs;

-- name: list_workers
SELECT worker_id, hostname, pid, concurrency, status, running, started_at,
       last_heartbeat_at, stopped_at
  FROM ai_workers ORDER BY started_at DESC;

-- ───────────────────────────── rate budgets ─────────────────────────────

-- name: upsert_rate_limit
-- Configured limits win over learned ones; NULL keeps what the row had.
INSERT INTO ai_rate_limits (pool_key, rpm, tpm, input_tpm, output_tpm, source, updated_at)
VALUES (:pool_key::text, :rpm::integer, :tpm::integer, :input_tpm::integer,
        :output_tpm::integer, :source::text, :now::timestamptz)
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
       source = CASE WHEN ai_rate_limits.source = 'config' THEN 'config'
                     WHEN ai_rate_limits.source = 'unannounced'
                      AND COALESCE(excluded.rpm, excluded.tpm, excluded.input_tpm,
                                   excluded.output_tpm) IS NULL THEN 'unannounced'
                     ELSE excluded.source END,
       updated_at = excluded.updated_at;

-- name: rate_limits_unannounced
-- The pool's answers announce no limits: nothing to pace, and no call need probe it.
UPDATE ai_rate_limits SET source = 'unannounced', updated_at = :now::timestamptz
 WHERE pool_key = :pool_key::text AND source = 'headers'
   AND COALESCE(rpm, tpm, input_tpm, output_tpm) IS NULL;

-- name: rate_usage_window
SELECT used_at, requests, tokens, input_tokens, output_tokens FROM ai_rate_usage
 WHERE pool_key = :pool_key::text AND used_at > :since::timestamptz ORDER BY used_at;

-- name: rate_usage_totals
SELECT COALESCE(sum(requests), 0) AS requests, COALESCE(sum(tokens), 0) AS tokens,
       COALESCE(sum(input_tokens), 0) AS input_tokens,
       COALESCE(sum(output_tokens), 0) AS output_tokens
  FROM ai_rate_usage WHERE pool_key = :pool_key::text AND used_at > :since::timestamptz;

-- name: insert_rate_usage
INSERT INTO ai_rate_usage (usage_id, pool_key, worker_id, used_at, requests, tokens,
                           input_tokens, output_tokens)
VALUES (:usage_id::uuid, :pool_key::text, :worker_id::text, :now::timestamptz,
        :requests::integer, :tokens::integer, :input_tokens::integer, :output_tokens::integer);

-- name: reconcile_rate_usage
UPDATE ai_rate_usage
   SET tokens = :tokens::integer, input_tokens = :input_tokens::integer,
       output_tokens = :output_tokens::integer
 WHERE usage_id = :usage_id::uuid;

-- name: release_rate_usage
-- A reservation the provider never counted (it answered 429): its room is free again.
DELETE FROM ai_rate_usage WHERE usage_id = :usage_id::uuid;

-- name: forget_rate_usage
DELETE FROM ai_rate_usage WHERE pool_key = :pool_key::text AND used_at < :before::timestamptz;

-- name: rate_limited_pool
UPDATE ai_rate_limits
   SET factor = :factor::double precision, last_limited_at = :now::timestamptz,
       updated_at = :now::timestamptz
 WHERE pool_key = :pool_key::text;

-- name: rate_pools
SELECT pool_key, rpm, tpm, source, factor, last_limited_at,
       (SELECT COALESCE(sum(u.requests), 0) FROM ai_rate_usage AS u
         WHERE u.pool_key = l.pool_key AND u.used_at > :since::timestamptz) AS window_requests,
       (SELECT COALESCE(sum(u.tokens), 0) FROM ai_rate_usage AS u
         WHERE u.pool_key = l.pool_key AND u.used_at > :since::timestamptz) AS window_tokens
  FROM ai_rate_limits AS l ORDER BY pool_key;

-- ───────────────────────────── job administration ─────────────────────────────


-- ───────────────────────────── schedules ─────────────────────────────

-- name: claim_schedule_fire
-- The one worker whose insert lands runs (or skips) the fire; the others get no row.
INSERT INTO ai_schedule_runs (schedule_name, fire_time, status, worker_id, started_at)
VALUES (:schedule_name::text, :fire_time::timestamptz, :status::text, :worker_id::text,
        :now::timestamptz)
ON CONFLICT (schedule_name, fire_time) DO NOTHING
RETURNING schedule_name;

-- name: finish_schedule_fire
UPDATE ai_schedule_runs
   SET status = :status::text, finished_at = :now::timestamptz, result = :result::text,
       error = :error::text
 WHERE schedule_name = :schedule_name::text AND fire_time = :fire_time::timestamptz;

-- name: last_schedule_runs
-- The latest fire of every schedule that has run, for status.
SELECT r.schedule_name, r.fire_time, r.status, r.finished_at, r.result, r.error
  FROM ai_schedule_runs AS r
 WHERE r.fire_time = (SELECT max(l.fire_time) FROM ai_schedule_runs AS l
                       WHERE l.schedule_name = r.schedule_name)
 ORDER BY r.schedule_name;

-- ───────────────────────────── batch lane ─────────────────────────────
-- docs/architecture.md, "The batch lane". A batch row is written with its jobs marked
-- 'batched' before the provider hears of it, so a worker that dies at any point leaves
-- a row another worker can finish.

-- name: insert_provider_batch
INSERT INTO ai_provider_batches (
    batch_id, task_type, provider, model, base_url, status, request_count,
    estimated_cost_usd, created_by, next_poll_at, created_at, updated_at)
VALUES (:batch_id::uuid, :task_type::text, :provider::text, :model::text, :base_url::text,
        'preparing', :request_count::integer, :estimated_cost_usd::double precision,
        :worker_id::text, :next_poll_at::timestamptz, :now::timestamptz, :now::timestamptz);

-- name: provider_batch_submitted
UPDATE ai_provider_batches
   SET status = 'submitted', provider_batch_id = :provider_batch_id::text,
       input_file_id = :input_file_id::text, provider_status = :provider_status::text,
       request_count = :request_count::integer, submitted_at = :now::timestamptz,
       next_poll_at = :next_poll_at::timestamptz, updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid;

-- name: provider_batch_polled
UPDATE ai_provider_batches
   SET provider_status = :provider_status::text,
       succeeded_count = :succeeded_count::integer, errored_count = :errored_count::integer,
       expired_count = :expired_count::integer, cancelled_count = :cancelled_count::integer,
       output_file_id = :output_file_id::text, error_file_id = :error_file_id::text,
       next_poll_at = :next_poll_at::timestamptz, updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid;

-- name: provider_batch_ended
-- :status is 'ended' (results applied) or 'failed' (refused; its jobs went back).
UPDATE ai_provider_batches
   SET status = :status::text, error = :error::text, ended_at = :now::timestamptz,
       updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid;

-- name: take_batch_jobs
-- The next jobs of an ended batch still waiting for their row, locked for this worker
-- as a claim locks them: each row then ends through the same fenced verdict as an online
-- call. A job cancelled meanwhile is no longer 'batched': its row is discarded.
UPDATE background_ai_jobs
   SET status = 'processing', locked_by = :worker_id::text, locked_at = :now::timestamptz,
       updated_at = :now::timestamptz
 WHERE job_id IN (SELECT j.job_id FROM background_ai_jobs AS j
                   WHERE j.batch_id = :batch_id::uuid AND j.status = 'batched'
                   ORDER BY j.job_id
                   LIMIT :limit::integer)
RETURNING job_id, task_type, target_entity_type, target_entity_id, payload, priority,
          attempts, max_attempts, run_after, created_at;

-- name: return_batch_jobs
-- A batch the provider refused: its jobs go back as :status ('rate_limited' after a
-- rate or enqueued-token limit, else 'retry_ai'), due at :run_after; :consumed is 1
-- when the refusal costs an attempt (a malformed batch), with failed_ai on the last.
UPDATE background_ai_jobs
   SET status = CASE WHEN :consumed::integer = 1
                      AND attempts + 1 >= COALESCE(max_attempts, :default_max_attempts::integer)
                     THEN 'failed_ai' ELSE :status::text END,
       attempts = attempts + :consumed::integer,
       completed_at = CASE WHEN :consumed::integer = 1
                            AND attempts + 1 >= COALESCE(max_attempts,
                                                         :default_max_attempts::integer)
                           THEN :now::timestamptz END,
       error_message = :error_message::text,
       run_after = :run_after::timestamptz,
       updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid AND status = 'batched'
RETURNING job_id;

-- name: rebatch_stale_jobs
-- A worker that died while writing an open batch's results leaves some of its jobs
-- 'processing': they go back to 'batched' (their rows are still at the provider, paid
-- for), not to the reaper's retry, which would send them again.
UPDATE background_ai_jobs
   SET status = 'batched', locked_by = NULL, locked_at = NULL, updated_at = :now::timestamptz
 WHERE status = 'processing' AND locked_at < :stale_before::timestamptz
   AND batch_id IN (SELECT b.batch_id FROM ai_provider_batches AS b
                     WHERE b.status IN ('preparing', 'submitted', 'cancelling'))
RETURNING job_id;

-- name: get_provider_batch
SELECT * FROM ai_provider_batches WHERE batch_id = :batch_id::uuid;

-- name: find_provider_batch
SELECT * FROM ai_provider_batches WHERE provider_batch_id = :provider_batch_id::text;

-- name: list_provider_batches
-- Newest first, from the created index: a batch holds up to thousands of jobs, so the
-- table stays small, and a page reads only its own rows.
SELECT * FROM ai_provider_batches
 WHERE (:open_only::integer = 0 OR status IN ('preparing', 'submitted', 'cancelling'))
 ORDER BY created_at DESC
 LIMIT :limit::integer;

-- name: provider_batches_with_id_between
-- A batch-id prefix as a range on the primary key, as jobs_with_id_between.
SELECT batch_id, count(*) OVER () AS matches
  FROM ai_provider_batches
 WHERE batch_id BETWEEN :lo::uuid AND :hi::uuid
 ORDER BY batch_id
 LIMIT 2;

-- name: cancel_provider_batch
-- An operator cancels the batch: recorded before the provider is asked, so a worker that
-- sees the provider's "cancelled" afterwards also sees this. It stays open (polled at
-- once) until the provider ends it; then the rows that never ran cancel their jobs
-- instead of being sent again.
UPDATE ai_provider_batches
   SET status = 'cancelling', error = :error::text, next_poll_at = :now::timestamptz,
       updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid AND status = 'submitted'
RETURNING *;

-- name: uncancel_provider_batch
-- The provider refused the operator's cancel: the batch runs on as before.
UPDATE ai_provider_batches
   SET status = 'submitted', error = NULL, updated_at = :now::timestamptz
 WHERE batch_id = :batch_id::uuid AND status = 'cancelling';

-- name: open_batches_spend
-- What the batches created in [:since, :until) and still open will cost, as estimated
-- at submission: a spend cap counts them before their jobs carry a cost_usd.
SELECT provider, COALESCE(sum(estimated_cost_usd), 0.0) AS cost_usd
  FROM ai_provider_batches
 WHERE status IN ('preparing', 'submitted', 'cancelling')
   AND created_at >= :since::timestamptz AND created_at < :until::timestamptz
 GROUP BY provider;

-- name: batch_job_counts
SELECT status, count(*) AS jobs FROM background_ai_jobs
 WHERE batch_id = :batch_id::uuid GROUP BY status;
