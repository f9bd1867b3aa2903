-- CRM data in (issue 4): connections, their sealed tokens, sync checkpoints and runs,
-- quota use, the mirrored canonical records, and the job queue that drives syncs.
-- Every mirrored record keeps (connection_id, external_id) unique, its provider
-- modification time (`updated_ms`, newest wins), the provider payload sealed in the
-- crm_records domain (`raw_sealed`), and the full pass that last saw it (`seen_pass`,
-- so a completed full pass can delete what the CRM no longer has).

CREATE TABLE crm_connections (
    id                   TEXT PRIMARY KEY,
    org_id               TEXT NOT NULL REFERENCES organizations (id),
    provider             TEXT NOT NULL CHECK (provider IN ('hubspot', 'salesforce', 'pipedrive')),
    auth_kind            TEXT NOT NULL CHECK (auth_kind IN ('oauth', 'token')),
    api_base             TEXT NOT NULL,
    status               TEXT NOT NULL CHECK (status IN ('active', 'unhealthy', 'needs_reconnect', 'paused', 'disconnected')),
    status_reason        TEXT,
    extra_scopes         TEXT,
    sync_interval_secs   BIGINT NOT NULL,
    quota_share_pct      BIGINT NOT NULL,
    consecutive_failures BIGINT NOT NULL DEFAULT 0,
    full_resync          INTEGER NOT NULL DEFAULT 0,
    created_by           TEXT NOT NULL REFERENCES users (id),
    created_at           BIGINT NOT NULL,
    updated_at           BIGINT NOT NULL,
    last_success_at      BIGINT
);
CREATE INDEX crm_connections_org ON crm_connections (org_id, id);

CREATE TABLE crm_tokens (
    id             TEXT PRIMARY KEY REFERENCES crm_connections (id) ON DELETE CASCADE,
    org_id         TEXT NOT NULL REFERENCES organizations (id),
    access_sealed  TEXT NOT NULL,
    access_key_id  TEXT NOT NULL,
    refresh_sealed TEXT,
    refresh_key_id TEXT,
    expires_at     BIGINT,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX crm_tokens_org ON crm_tokens (org_id, id);

-- OAuth `state` values in flight: bound to the session, org and provider, single use,
-- ten minutes (OA-01). The row id is SHA-256 of the state; the PKCE verifier is sealed.
CREATE TABLE oauth_states (
    id              TEXT PRIMARY KEY,
    org_id          TEXT NOT NULL REFERENCES organizations (id),
    session_id      TEXT NOT NULL,
    user_id         TEXT NOT NULL REFERENCES users (id),
    provider        TEXT NOT NULL,
    verifier_sealed TEXT,
    verifier_key_id TEXT,
    expires_at      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL
);
CREATE INDEX oauth_states_org ON oauth_states (org_id, expires_at);

CREATE TABLE crm_checkpoints (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    state         TEXT NOT NULL,
    pass_id       TEXT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, connection_id, kind)
);

CREATE TABLE crm_sync_runs (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    trigger_kind  TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'paused', 'interrupted')),
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT,
    stats         TEXT NOT NULL,
    requests      BIGINT NOT NULL DEFAULT 0,
    throttled     BIGINT NOT NULL DEFAULT 0,
    error         TEXT
);
CREATE INDEX crm_sync_runs_conn ON crm_sync_runs (org_id, connection_id, started_at);

CREATE TABLE crm_quota (
    org_id             TEXT NOT NULL REFERENCES organizations (id),
    connection_id      TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    day                TEXT NOT NULL,
    used               BIGINT NOT NULL,
    daily_limit        BIGINT,
    provider_used      BIGINT,
    provider_remaining BIGINT,
    PRIMARY KEY (org_id, connection_id, day)
);

CREATE TABLE crm_owners (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    email         TEXT,
    name          TEXT NOT NULL,
    active        INTEGER NOT NULL,
    -- The Pitchside user this owner is: `user_override` when an admin set one (the
    -- value 'none' maps to nobody), else the user with the same email.
    user_id       TEXT REFERENCES users (id),
    user_override TEXT,
    updated_ms    BIGINT NOT NULL,
    raw_sealed    TEXT NOT NULL,
    raw_key_id    TEXT NOT NULL,
    synced_at     BIGINT NOT NULL,
    seen_pass     TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_owners_org ON crm_owners (org_id, connection_id);
CREATE INDEX crm_owners_user ON crm_owners (org_id, user_id);

CREATE TABLE crm_pipelines (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    label         TEXT NOT NULL,
    display_order BIGINT NOT NULL,
    updated_ms    BIGINT NOT NULL,
    raw_sealed    TEXT NOT NULL,
    raw_key_id    TEXT NOT NULL,
    synced_at     BIGINT NOT NULL,
    seen_pass     TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_pipelines_org ON crm_pipelines (org_id, connection_id);

CREATE TABLE crm_stages (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    pipeline_ext  TEXT NOT NULL,
    external_id   TEXT NOT NULL,
    label         TEXT NOT NULL,
    display_order BIGINT NOT NULL,
    probability   DOUBLE PRECISION,
    is_closed     INTEGER NOT NULL,
    is_won        INTEGER NOT NULL,
    PRIMARY KEY (org_id, connection_id, pipeline_ext, external_id)
);

CREATE TABLE crm_companies (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    domain        TEXT,
    industry      TEXT,
    owner_ext     TEXT,
    updated_ms    BIGINT NOT NULL,
    raw_sealed    TEXT NOT NULL,
    raw_key_id    TEXT NOT NULL,
    synced_at     BIGINT NOT NULL,
    seen_pass     TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_companies_org ON crm_companies (org_id, id);

CREATE TABLE crm_contacts (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    name          TEXT NOT NULL,
    email         TEXT,
    phone         TEXT,
    title         TEXT,
    owner_ext     TEXT,
    company_ext   TEXT,
    updated_ms    BIGINT NOT NULL,
    raw_sealed    TEXT NOT NULL,
    raw_key_id    TEXT NOT NULL,
    synced_at     BIGINT NOT NULL,
    seen_pass     TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_contacts_org ON crm_contacts (org_id, id);

CREATE TABLE crm_deals (
    id                TEXT PRIMARY KEY,
    org_id            TEXT NOT NULL REFERENCES organizations (id),
    connection_id     TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id       TEXT NOT NULL,
    name              TEXT NOT NULL,
    amount            TEXT,
    amount_scaled     BIGINT,
    currency          TEXT,
    pipeline_ext      TEXT,
    stage_ext         TEXT,
    close_date        TEXT,
    owner_ext         TEXT,
    company_ext       TEXT,
    created_ms        BIGINT,
    closed_ms         BIGINT,
    is_closed         INTEGER,
    is_won            INTEGER,
    next_step         TEXT,
    forecast_category TEXT,
    stage_history     TEXT,
    updated_ms        BIGINT NOT NULL,
    raw_sealed        TEXT NOT NULL,
    raw_key_id        TEXT NOT NULL,
    synced_at         BIGINT NOT NULL,
    seen_pass         TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_deals_org ON crm_deals (org_id, id);
CREATE INDEX crm_deals_owner ON crm_deals (org_id, owner_ext);

CREATE TABLE crm_deal_contacts (
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    deal_ext      TEXT NOT NULL,
    contact_ext   TEXT NOT NULL,
    PRIMARY KEY (org_id, connection_id, deal_ext, contact_ext)
);

CREATE TABLE crm_activities (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id),
    connection_id TEXT NOT NULL REFERENCES crm_connections (id) ON DELETE CASCADE,
    external_id   TEXT NOT NULL,
    activity_type TEXT NOT NULL,
    direction     TEXT,
    occurred_ms   BIGINT,
    owner_ext     TEXT,
    duration_secs BIGINT,
    outcome       TEXT,
    subject       TEXT,
    body_sealed   TEXT,
    body_key_id   TEXT,
    deal_ext      TEXT,
    contact_ext   TEXT,
    company_ext   TEXT,
    updated_ms    BIGINT NOT NULL,
    raw_sealed    TEXT NOT NULL,
    raw_key_id    TEXT NOT NULL,
    synced_at     BIGINT NOT NULL,
    seen_pass     TEXT NOT NULL,
    UNIQUE (org_id, connection_id, external_id)
);
CREATE INDEX crm_activities_org ON crm_activities (org_id, id);
CREATE INDEX crm_activities_deal ON crm_activities (org_id, connection_id, deal_ext, occurred_ms);
CREATE INDEX crm_activities_owner ON crm_activities (org_id, owner_ext, occurred_ms);

-- The job queue (global: ids and schedules only, no tenant data). One row per
-- recurring job (`key` unique, e.g. crm_sync:<connection>); a worker leases it, the
-- lease is renewed with every page, and a lease that lapses (a crashed instance) lets
-- another worker take over from the last checkpoint.
CREATE TABLE jobs (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL,
    kind         TEXT NOT NULL,
    job_key      TEXT NOT NULL UNIQUE,
    payload      TEXT NOT NULL,
    run_at       BIGINT NOT NULL,
    requested_at BIGINT,
    lease_owner  TEXT,
    lease_until  BIGINT,
    claimed_at   BIGINT,
    attempts     BIGINT NOT NULL DEFAULT 0,
    last_error   TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX jobs_due ON jobs (run_at);
