-- enricher web's jobs list filtered by status or by task type reads one page in order
-- from these (created_at DESC, job_id DESC, as the list's keyset cursor), and the
-- failures page reads each failed status's newest jobs from the status one. Without
-- them a rare status or an absent task type walks the whole created index.
CREATE INDEX background_ai_jobs_status_created
    ON background_ai_jobs (status, created_at DESC, job_id DESC);
CREATE INDEX background_ai_jobs_task_created
    ON background_ai_jobs (task_type, created_at DESC, job_id DESC);
