//! The authentication flows shared by the API and the pages: signup, login, invitation
//! accept, refresh, password change. Each returns tokens or an [`ApiError`]; the caller
//! decides whether that becomes JSON or a page.

use domain::{Email, PersonName, check_password};
use store::{AcceptInvitation, NewSignup, Org, Scope, SessionGrant, StoreError, User};
use vault::Purpose;

use crate::extract::ClientInfo;
use crate::{ApiError, AppState};

/// What a successful login, signup or accept hands back.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub refresh_max_age: i64,
    pub session_id: String,
}

/// Input of a signup.
#[derive(Debug, Clone, Default)]
pub struct SignupInput {
    pub organization_name: String,
    pub name: String,
    pub email: String,
    pub password: String,
    pub confirm_over_18: bool,
}

/// Validate and create an organization with its first user, and log them in.
pub async fn signup(
    state: &AppState,
    input: SignupInput,
    client: &ClientInfo,
) -> Result<(Org, User, Tokens), ApiError> {
    let mut errors = Vec::new();
    let org_name = PersonName::parse(&input.organization_name)
        .map_err(|m| errors.push(domain::FieldError::new("organization_name", m)))
        .ok();
    let name = PersonName::parse(&input.name)
        .map_err(|m| errors.push(domain::FieldError::new("name", m)))
        .ok();
    let email = Email::parse(&input.email)
        .map_err(|m| errors.push(domain::FieldError::new("email", m)))
        .ok();
    if let Err(e) = check_password(&input.password, &input.email) {
        errors.push(domain::FieldError::new("password", e.to_string()));
    }
    if !input.confirm_over_18 {
        errors.push(domain::FieldError::new(
            "confirm_over_18",
            "you must confirm that you are 18 or older",
        ));
    }
    let (Some(org_name), Some(name), Some(email), true) =
        (org_name, name, email, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    let password_hash = state
        .hasher
        .hash(&input.password)
        .await
        .map_err(|_| ApiError::Internal)?;
    let (org, user) = state
        .store
        .signup(NewSignup {
            organization_name: org_name.into_string(),
            industry: String::new(),
            time_zone: "UTC".into(),
            name: name.into_string(),
            email,
            password_hash,
            origin: client.origin(),
        })
        .await?;
    let grant = state
        .store
        .create_session(org.id, user.id, &client.origin(), "signup")
        .await?;
    let tokens = issue(state, &grant)?;
    Ok((org, user, tokens))
}

/// Check credentials and open a session. Unknown emails, wrong passwords and disabled
/// accounts are indistinguishable (same error, a bcrypt verify in every case); after
/// five consecutive failures an email is locked for fifteen minutes, right password or
/// not.
pub async fn login(
    state: &AppState,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<Tokens, ApiError> {
    let key = email.trim().to_lowercase();
    if key.is_empty() || key.len() > 254 {
        state.hasher.verify_dummy(password).await;
        return Err(ApiError::Unauthorized);
    }
    if let Some(remaining) = state.store.lockout_remaining(&key).await? {
        return Err(ApiError::TooManyRequests {
            retry_after: remaining.max(1) as u64,
        });
    }
    let candidate = match Email::parse(&key) {
        Ok(parsed) => state.store.login_candidate(&parsed).await?,
        Err(_) => None,
    };
    // bcrypt ignores bytes past 72: a longer password can never be ours (we refuse to
    // set one), so it fails even if its first 72 bytes match.
    let too_long = password.len() > domain::password::MAX_BYTES;
    let ok = match &candidate {
        Some(c) => {
            state.hasher.verify(password, &c.password_hash).await && !c.disabled && !too_long
        }
        None => {
            state.hasher.verify_dummy(password).await;
            false
        }
    };
    let who = candidate.as_ref().map(|c| (c.org_id, c.user_id));
    let Some(candidate) = candidate.filter(|_| ok) else {
        if let Some(locked_for) = state
            .store
            .record_login_failure(&key, who, &client.origin())
            .await?
        {
            tracing::warn!(
                lockout_secs = locked_for,
                "login locked after repeated failures"
            );
        }
        return Err(ApiError::Unauthorized);
    };
    state.store.clear_login_failures(&key).await?;
    let grant = state
        .store
        .create_session(
            candidate.org_id,
            candidate.user_id,
            &client.origin(),
            "login",
        )
        .await?;
    issue(state, &grant)
}

/// Exchange a refresh token for a new access token and a rotated refresh token.
pub async fn refresh(
    state: &AppState,
    refresh_token: &str,
    client: &ClientInfo,
) -> Result<Tokens, ApiError> {
    let claims = state
        .keys
        .verify(refresh_token, Purpose::Refresh)
        .map_err(|_| ApiError::Unauthorized)?;
    let grant = state
        .store
        .rotate_refresh(
            &claims.org,
            &claims.sub,
            &claims.sid,
            &claims.jti,
            &client.origin(),
        )
        .await?;
    issue(state, &grant)
}

/// Input of an invitation accept.
#[derive(Debug, Clone, Default)]
pub struct AcceptInput {
    pub name: String,
    pub password: String,
    pub confirm_over_18: bool,
}

/// The invitation a token names, if it is valid, unused and unexpired.
pub async fn invitation(
    state: &AppState,
    token: &str,
) -> Result<(store::Invitation, Org), ApiError> {
    let claims = state
        .keys
        .verify(token, Purpose::Invitation)
        .map_err(|_| ApiError::NotFound)?;
    Ok(state
        .store
        .pending_invitation(&claims.org, &claims.sub)
        .await?)
}

/// Accept an invitation: create the account and log in.
pub async fn accept(
    state: &AppState,
    token: &str,
    input: AcceptInput,
    client: &ClientInfo,
) -> Result<(Org, User, Tokens), ApiError> {
    let (invitation, _) = invitation(state, token).await?;
    let mut errors = Vec::new();
    let name = PersonName::parse(&input.name)
        .map_err(|m| errors.push(domain::FieldError::new("name", m)))
        .ok();
    if let Err(e) = check_password(&input.password, &invitation.email) {
        errors.push(domain::FieldError::new("password", e.to_string()));
    }
    if !input.confirm_over_18 {
        errors.push(domain::FieldError::new(
            "confirm_over_18",
            "you must confirm that you are 18 or older",
        ));
    }
    let (Some(name), true) = (name, errors.is_empty()) else {
        return Err(ApiError::Validation(errors));
    };
    let password_hash = state
        .hasher
        .hash(&input.password)
        .await
        .map_err(|_| ApiError::Internal)?;
    let (org, user) = state
        .store
        .accept_invitation(
            &invitation.org_id.to_string(),
            &invitation.id.to_string(),
            AcceptInvitation {
                name: name.into_string(),
                password_hash,
                origin: client.origin(),
            },
        )
        .await?;
    let grant = state
        .store
        .create_session(org.id, user.id, &client.origin(), "invitation")
        .await?;
    let tokens = issue(state, &grant)?;
    Ok((org, user, tokens))
}

/// Change the viewer's password. Every session of theirs is revoked; with
/// `keep_signed_in` (a browser) a fresh one is opened so the browser that made the
/// change stays signed in, else (an API client) none is.
pub async fn change_password(
    state: &AppState,
    scope: &Scope,
    current: &str,
    new: &str,
    client: &ClientInfo,
    keep_signed_in: bool,
) -> Result<Option<Tokens>, ApiError> {
    let hash = state.store.own_password_hash(scope).await?;
    if current.len() > domain::password::MAX_BYTES || !state.hasher.verify(current, &hash).await {
        return Err(ApiError::field(
            "current_password",
            "the current password is not correct",
        ));
    }
    check_password(new, scope.email())
        .map_err(|e| ApiError::field("new_password", e.to_string()))?;
    let new_hash = state
        .hasher
        .hash(new)
        .await
        .map_err(|_| ApiError::Internal)?;
    state.store.change_own_password(scope, &new_hash).await?;
    if !keep_signed_in {
        return Ok(None);
    }
    let grant = state
        .store
        .create_session(
            scope.org_id(),
            scope.user_id(),
            &client.origin(),
            "password_change",
        )
        .await?;
    issue(state, &grant).map(Some)
}

/// Sign the access and refresh tokens of a session.
fn issue(state: &AppState, grant: &SessionGrant) -> Result<Tokens, ApiError> {
    let ttl = state.config.access_ttl_secs.min(900);
    let (user, org, sid) = (
        grant.user_id.to_string(),
        grant.org_id.to_string(),
        grant.session_id.to_string(),
    );
    let (access_token, _) = state
        .keys
        .issue(
            Purpose::Access,
            &user,
            &org,
            &sid,
            &vault::random_token(12),
            ttl,
        )
        .map_err(|_| ApiError::Internal)?;
    let now = state.store.clock().now();
    let refresh_ttl = (grant.expires_at - now).max(1);
    let (refresh_token, _) = state
        .keys
        .issue(
            Purpose::Refresh,
            &user,
            &org,
            &sid,
            &grant.refresh_jti,
            refresh_ttl as u64,
        )
        .map_err(|_| ApiError::Internal)?;
    Ok(Tokens {
        access_token,
        expires_in: ttl,
        refresh_token,
        refresh_max_age: refresh_ttl,
        session_id: sid,
    })
}

/// The `Set-Cookie` value carrying a session's refresh token.
pub(crate) fn session_cookie(state: &AppState, tokens: &Tokens) -> String {
    state.config.cookie(
        state.config.session_cookie(),
        &tokens.refresh_token,
        tokens.refresh_max_age,
    )
}

/// A `Set-Cookie` value deleting the session cookie.
pub(crate) fn clear_session_cookie(state: &AppState) -> String {
    state.config.cookie(state.config.session_cookie(), "", 0)
}

/// Sign an invitation link token.
pub(crate) fn invitation_token(
    state: &AppState,
    org: &str,
    invitation: &str,
    ttl: i64,
) -> Result<String, StoreError> {
    state
        .keys
        .issue(
            Purpose::Invitation,
            invitation,
            org,
            "",
            &vault::random_token(8),
            ttl.max(1) as u64,
        )
        .map(|(t, _)| t)
        .map_err(|_| StoreError::Config("could not sign the invitation".into()))
}
