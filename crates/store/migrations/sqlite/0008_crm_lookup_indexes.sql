-- Indexes that could mislead lookups by external id. The unique keys
-- (org_id, connection_id, external_id) already serve every lookup by connection, so
-- the (org_id, connection_id) indexes on owners and pipelines go; the activities-by-deal
-- index puts deal_ext before connection_id, so a lookup by (org_id, connection_id,
-- external_id) never prefers it over the unique key while a table has no statistics.
DROP INDEX IF EXISTS crm_owners_org;
DROP INDEX IF EXISTS crm_pipelines_org;
DROP INDEX IF EXISTS crm_activities_deal;
CREATE INDEX crm_activities_deal ON crm_activities (org_id, deal_ext, connection_id, occurred_ms);
