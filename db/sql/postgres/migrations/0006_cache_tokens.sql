-- Prompt-cache accounting (PostgreSQL): of a completed job's input_tokens (all input,
-- cached or not), how many were read from the provider's prompt cache and how many were
-- written to it. NULL for jobs stored before, and for jobs without a provider call.

ALTER TABLE background_ai_jobs ADD COLUMN cached_input_tokens integer;
ALTER TABLE background_ai_jobs ADD COLUMN cache_write_tokens integer;
