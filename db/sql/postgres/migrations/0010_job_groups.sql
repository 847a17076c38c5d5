-- Fair share between groups (PostgreSQL): job_group names the tenant, repository or
-- project a job belongs to; NULL is one group of its own. With worker.fair_groups the
-- claim shares free slots round-robin across the groups that have claimable work, within
-- priority (claim_jobs_fair; docs/architecture.md, "The claim").
--
-- The column compares in the "C" collation (byte order, which for UTF-8 is code point
-- order): the worker keeps its round-robin cursor in Python, and Python's string order
-- is code point order, whatever the database's default collation.
--
-- background_ai_jobs_fair is what that claim walks: the claimable rows by priority, then
-- group, then claim order. The group key is COALESCE('1' || job_group, '0'): NULL gets a
-- key of its own ('0') that no named group ('1' followed by the name) can take, even
-- '', and every key sorts after '' so a walk can start "before everything" at ''.

ALTER TABLE background_ai_jobs ADD COLUMN job_group text COLLATE "C";

CREATE INDEX background_ai_jobs_fair
    ON background_ai_jobs (priority DESC, (COALESCE('1' || job_group, '0')), run_after, created_at)
    WHERE status IN ('pending', 'retry_ai', 'rate_limited');
