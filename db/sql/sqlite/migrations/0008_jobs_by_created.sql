-- `jobs list` and the dashboard's jobs page show the newest jobs first, a page at a
-- time: this index lets them read one page in order instead of sorting the table.
CREATE INDEX background_ai_jobs_created ON background_ai_jobs (created_at DESC, job_id DESC);
