-- The organizations' two versions (migration 0009) for a batch of session checks, with
-- less work per call than session_versions(JSON): the ids come as one comma-separated
-- text (organization ids are UUIDs; the caller sends each once) and are walked with
-- FOREACH instead of a JSON set-returning query with DISTINCT. Measured with pgbench
-- (2 clients, prepared, as pitchside_app, one organization): 17.8-17.9k calls/s for
-- session_versions against 21.3-22.9k for this one (docs/benchmarks.md).
--
-- Same rules as session_versions: SECURITY INVOKER, so FORCEd row-level security
-- applies; each organization is read under its own app.org_id; inside a transaction
-- that already works for another organization it raises; app.org_id is left as found.
-- session_versions(JSON) stays for instances of the previous release during a rolling
-- upgrade.
CREATE FUNCTION session_versions_of(p_orgs TEXT)
RETURNS TABLE (org_id TEXT, auth_version BIGINT, directory_version BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    v_entry TEXT := coalesce(current_setting('app.org_id', true), '');
    v_org TEXT;
BEGIN
    FOREACH v_org IN ARRAY coalesce(string_to_array(p_orgs, ','), '{}') LOOP
        CONTINUE WHEN v_org = '';
        IF v_entry NOT IN ('', v_org) THEN
            RAISE EXCEPTION 'session_versions_of: the transaction belongs to another organization';
        END IF;
        PERFORM set_config('app.org_id', v_org, true);
        RETURN QUERY
            SELECT o.id, o.auth_version, o.directory_version FROM organizations o
            WHERE o.id = v_org;
    END LOOP;
    PERFORM set_config('app.org_id', v_entry, true);
END
$$;
REVOKE ALL ON FUNCTION session_versions_of(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION session_versions_of(TEXT) TO pitchside_app;
