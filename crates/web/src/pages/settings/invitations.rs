//! `POST /settings/invitations`: an admin (any seat) or a manager (reps, into a team
//! they manage) invites someone. The accept link is rendered on the page this POST
//! returns, never put in a redirect URL.

use axum::extract::State;
use axum::http::StatusCode;
use store::Scope;

use super::{InviteForm, Outcome, render};
use crate::api::invitations::create_invitation;
use crate::extract::PageViewer;
use crate::pages::common::{FormErrors, PageForm, PageResult};
use crate::pages::errors::conflict_text;
use crate::{ApiError, AppState};

const INVITE_LABELS: &[(&str, &str)] = &[("email", "Email"), ("seat", "Seat"), ("team_id", "Team")];

pub(crate) async fn create(
    State(state): State<AppState>,
    viewer: PageViewer,
    PageForm(form): PageForm<InviteForm>,
) -> PageResult {
    let scope = &viewer.scope;
    let (status, errors) = match invite(&state, scope, &form).await {
        Ok((email, link)) => {
            let outcome = Outcome {
                invite_link: Some(link),
                invite_sent_to: Some(email),
                ..Outcome::default()
            };
            return render(&state, scope, StatusCode::OK, outcome).await;
        }
        Err(ApiError::Validation(errors)) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            FormErrors::new(errors, INVITE_LABELS),
        ),
        Err(ApiError::Conflict(code)) => (
            StatusCode::CONFLICT,
            FormErrors::one("email", "Email", conflict_text(code)),
        ),
        Err(e) => return Err(e.into()),
    };
    let outcome = Outcome {
        invite_errors: errors,
        invite_form: form,
        ..Outcome::default()
    };
    render(&state, scope, status, outcome).await
}

/// Validate and create an invitation (the API's path); the invitee's email and the
/// accept link.
async fn invite(
    state: &AppState,
    scope: &Scope,
    form: &InviteForm,
) -> Result<(String, String), ApiError> {
    let team_id = Some(form.team_id.clone()).filter(|t| !t.is_empty());
    let (view, url) = create_invitation(state, scope, &form.email, &form.seat, team_id).await?;
    Ok((view.email, url))
}
