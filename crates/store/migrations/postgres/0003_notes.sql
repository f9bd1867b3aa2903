-- Coaching notes. The body is sealed (Fernet, coaching_notes domain) before it reaches
-- SQL; body_key_id names the key that sealed it, for rotation bookkeeping.
CREATE TABLE notes (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    author_id       TEXT NOT NULL REFERENCES users (id),
    subject_user_id TEXT NOT NULL REFERENCES users (id),
    visibility      TEXT NOT NULL CHECK (visibility IN ('private', 'shared')),
    body_sealed     TEXT NOT NULL,
    body_key_id     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX notes_org_subject ON notes (org_id, subject_user_id, id);

ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
ALTER TABLE notes FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON notes
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
GRANT SELECT, INSERT, UPDATE, DELETE ON notes TO pitchside_app;
