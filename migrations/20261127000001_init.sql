-- Portable between SQLite and PostgreSQL: TEXT ids (UUID v4), BIGINT Unix seconds, BIGINT 0/1 flags.

-- SQLite: the first statement of every write transaction touches this row, so the write lock is taken up front.
CREATE TABLE schema_lock (id BIGINT PRIMARY KEY, n BIGINT NOT NULL);
INSERT INTO schema_lock (id, n) VALUES (1, 0);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    password_hash TEXT,
    confirmed_at BIGINT,
    failed_logins BIGINT NOT NULL DEFAULT 0,
    locked_until BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- E-mailed tokens: only digests are stored. One table, a purpose column, a validity per purpose.
CREATE TABLE user_tokens (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose TEXT NOT NULL,
    token_digest TEXT NOT NULL UNIQUE,
    code_digest TEXT,
    sent_to TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX user_tokens_by_user ON user_tokens (user_id, purpose);

-- One row per signed-in device. The cookie holds a random token; only its digest is here.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_digest TEXT NOT NULL UNIQUE,
    remember_me BIGINT NOT NULL DEFAULT 0,
    ip TEXT,
    user_agent TEXT,
    created_at BIGINT NOT NULL,
    last_active_at BIGINT NOT NULL,
    idle_expires_at BIGINT NOT NULL,
    absolute_expires_at BIGINT NOT NULL,
    sudo_at BIGINT
);
CREATE INDEX sessions_by_user ON sessions (user_id);

CREATE TABLE audit_events (
    id TEXT PRIMARY KEY,
    at BIGINT NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_user_id TEXT,
    target_user_id TEXT,
    ip TEXT,
    user_agent TEXT,
    detail TEXT
);
CREATE INDEX audit_events_by_target ON audit_events (target_user_id, at);
CREATE INDEX audit_events_by_at ON audit_events (at);

-- Durable background work. Payloads carry ids only: never a token, a code or a mail body.
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    max_attempts BIGINT NOT NULL,
    run_at BIGINT NOT NULL,
    locked_until BIGINT,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_at);
