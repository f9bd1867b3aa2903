//! Invitations: an admin (any seat, any team) or a manager (reps, into a team they
//! manage) invites someone by email. The invitation row records the seat and team; the
//! link carries a signed token naming the row; accepting is single-use and expires.

use domain::{Email, InvitationId, Seat, TeamId, UserId};

use crate::audit::{Actor, Event, append};
use crate::auth::{NewUserRow, fetch_org, fetch_user, insert_user};
use crate::teams::visible_team;
use crate::{Invitation, Org, Origin, Page, PageRequest, Scope, Store, StoreError, User};
use serde_json::json;

/// How long an invitation link stays valid.
pub const INVITATION_TTL_SECS: i64 = 7 * 24 * 3600;

/// A new invitation.
#[derive(Debug, Clone)]
pub struct NewInvitation {
    pub email: Email,
    pub seat: Seat,
    pub team_id: Option<TeamId>,
}

/// The accepting person's details.
#[derive(Debug)]
pub struct AcceptInvitation {
    pub name: String,
    pub password_hash: String,
    pub origin: Origin,
}

impl Store {
    /// Create an invitation and queue its email in the outbox, in one transaction.
    /// `link` builds the accept URL from the new invitation's id (the caller signs it).
    pub async fn create_invitation(
        &self,
        scope: &Scope,
        new: NewInvitation,
        link: impl FnOnce(InvitationId, i64) -> Result<String, StoreError>,
    ) -> Result<(Invitation, String), StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        if let Some(team) = new.team_id {
            visible_team(&mut tx, scope, team)
                .await
                .map_err(|_| StoreError::invalid("team_id", "no such team in this organization"))?;
        }
        if !scope.is_admin {
            if scope.seat != Seat::Manager {
                return Err(StoreError::Forbidden(
                    "only admins and managers can invite people",
                ));
            }
            if new.seat != Seat::Rep {
                return Err(StoreError::invalid("seat", "managers can invite reps only"));
            }
            let Some(team) = new.team_id else {
                return Err(StoreError::invalid(
                    "team_id",
                    "choose one of the teams you manage",
                ));
            };
            let managed = domain::managed_teams(
                &crate::teams::team_edges(&mut tx, scope).await?,
                scope.user_id,
            );
            if !managed.contains(&team) {
                return Err(StoreError::invalid(
                    "team_id",
                    "choose one of the teams you manage",
                ));
            }
        }
        let taken: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_logins WHERE email = $1")
            .bind(new.email.as_str().to_owned())
            .fetch_one(&mut *tx)
            .await?;
        if taken > 0 {
            return Err(StoreError::Conflict("email_taken"));
        }
        let id = InvitationId::new();
        let now = self.clock.now();
        let expires_at = now + INVITATION_TTL_SECS;
        let url = link(id, expires_at)?;
        sqlx::query(
            "INSERT INTO invitations (id, org_id, email, seat, team_id, invited_by, expires_at, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id.to_string())
        .bind(scope.org())
        .bind(new.email.as_str().to_owned())
        .bind(new.seat.as_str())
        .bind(new.team_id.map(|t| t.to_string()))
        .bind(scope.user())
        .bind(expires_at)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let org = fetch_org(&mut tx, scope.org_id).await?;
        sqlx::query(
            "INSERT INTO outbox_emails (id, org_id, kind, to_address, subject, body_text, created_at) \
             VALUES ($1, $2, 'invitation', $3, $4, $5, $6)",
        )
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(scope.org())
        .bind(new.email.as_str().to_owned())
        .bind(format!("{} invited you to {} on Pitchside", scope.name, org.name))
        .bind(format!(
            "{} invited you to join {} on Pitchside as a {}.\n\nAccept within 7 days:\n{url}\n",
            scope.name,
            org.name,
            new.seat.label()
        ))
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let invitation = fetch_invitation(&mut tx, &scope.org(), id).await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "invitation.created")
                .target("invitation", id)
                .detail(json!({
                    "seat": new.seat.as_str(),
                    "team_id": new.team_id.map(|t| t.to_string()),
                })),
        )
        .await?;
        tx.commit().await?;
        Ok((invitation, url))
    }

    /// Pending invitations this viewer sent (admins: all of the organization's).
    pub async fn list_invitations(
        &self,
        scope: &Scope,
        page: &PageRequest,
    ) -> Result<Page<Invitation>, StoreError> {
        let sql = format!(
            "SELECT {} FROM invitations WHERE org_id = $1 AND ($2 = 1 OR invited_by = $3) \
             AND accepted_at IS NULL AND id > $4 ORDER BY id LIMIT $5",
            Invitation::COLUMNS
        );
        let mut tx = self.org_read(&scope.org()).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(i64::from(scope.is_admin))
            .bind(scope.user())
            .bind(page.after_or_start())
            .bind(page.fetch())
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let items = rows
            .iter()
            .map(Invitation::from_row)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page::from_rows(items, page.limit, |i| i.id.to_string()))
    }

    /// Look up an invitation named by a verified token, to show the accept page.
    /// Used, expired and unknown invitations are all NotFound.
    pub async fn pending_invitation(
        &self,
        org_id: &str,
        id: &str,
    ) -> Result<(Invitation, Org), StoreError> {
        let id: InvitationId = id.parse().map_err(|_| StoreError::NotFound)?;
        let mut tx = self.org_read(org_id).await?;
        let invitation = fetch_invitation(&mut tx, org_id, id).await?;
        if invitation.accepted_at.is_some() || invitation.expires_at <= self.clock.now() {
            return Err(StoreError::NotFound);
        }
        let org = fetch_org(&mut tx, invitation.org_id).await?;
        tx.commit().await?;
        Ok((invitation, org))
    }

    /// Accept an invitation: create the user, mark the invitation used. Single use even
    /// under concurrent accepts (the conditional UPDATE decides the winner).
    pub async fn accept_invitation(
        &self,
        org_id: &str,
        id: &str,
        accept: AcceptInvitation,
    ) -> Result<(Org, User), StoreError> {
        let id: InvitationId = id.parse().map_err(|_| StoreError::NotFound)?;
        let now = self.clock.now();
        let mut tx = self.org_tx(org_id).await?;
        let invitation = fetch_invitation(&mut tx, org_id, id).await?;
        let user_id = UserId::new();
        let claimed = sqlx::query(
            "UPDATE invitations SET accepted_at = $3 \
             WHERE org_id = $1 AND id = $2 AND accepted_at IS NULL AND expires_at > $3",
        )
        .bind(org_id.to_owned())
        .bind(id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
        if claimed.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        // The manager of a rep is the manager of the team they join.
        let manager_id = match invitation.team_id {
            Some(team) => {
                let m: Option<String> = sqlx::query_scalar(
                    "SELECT manager_id FROM teams WHERE org_id = $1 AND id = $2",
                )
                .bind(org_id.to_owned())
                .bind(team.to_string())
                .fetch_optional(&mut *tx)
                .await?
                .flatten();
                m.and_then(|m| m.parse().ok())
            }
            None => None,
        };
        let email = Email::parse(&invitation.email).map_err(|e| StoreError::Corrupt(e.into()))?;
        insert_user(
            &mut tx,
            NewUserRow {
                id: user_id,
                org_id: invitation.org_id,
                name: &accept.name,
                email: &email,
                password_hash: &accept.password_hash,
                seat: invitation.seat,
                team_id: invitation.team_id,
                manager_id,
                is_admin: false,
                now,
            },
        )
        .await?;
        sqlx::query("UPDATE invitations SET accepted_user_id = $3 WHERE org_id = $1 AND id = $2")
            .bind(org_id.to_owned())
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&mut *tx)
            .await?;
        let org = fetch_org(&mut tx, invitation.org_id).await?;
        let user = fetch_user(&mut tx, invitation.org_id, user_id).await?;
        append(
            &mut tx,
            org_id,
            now,
            &accept.origin,
            Event::new(Actor::User(user_id), "invitation.accepted")
                .target("invitation", id)
                .detail(json!({ "seat": invitation.seat.as_str() })),
        )
        .await?;
        tx.commit().await?;
        Ok((org, user))
    }
}

async fn fetch_invitation(
    tx: &mut sqlx::AnyConnection,
    org_id: &str,
    id: InvitationId,
) -> Result<Invitation, StoreError> {
    let sql = format!(
        "SELECT {} FROM invitations WHERE org_id = $1 AND id = $2",
        Invitation::COLUMNS
    );
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(org_id.to_owned())
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound)?;
    Invitation::from_row(&row)
}
