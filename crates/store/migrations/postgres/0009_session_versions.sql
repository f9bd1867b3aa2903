-- Session versions: what lets an instance keep the session rows it has read in memory
-- and still see every revocation on the very next request (src/session_batch.rs,
-- docs/decisions/0011-session-versions.md).
--
-- organizations.auth_version moves whenever a session of the organization changes in
-- any way but its idle tracking (last_seen_at): revoked, rotated, shortened, deleted.
-- Users' changes (disabled, deleted, seat, team, name) already move
-- directory_version (migration 0005). An instance that read a session while the two
-- numbers were (a, d) may answer from that read for as long as a fresh read of the two
-- numbers, made after the request arrived, still gives (a, d) — and it checks expiry
-- and idleness against its own clock each time.
ALTER TABLE organizations ADD COLUMN auth_version BIGINT NOT NULL DEFAULT 0;

-- Runs as the writer, under row-level security, inside the write's transaction. A new
-- session needs no bump (no instance can hold it yet). A bump that finds no row would
-- leave instances answering from what they read before, so it fails the write instead
-- (as the directory version's does).
CREATE FUNCTION bump_auth_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    org TEXT;
BEGIN
    IF TG_OP = 'DELETE' THEN
        org := OLD.org_id;
    ELSIF (to_jsonb(OLD) - 'last_seen_at') = (to_jsonb(NEW) - 'last_seen_at') THEN
        RETURN NULL;
    ELSE
        org := NEW.org_id;
    END IF;
    UPDATE organizations SET auth_version = auth_version + 1 WHERE id = org;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'auth version of organization % not visible', org;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER sessions_auth_version AFTER UPDATE OR DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION bump_auth_version();

-- The two versions of each organization in p_orgs (a JSON array of ids), read under
-- row-level security one organization at a time, like session_check_many.
CREATE FUNCTION session_versions(p_orgs JSON)
RETURNS TABLE (org_id TEXT, auth_version BIGINT, directory_version BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_entry TEXT := coalesce(current_setting('app.org_id', true), '');
    v_org TEXT;
BEGIN
    FOR v_org IN SELECT DISTINCT o FROM json_array_elements_text(p_orgs) AS o
                 WHERE o IS NOT NULL LOOP
        IF v_entry NOT IN ('', v_org) THEN
            RAISE EXCEPTION 'session_versions: the transaction belongs to another organization';
        END IF;
        PERFORM set_config('app.org_id', v_org, true);
        RETURN QUERY
            SELECT o.id, o.auth_version, o.directory_version FROM organizations o
            WHERE o.id = v_org;
    END LOOP;
    PERFORM set_config('app.org_id', v_entry, true);
END
$$;
REVOKE ALL ON FUNCTION session_versions(JSON) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_versions(JSON) TO pitchside_app;

-- session_check_many's rows (migration 0007, which this replaces) plus what an instance
-- needs to keep them: when the session expires and the organization's auth_version,
-- read in the same snapshot.
DROP FUNCTION session_check_many(JSON, BIGINT, BIGINT);
CREATE FUNCTION session_rows_many(p_batch JSON, p_now BIGINT, p_idle_after BIGINT)
RETURNS TABLE (
    slot BIGINT, id TEXT, org_id TEXT, name TEXT, email TEXT, seat TEXT, team_id TEXT,
    is_admin INTEGER, session_id TEXT, refresh_jti TEXT, last_seen_at BIGINT,
    directory_version BIGINT, expires_at BIGINT, auth_version BIGINT
) LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_entry TEXT := coalesce(current_setting('app.org_id', true), '');
    v_orgs TEXT[];
    v_sessions TEXT[];
    v_users TEXT[];
    v_org TEXT;
BEGIN
    SELECT array_agg(b.e->>0 ORDER BY b.n), array_agg(b.e->>1 ORDER BY b.n),
           array_agg(b.e->>2 ORDER BY b.n)
    INTO v_orgs, v_sessions, v_users
    FROM json_array_elements(p_batch) WITH ORDINALITY AS b(e, n);
    IF v_orgs IS NULL THEN
        RETURN;
    END IF;
    FOR v_org IN SELECT DISTINCT o FROM unnest(v_orgs) AS o WHERE o IS NOT NULL LOOP
        IF v_entry NOT IN ('', v_org) THEN
            RAISE EXCEPTION 'session_rows_many: the transaction belongs to another organization';
        END IF;
        PERFORM set_config('app.org_id', v_org, true);
        RETURN QUERY
            SELECT q.n, u.id, u.org_id, u.name, u.email, u.seat, u.team_id, u.is_admin,
                   s.id, s.refresh_jti, s.last_seen_at, o.directory_version,
                   s.expires_at, o.auth_version
            FROM unnest(v_orgs, v_sessions, v_users) WITH ORDINALITY AS q(org, sid, uid, n)
            JOIN sessions s ON s.org_id = q.org AND s.id = q.sid AND s.user_id = q.uid
            JOIN users u ON u.id = s.user_id AND u.org_id = s.org_id
            JOIN organizations o ON o.id = s.org_id
            WHERE q.org = v_org
              AND s.revoked_at IS NULL AND s.expires_at > p_now
              AND s.last_seen_at > p_idle_after AND u.disabled_at IS NULL;
    END LOOP;
    PERFORM set_config('app.org_id', v_entry, true);
END
$$;
REVOKE ALL ON FUNCTION session_rows_many(JSON, BIGINT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_rows_many(JSON, BIGINT, BIGINT) TO pitchside_app;
