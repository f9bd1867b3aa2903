//! Settings → Integrations: the organization's CRM connections with their status,
//! schedule, quota and last runs; for admins, Sync now / Full re-sync, disconnect (with
//! "also delete synced data"), owner mapping, and connecting (OAuth where an app is
//! configured, or a pasted HubSpot private-app / Pipedrive API token).
//!
//! Admins and executives see the page; anyone else gets the fixed 404, as the API
//! answers them. Nothing on the page carries a token: the token field is never filled
//! back in, even when the form is shown again with an error.

mod actions;
pub(super) mod oauth;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use domain::Seat;
use domain::crm::Provider;
use store::Scope;
use store::crm::{AuthKind, ConnectionStatus, OwnerMapping};

pub(super) use actions::{connect_token, disconnect, map_owner, settings, sync};

use super::common::{Choice, Chrome, FormErrors, PageResult, all_users, done_message, when};
use crate::extract::PageViewer;
use crate::integrations::{self, Detail};
use crate::{ApiError, AppState};

/// Runs listed per integration.
const RUNS_SHOWN: u32 = 5;

pub(super) struct RunItem {
    started: String,
    trigger: String,
    status: String,
    read: u64,
    created: u64,
    updated: u64,
    deleted: u64,
    skipped: u64,
    requests: u64,
    throttled: u64,
    duration: String,
    error: Option<String>,
}

pub(super) struct OwnerItem {
    id: String,
    name: String,
    email: String,
    /// The `<select>` value now in force: `automatic`, `nobody` or a member id.
    current: String,
    /// Who the owner's records belong to, in words.
    effective: String,
}

pub(super) struct IntegrationItem {
    id: String,
    provider: &'static str,
    auth: &'static str,
    status: &'static str,
    warn: bool,
    disconnected: bool,
    status_reason: Option<String>,
    extra_scopes: String,
    created: String,
    last_success: Option<String>,
    next_sync: Option<String>,
    running: bool,
    full_pending: bool,
    quota_used: u64,
    quota_limit: Option<u64>,
    quota_budget: Option<u64>,
    share: i64,
    interval_minutes: i64,
    runs: Vec<RunItem>,
    owners: Vec<OwnerItem>,
}

/// A connection that needs a person (the banner).
pub(crate) struct Attention {
    pub(crate) provider: &'static str,
    pub(crate) status: &'static str,
    pub(crate) reason: Option<String>,
    /// Scopes granted beyond read-only, comma-separated (empty if none).
    pub(crate) extra_scopes: String,
}

impl Attention {
    /// The banner items of the viewer's organization (none for viewers who may not
    /// see integrations).
    pub(crate) async fn load(
        state: &AppState,
        scope: &Scope,
    ) -> Result<Vec<Self>, store::StoreError> {
        Ok(integrations::attention(state, scope)
            .await?
            .into_iter()
            .map(|c| Attention {
                provider: c.provider.label(),
                status: status_label(c.status),
                reason: c.status_reason,
                extra_scopes: c.extra_scopes.join(", "),
            })
            .collect())
    }
}

pub(super) struct ProviderItem {
    slug: &'static str,
    label: &'static str,
    oauth: bool,
}

/// The token form as typed (never the token itself).
#[derive(Default)]
pub(super) struct TokenFormState {
    provider: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "integrations.html")]
struct IntegrationsPage {
    chrome: Chrome,
    notice: Option<&'static str>,
    problems: Vec<String>,
    is_admin: bool,
    items: Vec<IntegrationItem>,
    attention: Vec<Attention>,
    providers: Vec<ProviderItem>,
    token_providers: Vec<Choice>,
    token_form: TokenFormState,
    token_errors: FormErrors,
    members: Vec<Choice>,
}

/// What the last action left to show.
#[derive(Default)]
pub(super) struct Outcome {
    notice: Option<&'static str>,
    problems: Vec<String>,
    token_form: TokenFormState,
    token_errors: FormErrors,
}

/// Only admins and executives see integrations; anyone else gets the one 404.
pub(super) fn may_view(scope: &Scope) -> Result<(), ApiError> {
    if scope.is_admin() || scope.seat() == Seat::Executive {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

pub(crate) fn status_label(status: ConnectionStatus) -> &'static str {
    match status {
        ConnectionStatus::Active => "Active",
        ConnectionStatus::Unhealthy => "Failing",
        ConnectionStatus::NeedsReconnect => "Needs reconnecting",
        ConnectionStatus::Paused => "Paused for today",
        ConnectionStatus::Disconnected => "Disconnected",
    }
}

fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn owner_item(o: OwnerMapping, members: &[Choice]) -> OwnerItem {
    let name_of = |id: &str| {
        members
            .iter()
            .find(|m| m.value == id)
            .map_or_else(|| "A member you cannot see".to_owned(), |m| m.label.clone())
    };
    let user = o.user_id.map(|u| u.to_string());
    OwnerItem {
        current: match &o.manual {
            None => "automatic".to_owned(),
            Some(None) => "nobody".to_owned(),
            Some(Some(u)) => u.to_string(),
        },
        effective: match (&user, &o.manual) {
            (Some(u), None) => format!("{} (matched by email)", name_of(u)),
            (Some(u), Some(_)) => name_of(u),
            (None, Some(None)) => "Nobody (executives only)".to_owned(),
            (None, _) => "Nobody yet: no member has this email".to_owned(),
        },
        id: o.id,
        name: o.name,
        email: o.email.unwrap_or_default(),
    }
}

fn item(d: Detail, owners: Vec<OwnerMapping>, members: &[Choice]) -> IntegrationItem {
    let c = d.connection;
    IntegrationItem {
        provider: c.provider.label(),
        auth: match c.auth_kind {
            AuthKind::OAuth => "OAuth",
            AuthKind::Token => "API token",
        },
        status: status_label(c.status),
        warn: integrations::needs_attention(&c),
        disconnected: c.status == ConnectionStatus::Disconnected,
        status_reason: c.status_reason,
        extra_scopes: c.extra_scopes.join(", "),
        created: when(c.created_at),
        last_success: c.last_success_at.map(when),
        next_sync: d.next_sync_at.map(when),
        running: d.running,
        full_pending: c.full_resync,
        quota_used: d.quota.used,
        quota_limit: d.daily_limit,
        quota_budget: d.budget,
        share: c.quota_share_pct,
        interval_minutes: c.sync_interval_secs / 60,
        runs: d
            .runs
            .into_iter()
            .map(|r| {
                let t = r.stats.total();
                RunItem {
                    started: when(r.started_at),
                    trigger: r.trigger,
                    status: r.status,
                    read: t.read,
                    created: t.created,
                    updated: t.updated,
                    deleted: t.deleted,
                    skipped: t.skipped,
                    requests: r.stats.requests,
                    throttled: r.stats.throttled,
                    duration: r
                        .finished_at
                        .map_or_else(|| "running".to_owned(), |f| duration(f - r.started_at)),
                    error: r.error,
                }
            })
            .collect(),
        owners: owners.into_iter().map(|o| owner_item(o, members)).collect(),
        id: c.id,
    }
}

/// Render the page as the viewer sees it, with what the last action left.
pub(super) async fn render(
    state: &AppState,
    scope: &Scope,
    status: StatusCode,
    outcome: Outcome,
) -> PageResult {
    may_view(scope)?;
    let members: Vec<Choice> = all_users(state, scope)
        .await?
        .into_iter()
        .map(|u| Choice {
            value: u.id.to_string(),
            label: u.name,
        })
        .collect();
    let mut items = Vec::new();
    for connection in state.store.list_connections(scope).await? {
        let owners = state.store.list_owners(scope, &connection.id).await?;
        let detail = integrations::detail(state, scope, connection, RUNS_SHOWN).await?;
        items.push(item(detail, owners, &members));
    }
    let attention = items
        .iter()
        .filter(|i| i.warn)
        .map(|i| Attention {
            provider: i.provider,
            status: i.status,
            reason: i.status_reason.clone(),
            extra_scopes: i.extra_scopes.clone(),
        })
        .collect();
    let page = IntegrationsPage {
        chrome: Chrome::new(state, scope, "settings"),
        notice: outcome.notice,
        problems: outcome.problems,
        is_admin: scope.is_admin(),
        attention,
        items,
        providers: Provider::ALL
            .into_iter()
            .map(|p| ProviderItem {
                slug: p.as_str(),
                label: p.label(),
                oauth: state.crm.oauth_app(p).is_some(),
            })
            .collect(),
        token_providers: [Provider::Hubspot, Provider::Pipedrive]
            .into_iter()
            .map(|p| Choice {
                value: p.as_str().to_owned(),
                label: p.label().to_owned(),
            })
            .collect(),
        token_form: outcome.token_form,
        token_errors: outcome.token_errors,
        members,
    };
    Ok((status, page).into_response())
}

/// `GET /settings/integrations`.
pub(super) async fn index(
    State(state): State<AppState>,
    viewer: PageViewer,
    RawQuery(query): RawQuery,
) -> PageResult {
    let outcome = Outcome {
        notice: done_message(query.as_deref()),
        ..Outcome::default()
    };
    render(&state, &viewer.scope, StatusCode::OK, outcome).await
}
