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

ALTER TABLE audit_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE audit_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON audit_events
    USING (org_id = current_setting('app.org_id', true))
    WITH CHECK (org_id = current_setting('app.org_id', true));
-- Append-only for the application: no UPDATE, no DELETE, no TRUNCATE.
GRANT SELECT, INSERT ON audit_events TO pitchside_app;

-- The head of each chain, and the anchor left by retention: the seq and hash of the
-- last pruned entry, where verification starts. Global (hashes and counters only, no
-- tenant data), so the retention job can find every chain.
CREATE TABLE audit_heads (
    org_id      TEXT PRIMARY KEY,
    seq         BIGINT NOT NULL,
    hash        TEXT NOT NULL,
    anchor_seq  BIGINT NOT NULL,
    anchor_hash TEXT NOT NULL
);
GRANT SELECT, INSERT, UPDATE ON audit_heads TO pitchside_app;

-- Even the owner cannot UPDATE an entry, and DELETE passes only inside audit_prune.
CREATE FUNCTION audit_events_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('app.audit_prune', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only';
END
$$;
CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_guard();

-- The retention path, the only way to delete entries: the oldest entries of the
-- current tenant's chain, up to and including `p_through`, and only if every one of
-- them is older than 730 days by the database server's clock.
CREATE FUNCTION audit_prune(p_org TEXT, p_through BIGINT) RETURNS BIGINT
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    removed BIGINT;
BEGIN
    IF p_org IS DISTINCT FROM current_setting('app.org_id', true) THEN
        RAISE EXCEPTION 'audit_prune: not the current tenant';
    END IF;
    IF EXISTS (
        SELECT 1 FROM audit_events
        WHERE org_id = p_org AND seq <= p_through
          AND occurred_at > floor(extract(epoch FROM now()))::BIGINT - 730 * 86400
    ) THEN
        RAISE EXCEPTION 'audit_prune: entries younger than 730 days';
    END IF;
    PERFORM set_config('app.audit_prune', 'on', true);
    DELETE FROM audit_events WHERE org_id = p_org AND seq <= p_through;
    GET DIAGNOSTICS removed = ROW_COUNT;
    PERFORM set_config('app.audit_prune', 'off', true);
    RETURN removed;
END
$$;
REVOKE ALL ON FUNCTION audit_prune(TEXT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION audit_prune(TEXT, BIGINT) TO pitchside_app;
