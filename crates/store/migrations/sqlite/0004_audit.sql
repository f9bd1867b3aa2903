-- The audit log: one hash chain per organization (the nil UUID holds operator and
-- system events that belong to no organization). Each entry's hash covers the previous
-- entry's hash and the entry's own canonical form, so an edited, deleted, inserted or
-- reordered entry breaks the chain (`pitchside audit verify`).
CREATE TABLE audit_events (
    org_id      TEXT NOT NULL,
    seq         BIGINT NOT NULL,
    occurred_at BIGINT NOT NULL,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT,
    ip          TEXT,
    user_agent  TEXT,
    request_id  TEXT,
    action      TEXT NOT NULL,
    target_type TEXT,
    target_id   TEXT,
    detail      TEXT NOT NULL,
    prev_hash   TEXT NOT NULL,
    hash        TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
);
CREATE INDEX audit_events_time ON audit_events (org_id, occurred_at);

-- The head of each chain, and the anchor left by retention: the seq and hash of the
-- last pruned entry, where verification starts.
CREATE TABLE audit_heads (
    org_id      TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);

-- Append-only: no UPDATE ever; DELETE only while the retention path holds the gate
-- open inside its own transaction.
CREATE TABLE audit_prune_gate (opened INTEGER NOT NULL);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_gate)
BEGIN
    SELECT RAISE(ABORT, 'audit_events is append-only');
END;
