-- The batch lane (PostgreSQL): jobs sent through a provider's batch API at half price.
--
-- A job waiting in a provider batch is 'batched': active (it counts in the
-- one-active-job rule and in the target's ai_status), not claimable. Its batch_id names
-- the row of ai_provider_batches that maps the provider's batch to its jobs, so any
-- worker can poll a batch another worker submitted (docs/architecture.md, "The batch
-- lane").

ALTER TABLE background_ai_jobs DROP CONSTRAINT background_ai_jobs_status_check;
ALTER TABLE background_ai_jobs ADD CONSTRAINT background_ai_jobs_status_check CHECK (status IN (
    'pending', 'processing', 'rate_limited', 'retry_ai', 'completed',
    'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled', 'batched'));

ALTER TABLE background_ai_jobs ADD COLUMN batch_id uuid;

DROP INDEX background_ai_jobs_one_active;
CREATE UNIQUE INDEX background_ai_jobs_one_active
    ON background_ai_jobs (task_type, target_entity_type, target_entity_id)
    WHERE status IN ('pending', 'processing', 'rate_limited', 'retry_ai', 'batched');

-- A batch's jobs, for its results and for `enricher batches show`.
CREATE INDEX background_ai_jobs_batch ON background_ai_jobs (batch_id)
    WHERE batch_id IS NOT NULL;

-- One row per provider batch: which provider, model and endpoint, the provider's ids,
-- where it stands, its counts. 'preparing' rows have jobs marked but no provider batch
-- yet; 'submitted' ones are open at the provider; 'cancelling' ones an operator
-- cancelled (`enricher batches cancel`), still open until the provider ends them;
-- 'ended' ones had their results applied; 'failed' ones were refused at submission
-- (their jobs went back).
CREATE TABLE ai_provider_batches (
    batch_id           uuid PRIMARY KEY,
    task_type          text NOT NULL,
    provider           text NOT NULL,
    model              text NOT NULL,
    base_url           text NOT NULL DEFAULT '',
    provider_batch_id  text,
    input_file_id      text,
    output_file_id     text,
    error_file_id      text,
    status             text NOT NULL DEFAULT 'preparing' CHECK (status IN (
        'preparing', 'submitted', 'cancelling', 'ended', 'failed')),
    provider_status    text,
    request_count      integer NOT NULL DEFAULT 0,
    succeeded_count    integer NOT NULL DEFAULT 0,
    errored_count      integer NOT NULL DEFAULT 0,
    expired_count      integer NOT NULL DEFAULT 0,
    cancelled_count    integer NOT NULL DEFAULT 0,
    estimated_cost_usd double precision,
    created_by         text NOT NULL,
    polled_by          text,
    next_poll_at       timestamptz NOT NULL,
    error              text,
    created_at         timestamptz NOT NULL,
    submitted_at       timestamptz,
    ended_at           timestamptz,
    updated_at         timestamptz NOT NULL
);
-- Open batches by when they are next due a poll: what every worker's poller reads.
CREATE INDEX ai_provider_batches_open ON ai_provider_batches (next_poll_at)
    WHERE status IN ('preparing', 'submitted', 'cancelling');
-- `enricher batches list`, newest first.
CREATE INDEX ai_provider_batches_created ON ai_provider_batches (created_at);
-- A provider's batch id names a batch too, and belongs to one row only: a lost
-- submission found again at the provider is adopted by one row, never two.
CREATE UNIQUE INDEX ai_provider_batches_provider_id ON ai_provider_batches (provider_batch_id);
