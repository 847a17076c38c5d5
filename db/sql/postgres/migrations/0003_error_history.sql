-- Every error a job meets, not only the last one (PostgreSQL): the newest 20 entries,
-- oldest first, each {"at", "attempt", "status", "error"}. A trigger writes it, so every
-- path that stores an error (a verdict, a reclaim, a put-back, a cancel, plain SQL) keeps it.

ALTER TABLE background_ai_jobs ADD COLUMN error_history jsonb;

CREATE FUNCTION enricher_error_history() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    history jsonb;
BEGIN
    history := COALESCE(NEW.error_history, '[]'::jsonb) || jsonb_build_array(jsonb_build_object(
        'at', NEW.updated_at, 'attempt', NEW.attempts, 'status', NEW.status,
        'error', NEW.error_message));
    IF jsonb_array_length(history) > 20 THEN
        history := history - 0;
    END IF;
    NEW.error_history := history;
    RETURN NEW;
END;
$$;

CREATE TRIGGER background_ai_jobs_error_history
BEFORE UPDATE OF status, error_message ON background_ai_jobs
FOR EACH ROW
WHEN (NEW.error_message IS NOT NULL AND NEW.status <> 'processing'
      AND (NEW.status IS DISTINCT FROM OLD.status
           OR NEW.error_message IS DISTINCT FROM OLD.error_message))
EXECUTE FUNCTION enricher_error_history();

-- Finished jobs by the time they finished (a terminal job's updated_at): throughput over
-- the last minute and hour (status) and retention (prune) walk it, not the whole table.
CREATE INDEX background_ai_jobs_finished ON background_ai_jobs (updated_at)
    WHERE status IN ('completed', 'failed_ai', 'failed_payload_parsing', 'failed_job_logic', 'cancelled');
