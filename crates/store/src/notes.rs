//! Coaching notes: Markdown about a person, written by a manager (or the person
//! themself). `private` notes are for their author only; `shared` notes are also seen
//! by the person they are about and by everyone whose seat lets them see that person
//! (their manager chain and executives). The body is sealed in the `coaching_notes`
//! domain before it reaches SQL and opened only here, in memory.

use domain::{Seat, UserId};
use sqlx::Row;
use vault::sealed::{Domain, SealContext};

use crate::audit::Event;
use crate::models::parse;
use crate::scope::MANAGED_TEAMS_CTE;
use crate::users::visible_user;
use crate::{Page, PageRequest, Scope, Store, StoreError};
use serde_json::json;

/// Who besides the author may read a note.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteVisibility {
    Private,
    Shared,
}

impl NoteVisibility {
    pub fn as_str(self) -> &'static str {
        match self {
            NoteVisibility::Private => "private",
            NoteVisibility::Shared => "shared",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "private" => Some(NoteVisibility::Private),
            "shared" => Some(NoteVisibility::Shared),
            _ => None,
        }
    }
}

/// A note, opened.
#[derive(Clone, Debug)]
pub struct Note {
    pub id: String,
    pub author_id: UserId,
    pub subject_user_id: UserId,
    pub visibility: NoteVisibility,
    pub body: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A new note.
#[derive(Clone, Debug)]
pub struct NewNote {
    pub subject_user_id: UserId,
    pub visibility: NoteVisibility,
    pub body: String,
}

/// Every sealed column of the schema: (table, column, domain). A test checks that the
/// schema has no other `*_sealed` column.
pub const SEALED_COLUMNS: &[(&str, &str, Domain)] = &[
    ("notes", "body_sealed", Domain::CoachingNotes),
    ("crm_tokens", "access_sealed", Domain::CrmTokens),
    ("crm_tokens", "refresh_sealed", Domain::CrmTokens),
    ("oauth_states", "verifier_sealed", Domain::CrmTokens),
    ("crm_owners", "raw_sealed", Domain::CrmRecords),
    ("crm_pipelines", "raw_sealed", Domain::CrmRecords),
    ("crm_companies", "raw_sealed", Domain::CrmRecords),
    ("crm_contacts", "raw_sealed", Domain::CrmRecords),
    ("crm_deals", "raw_sealed", Domain::CrmRecords),
    ("crm_activities", "raw_sealed", Domain::CrmRecords),
    ("crm_activities", "body_sealed", Domain::CrmRecords),
];

const COLUMNS: &str =
    "n.id, n.author_id, n.subject_user_id, n.visibility, n.body_sealed, n.created_at, n.updated_at";

/// Which notes (alias `n`) a viewer reads: `$1` org, `$2` viewer, `$3` executive flag,
/// `$4` manager flag (the `managed` CTE in scope). Seat decides, not the admin flag.
const NOTE_VISIBLE: &str = concat!(
    "n.org_id = $1 AND ( n.author_id = $2 OR ( n.visibility = 'shared' AND ( n.subject_user_id = $2 \
       OR n.subject_user_id IN (SELECT u.id FROM users u WHERE ",
    crate::user_visible!(),
    ") ) ) )"
);

impl Store {
    /// Write a note about someone the viewer may see (themself included). Only
    /// executives and managers write about others.
    pub async fn create_note(&self, scope: &Scope, new: NewNote) -> Result<Note, StoreError> {
        let mut tx = self.org_tx(&scope.org()).await?;
        if new.subject_user_id != scope.user_id {
            if scope.seat == Seat::Rep {
                return Err(StoreError::NotFound);
            }
            visible_user(&mut tx, scope, new.subject_user_id).await?;
        }
        let id = uuid::Uuid::now_v7().to_string();
        let org = scope.org();
        let sealed = self
            .keys()
            .ring(Domain::CoachingNotes)
            .seal(note_context(&org, &id), new.body.as_bytes())
            .map_err(|e| StoreError::Config(e.to_string()))?;
        let now = self.clock.now();
        sqlx::query(
            "INSERT INTO notes (id, org_id, author_id, subject_user_id, visibility, body_sealed, body_key_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
        )
        .bind(id.clone())
        .bind(org)
        .bind(scope.user())
        .bind(new.subject_user_id.to_string())
        .bind(new.visibility.as_str())
        .bind(sealed.token)
        .bind(sealed.key_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        self.audit(
            &mut tx,
            scope,
            Event::by(scope, "note.created")
                .target("note", &id)
                .detail(json!({
                    "subject_user_id": new.subject_user_id.to_string(),
                    "visibility": new.visibility.as_str(),
                })),
        )
        .await?;
        tx.commit().await?;
        Ok(Note {
            id,
            author_id: scope.user_id,
            subject_user_id: new.subject_user_id,
            visibility: new.visibility,
            body: new.body,
            created_at: now,
            updated_at: now,
        })
    }

    /// One note, if this viewer may read it.
    pub async fn get_note(&self, scope: &Scope, id: &str) -> Result<Note, StoreError> {
        let id = uuid::Uuid::parse_str(id)
            .map_err(|_| StoreError::NotFound)?
            .to_string();
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT {COLUMNS} FROM notes n WHERE {NOTE_VISIBLE} AND n.id = $5"
        );
        let mut conn = self.org_read(&scope.org()).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(scope.user())
            .bind(executive_flag(scope))
            .bind(scope.manager_flag())
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StoreError::NotFound)?;
        conn.commit().await?;
        let mut notes = self.open_notes(scope, std::slice::from_ref(&row)).await?;
        notes.pop().ok_or(StoreError::NotFound)
    }

    /// The notes about a person this viewer may read, oldest first. NotFound when the
    /// person is not visible.
    pub async fn list_notes_about(
        &self,
        scope: &Scope,
        subject: UserId,
        page: &PageRequest,
    ) -> Result<Page<Note>, StoreError> {
        let mut conn = self.org_read(&scope.org()).await?;
        visible_user(&mut conn, scope, subject).await?;
        let sql = format!(
            "{MANAGED_TEAMS_CTE} SELECT {COLUMNS} FROM notes n WHERE {NOTE_VISIBLE} \
             AND n.subject_user_id = $5 AND n.id > $6 ORDER BY n.id LIMIT $7"
        );
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(scope.org())
            .bind(scope.user())
            .bind(executive_flag(scope))
            .bind(scope.manager_flag())
            .bind(subject.to_string())
            .bind(page.after_or_start())
            .bind(page.fetch())
            .fetch_all(&mut *conn)
            .await?;
        conn.commit().await?;
        let notes = self.open_notes(scope, &rows).await?;
        Ok(Page::from_rows(notes, page.limit, |n| n.id.clone()))
    }

    /// Open note rows. A body that fails to open (wrong keys, tampering, or a token
    /// moved from another row, column or organization) fails the whole read with one
    /// generic error and leaves an audit event naming the row (KEY-04).
    async fn open_notes(
        &self,
        scope: &Scope,
        rows: &[sqlx::any::AnyRow],
    ) -> Result<Vec<Note>, StoreError> {
        let mut notes = Vec::with_capacity(rows.len());
        for row in rows {
            match self.open_note(scope, row) {
                Ok(note) => notes.push(note),
                Err(StoreError::Sealed) => {
                    let id: String = row.try_get("id").unwrap_or_default();
                    let event = Event::by(scope, "sealed.open_failed")
                        .target("note", &id)
                        .detail(json!({ "domain": Domain::CoachingNotes.as_str(), "column": "notes.body" }));
                    if let Err(e) = self.audit_alone(&scope.org(), &scope.origin, event).await {
                        tracing::error!(error = %e, "could not audit a failed open");
                    }
                    return Err(StoreError::Sealed);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(notes)
    }

    fn open_note(&self, scope: &Scope, row: &sqlx::any::AnyRow) -> Result<Note, StoreError> {
        let id: String = row.try_get("id")?;
        let token: String = row.try_get("body_sealed")?;
        let org = scope.org();
        let body = self
            .keys()
            .ring(Domain::CoachingNotes)
            .open(note_context(&org, &id), &token)
            .map_err(|_| {
                tracing::error!(note_id = %id, "a sealed note body failed to open (wrong keys, tampering or a moved value)");
                StoreError::Sealed
            })?;
        let visibility: String = row.try_get("visibility")?;
        Ok(Note {
            author_id: parse(row, "author_id")?,
            subject_user_id: parse(row, "subject_user_id")?,
            visibility: NoteVisibility::parse(&visibility)
                .ok_or_else(|| StoreError::Corrupt(format!("note visibility {visibility:?}")))?,
            body: String::from_utf8(body).map_err(|_| StoreError::Sealed)?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            id,
        })
    }
}

fn note_context<'a>(org: &'a str, id: &'a str) -> SealContext<'a> {
    SealContext {
        org,
        table: "notes",
        column: "body",
        row: id,
    }
}

/// Notes are data, not directory: an admin rep does not read everyone's notes.
fn executive_flag(scope: &Scope) -> i64 {
    i64::from(scope.seat == Seat::Executive)
}
