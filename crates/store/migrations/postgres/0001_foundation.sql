-- Foundation schema (PostgreSQL). Same shape as the SQLite schema, plus row-level
-- security on every tenant table: rows are visible only when the transaction has set
-- app.org_id to their organization. The application runs as the non-owner role
-- pitchside_app (SET ROLE on each pooled connection), and every policy is FORCEd, so
-- even the owner is subject to it.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'pitchside_app') THEN
        CREATE ROLE pitchside_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOINHERIT;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

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
    team_id       TEXT,
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
ALTER TABLE users ADD CONSTRAINT users_team_fk FOREIGN KEY (team_id) REFERENCES teams (id);

CREATE TABLE user_logins (
    email   TEXT PRIMARY KEY,
    user_id TEXT NOT NULL UNIQUE,
    org_id  TEXT NOT NULL
);

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

-- Row-level security on every tenant table.
ALTER TABLE organizations ENABLE ROW LEVEL SECURITY;
ALTER TABLE organizations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON organizations
    USING (id = current_setting('app.org_id', true))
    WITH CHECK (id = current_setting('app.org_id', true));

ALTER TABLE users ENABLE ROW LEVEL SECURITY;
ALTER TABLE users FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON users
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE teams ENABLE ROW LEVEL SECURITY;
ALTER TABLE teams FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON teams
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE sessions FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sessions
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE invitations ENABLE ROW LEVEL SECURITY;
ALTER TABLE invitations FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON invitations
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

ALTER TABLE outbox_emails ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbox_emails FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbox_emails
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));

GRANT USAGE ON SCHEMA public TO pitchside_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
    organizations, users, teams, user_logins, login_attempts, sessions, invitations, outbox_emails
    TO pitchside_app;
