-- Every error a job meets, not only the last one (SQLite): the newest 20 entries, oldest
-- first, each {"at", "attempt", "status", "error"}. A trigger writes it, so every path
-- that stores an error (a verdict, a reclaim, a put-back, a cancel, plain SQL) keeps it.

ALTER TABLE background_ai_jobs ADD COLUMN error_history TEXT;

CREATE TRIGGER background_ai_jobs_error_history
AFTER UPDATE OF status, error_message ON background_ai_jobs
WHEN NEW.error_message IS NOT NULL AND NEW.status <> 'processing'
 AND (NEW.status IS NOT OLD.status OR NEW.error_message IS NOT OLD.error_message)
BEGIN
    UPDATE background_ai_jobs
       SET error_history = (
           SELECT CASE WHEN json_array_length(h) > 20 THEN json_remove(h, '$[0]') ELSE h END
             FROM (SELECT json_insert(COALESCE(NEW.error_history, '[]'), '$[#]',
                                      json_object('at', NEW.updated_at,
                                                  'attempt', NEW.attempts,
                                                  'status', NEW.status,
                                                  'error', NEW.error_message)) AS h))
     WHERE job_id = NEW.job_id;
END;

-- Finished jobs by the time they finished (a terminal job's updated_at): throughput over
-- the last minute and hour (status) and retention (prune) walk it, not the whole table.
CREATE INDEX background_ai_jobs_finished ON background_ai_jobs (updated_at)
    WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled');
