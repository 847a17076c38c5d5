-- Shared rate budgets (SQLite): one row per provider pool, and the usage of the last minute.

CREATE TABLE ai_rate_limits (
    pool_key         TEXT PRIMARY KEY NOT NULL,
    rpm              INTEGER,
    tpm              INTEGER,
    input_tpm        INTEGER,
    output_tpm       INTEGER,
    source           TEXT NOT NULL DEFAULT 'config',
    factor           REAL NOT NULL DEFAULT 1.0,
    last_limited_at  TEXT,
    updated_at       TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE ai_rate_usage (
    usage_id   TEXT PRIMARY KEY NOT NULL,
    pool_key   TEXT NOT NULL,
    worker_id  TEXT NOT NULL,
    used_at    TEXT NOT NULL,
    requests   INTEGER NOT NULL,
    tokens     INTEGER NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ai_rate_usage_window ON ai_rate_usage (pool_key, used_at);
