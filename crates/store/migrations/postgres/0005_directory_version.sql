-- The membership directory's version, per organization, and the one-round-trip session
-- check. See docs/decisions/0007-directory-cache.md.
--
-- Every insert, update or delete of a user or a team bumps organizations.directory_version
-- in the same transaction (the triggers below), so an instance that caches an
-- organization's directory in memory knows it is stale as soon as a request's session
-- check returns a different number.
ALTER TABLE organizations ADD COLUMN directory_version BIGINT NOT NULL DEFAULT 0;

-- Runs as the writer (SECURITY INVOKER): row-level security applies, and the tenant
-- context the write already runs under lets it see the organization's row. A bump that
-- finds no row would leave caches stale, so it fails the write instead.
CREATE FUNCTION bump_directory_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        org := OLD.org_id;
    ELSE
        org := NEW.org_id;
    END IF;
    UPDATE organizations SET directory_version = directory_version + 1 WHERE id = org;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'directory version of organization % not visible', org;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_directory_version AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION bump_directory_version();
CREATE TRIGGER teams_directory_version AFTER INSERT OR UPDATE OR DELETE ON teams
    FOR EACH ROW EXECUTE FUNCTION bump_directory_version();

-- The session check of every authenticated request in one round trip, called outside
-- any explicit transaction: it sets app.org_id for the current (implicit, one
-- statement) transaction and then reads the session, its user and the directory
-- version under row-level security. SECURITY INVOKER on purpose: the body runs as the
-- caller (pitchside_app), so the policies apply to it exactly as to any other query.
-- Inside a transaction that already works for another tenant it refuses, so it cannot
-- switch a transaction's tenant.
CREATE FUNCTION session_check(
    p_org TEXT, p_session TEXT, p_user TEXT, p_now BIGINT, p_idle_after BIGINT
) RETURNS TABLE (
    id TEXT, org_id TEXT, name TEXT, email TEXT, seat TEXT, team_id TEXT, is_admin INTEGER,
    session_id TEXT, refresh_jti TEXT, last_seen_at BIGINT, directory_version BIGINT
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    IF coalesce(current_setting('app.org_id', true), '') NOT IN ('', p_org) THEN
        RAISE EXCEPTION 'session_check: the transaction belongs to another organization';
    END IF;
    PERFORM set_config('app.org_id', p_org, true);
    RETURN QUERY
        SELECT u.id, u.org_id, u.name, u.email, u.seat, u.team_id, u.is_admin,
               s.id, s.refresh_jti, s.last_seen_at, o.directory_version
        FROM sessions s
        JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
        JOIN organizations o ON o.id = s.org_id
        WHERE s.org_id = p_org AND s.id = p_session AND s.user_id = p_user
          AND s.revoked_at IS NULL AND s.expires_at > p_now AND s.last_seen_at > p_idle_after
          AND u.disabled_at IS NULL;
END
$$;
REVOKE ALL ON FUNCTION session_check(TEXT, TEXT, TEXT, BIGINT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_check(TEXT, TEXT, TEXT, BIGINT, BIGINT) TO pitchside_app;
