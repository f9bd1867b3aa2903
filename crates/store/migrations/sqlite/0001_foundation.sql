-- Foundation schema (SQLite). Ids are UUIDv7 text, times are epoch seconds, flags are
-- INTEGER 0/1 (the sqlx Any driver cannot decode SQLite BOOLEAN columns).

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    industry    TEXT NOT NULL DEFAULT '',
    time_zone   TEXT NOT NULL DEFAULT 'UTC',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE users (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    name          TEXT NOT NULL,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    seat          TEXT NOT NULL CHECK (seat IN ('executive', 'manager', 'rep')),
    team_id       TEXT REFERENCES teams (id),
    manager_id    TEXT REFERENCES users (id),
    is_admin      INTEGER NOT NULL DEFAULT 0,
    disabled_at   BIGINT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX users_org_id ON users (org_id, id);
CREATE INDEX users_org_team ON users (org_id, team_id);

CREATE TABLE teams (
    id             TEXT PRIMARY KEY,
    org_id         TEXT NOT NULL REFERENCES organizations (id),
    name           TEXT NOT NULL,
    manager_id     TEXT REFERENCES users (id),
    parent_team_id TEXT REFERENCES teams (id),
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX teams_org_id ON teams (org_id, id);
CREATE INDEX teams_org_manager ON teams (org_id, manager_id);

-- Global login index: the only way from an email to its organization before anyone is
-- authenticated. Not a tenant table (it holds no tenant data beyond the mapping).
CREATE TABLE user_logins (
    email   TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    org_id  TEXT NOT NULL
);

-- Consecutive failed logins per email (known or not), shared by every instance.
CREATE TABLE login_attempts (
    email        TEXT PRIMARY KEY,
    failures     INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT NOT NULL DEFAULT 0,
    updated_at   BIGINT NOT NULL
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id),
    user_id      TEXT NOT NULL REFERENCES users (id),
    refresh_jti  TEXT NOT NULL,
    user_agent   TEXT NOT NULL DEFAULT '',
    ip           TEXT NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
CREATE INDEX sessions_org_user ON sessions (org_id, user_id);

CREATE TABLE invitations (
    id               TEXT PRIMARY KEY,
    org_id           TEXT NOT NULL REFERENCES organizations (id),
    email            TEXT NOT NULL,
    seat             TEXT NOT NULL CHECK (seat IN ('executive', 'manager', 'rep')),
    team_id          TEXT REFERENCES teams (id),
    invited_by       TEXT NOT NULL REFERENCES users (id),
    expires_at       BIGINT NOT NULL,
    accepted_at      BIGINT,
    accepted_user_id TEXT REFERENCES users (id),
    created_at       BIGINT NOT NULL
);
CREATE INDEX invitations_org ON invitations (org_id, id);

-- Emails waiting for delivery (a later issue delivers them).
CREATE TABLE outbox_emails (
    id         TEXT PRIMARY KEY,
    org_id     TEXT NOT NULL REFERENCES organizations (id),
    kind       TEXT NOT NULL,
    to_address TEXT NOT NULL,
    subject    TEXT NOT NULL,
    body_text  TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    sent_at    BIGINT
);
CREATE INDEX outbox_emails_pending ON outbox_emails (sent_at, created_at);
