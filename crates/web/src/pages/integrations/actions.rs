//! The forms of Settings → Integrations: connect with a token, Sync now / Full
//! re-sync, disconnect, and owner mapping. Each redirects back with a fixed `?done=`
//! message; a refused token re-renders the page with the error next to the field.
//! An integration the viewer may not see is the fixed 404, whatever the form says.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;

use super::{Outcome, TokenFormState, render};
use crate::api::owners::set_mapping;
use crate::extract::PageViewer;
use crate::integrations::{self, check_token_connect};
use crate::pages::common::{FormErrors, PageForm, PageResult, PathId, see_other, ticked};
use crate::{ApiError, AppState};
use domain::FieldError;

const TOKEN_LABELS: &[(&str, &str)] = &[("provider", "CRM"), ("access_token", "Token")];
const SETTINGS_LABELS: &[(&str, &str)] = &[
    ("sync_interval_minutes", "Minutes between syncs"),
    ("quota_share_percent", "Share of the daily API budget"),
];

/// The token form. The token is used once and never shown again.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct TokenForm {
    provider: String,
    access_token: String,
}

/// `POST /settings/integrations`: connect with a pasted token (admins).
pub(crate) async fn connect_token(
    State(state): State<AppState>,
    viewer: PageViewer,
    PageForm(form): PageForm<TokenForm>,
) -> PageResult {
    let scope = &viewer.scope;
    super::may_view(scope)?;
    if !scope.is_admin() {
        return Err(
            ApiError::Forbidden("only an organization admin can manage integrations").into(),
        );
    }
    let checked = check_token_connect(&state, &form.provider, Some(&form.access_token), None, None);
    let result = match checked {
        Ok(request) => integrations::connect_with_token(&state, scope, request)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => Ok(see_other(
            "/settings/integrations?done=integration_connected",
        )),
        Err(ApiError::Validation(errors)) => {
            let outcome = Outcome {
                token_errors: FormErrors::new(errors, TOKEN_LABELS),
                token_form: TokenFormState {
                    provider: form.provider,
                },
                ..Outcome::default()
            };
            render(&state, scope, StatusCode::UNPROCESSABLE_ENTITY, outcome).await
        }
        Err(ApiError::BadGateway(why)) => {
            let outcome = Outcome {
                problems: vec![format!("{}.", capitalised(why))],
                token_form: TokenFormState {
                    provider: form.provider,
                },
                ..Outcome::default()
            };
            render(&state, scope, StatusCode::BAD_GATEWAY, outcome).await
        }
        Err(e) => Err(e.into()),
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The sync buttons: `full` is set by "Full re-sync".
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SyncForm {
    full: Option<String>,
}

/// `POST /settings/integrations/{id}/sync`.
pub(crate) async fn sync(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<String>,
    PageForm(form): PageForm<SyncForm>,
) -> PageResult {
    let full = ticked(form.full.as_deref());
    state.store.request_sync(&viewer.scope, &id, full).await?;
    Ok(see_other(if full {
        "/settings/integrations?done=full_sync_requested"
    } else {
        "/settings/integrations?done=sync_requested"
    }))
}

/// The schedule form: minutes between syncs and the share of the CRM's daily budget.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct SettingsForm {
    sync_interval_minutes: String,
    quota_share_percent: String,
}

/// `POST /settings/integrations/{id}/settings` (admins).
pub(crate) async fn settings(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<String>,
    PageForm(form): PageForm<SettingsForm>,
) -> PageResult {
    let scope = &viewer.scope;
    // What the viewer may not see is missing, whatever the form says.
    state.store.get_connection(scope, &id).await?;
    let mut errors = Vec::new();
    let mut number = |field: &str, raw: &str| match raw.trim() {
        "" => None,
        text => text.parse::<i64>().ok().or_else(|| {
            errors.push(FieldError::new(field, "must be a whole number"));
            None
        }),
    };
    let interval = number("sync_interval_minutes", &form.sync_interval_minutes);
    let share = number("quota_share_percent", &form.quota_share_percent);
    integrations::check_settings(interval, share, &mut errors);
    if errors.is_empty() {
        state
            .store
            .update_connection_settings(scope, &id, interval.map(|m| m * 60), share)
            .await?;
        return Ok(see_other(
            "/settings/integrations?done=integration_settings_saved",
        ));
    }
    let outcome = Outcome {
        problems: errors
            .into_iter()
            .map(|e| {
                let label = SETTINGS_LABELS
                    .iter()
                    .find(|(f, _)| *f == e.field)
                    .map_or("Schedule", |(_, l)| l);
                format!("{label} {}.", e.message)
            })
            .collect(),
        ..Outcome::default()
    };
    render(&state, scope, StatusCode::UNPROCESSABLE_ENTITY, outcome).await
}

/// The disconnect form.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct DisconnectForm {
    delete_data: Option<String>,
}

/// `POST /settings/integrations/{id}/disconnect`.
pub(crate) async fn disconnect(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<String>,
    PageForm(form): PageForm<DisconnectForm>,
) -> PageResult {
    let delete_data = ticked(form.delete_data.as_deref());
    integrations::disconnect(&state, &viewer.scope, &id, delete_data).await?;
    Ok(see_other(if delete_data {
        "/settings/integrations?done=integration_deleted"
    } else {
        "/settings/integrations?done=integration_disconnected"
    }))
}

/// One owner's mapping: `automatic`, `nobody`, or a member id.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(crate) struct OwnerForm {
    owner_id: String,
    mapping: String,
}

/// `POST /settings/integrations/{id}/owners`.
pub(crate) async fn map_owner(
    State(state): State<AppState>,
    viewer: PageViewer,
    PathId(id): PathId<String>,
    PageForm(form): PageForm<OwnerForm>,
) -> PageResult {
    let scope = &viewer.scope;
    // Visibility before anything the form says.
    state.store.get_connection(scope, &id).await?;
    let (mapping, user) = match form.mapping.as_str() {
        m @ ("automatic" | "nobody") => (m, None),
        user => ("user", Some(user)),
    };
    set_mapping(&state, scope, &id, &form.owner_id, Some(mapping), user).await?;
    Ok(see_other("/settings/integrations?done=owner_mapped"))
}
