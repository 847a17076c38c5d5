-- Shared rate budgets (PostgreSQL): one row per provider pool, and the usage of the last minute.

CREATE TABLE ai_rate_limits (
    pool_key         text PRIMARY KEY,
    rpm              integer,
    tpm              integer,
    input_tpm        integer,
    output_tpm       integer,
    source           text NOT NULL DEFAULT 'config',
    factor           double precision NOT NULL DEFAULT 1.0,
    last_limited_at  timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ai_rate_usage (
    usage_id   uuid PRIMARY KEY,
    pool_key   text NOT NULL,
    worker_id  text NOT NULL,
    used_at    timestamptz NOT NULL,
    requests   integer NOT NULL,
    tokens     integer NOT NULL,
    input_tokens  integer NOT NULL DEFAULT 0,
    output_tokens integer NOT NULL DEFAULT 0
);
CREATE INDEX ai_rate_usage_window ON ai_rate_usage (pool_key, used_at);
