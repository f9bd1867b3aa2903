-- Indexes that could mislead lookups by external id. The unique keys
-- (org_id, connection_id, external_id) already serve every lookup by connection, so
-- the (org_id, connection_id) indexes on owners and pipelines go; the activities-by-deal
-- index puts deal_ext before connection_id, so a lookup by (org_id, connection_id,
-- external_id) never prefers it over the unique key while a table has no statistics.
DROP INDEX IF EXISTS crm_owners_org;
DROP INDEX IF EXISTS crm_pipelines_org;
DROP INDEX IF EXISTS crm_activities_deal;
CREATE INDEX crm_activities_deal ON crm_activities (org_id, deal_ext, connection_id, occurred_ms);

-- Statistics for the planner while a first sync loads a mirror table: until
-- autovacuum's analyze comes round, PostgreSQL has none and plans lookups by
-- (org, connection, external id) as scans of the whole connection. The application
-- role may not ANALYZE (it does not own the tables), so it asks the owner, for mirror
-- tables only.
CREATE FUNCTION crm_analyze(tbl text) RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public AS $$
BEGIN
    IF tbl NOT IN ('crm_owners', 'crm_pipelines', 'crm_stages', 'crm_companies', 'crm_contacts',
                   'crm_deals', 'crm_deal_contacts', 'crm_activities') THEN
        RAISE EXCEPTION 'crm_analyze: % is not a CRM mirror table', tbl;
    END IF;
    EXECUTE format('ANALYZE %I', tbl);
END
$$;
REVOKE ALL ON FUNCTION crm_analyze(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION crm_analyze(text) TO pitchside_app;
