-- The session checks of several concurrent requests in one round trip (see
-- src/session_batch.rs). p_batch is a JSON array of [org, session, user] triples; the
-- answer carries each triple's 1-based position as `slot`, and only the sessions that
-- pass (the same conditions as session_check). Row-level security applies exactly as
-- in session_check: the function runs as the caller and reads each organization's
-- rows with app.org_id set to that organization, one organization at a time. Inside a
-- transaction that already works for a tenant it refuses any other organization, and
-- it leaves app.org_id as it found it.
CREATE FUNCTION session_check_many(p_batch JSON, p_now BIGINT, p_idle_after BIGINT)
RETURNS TABLE (
    slot BIGINT, id TEXT, org_id TEXT, name TEXT, email TEXT, seat TEXT, team_id TEXT,
    is_admin INTEGER, session_id TEXT, refresh_jti TEXT, last_seen_at BIGINT,
    directory_version BIGINT
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
            RAISE EXCEPTION 'session_check_many: the transaction belongs to another organization';
        END IF;
        PERFORM set_config('app.org_id', v_org, true);
        RETURN QUERY
            SELECT q.n, u.id, u.org_id, u.name, u.email, u.seat, u.team_id, u.is_admin,
                   s.id, s.refresh_jti, s.last_seen_at, o.directory_version
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
REVOKE ALL ON FUNCTION session_check_many(JSON, BIGINT, BIGINT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_check_many(JSON, BIGINT, BIGINT) TO pitchside_app;
