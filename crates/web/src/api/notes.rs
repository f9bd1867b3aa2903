//! `/notes`: coaching notes about a person. Bodies are sealed at rest.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use domain::UserId;
use serde::{Deserialize, Serialize};
use store::{NewNote, Note, NoteVisibility};
use utoipa::ToSchema;

use super::views::{ListView, iso};
use crate::extract::{ApiJson, ApiQuery, ListParams, Viewer};
use crate::{ApiError, AppState, Problem};

/// Longest note body, in characters.
pub const MAX_BODY_CHARS: usize = 20_000;

/// A coaching note.
#[derive(Serialize, ToSchema)]
pub struct NoteView {
    pub id: String,
    pub subject_user_id: String,
    pub author_id: String,
    /// `private` (author only) or `shared` (also the person and their manager chain).
    pub visibility: String,
    /// Markdown.
    pub body: String,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Note> for NoteView {
    fn from(n: Note) -> Self {
        Self {
            id: n.id,
            subject_user_id: n.subject_user_id.to_string(),
            author_id: n.author_id.to_string(),
            visibility: n.visibility.as_str().into(),
            body: n.body,
            created_at: iso(n.created_at),
            updated_at: iso(n.updated_at),
        }
    }
}

/// New note input.
#[derive(Deserialize, ToSchema)]
pub struct CreateNoteBody {
    pub subject_user_id: String,
    /// Markdown, 1 to 20,000 characters.
    pub body: String,
    /// `private` or `shared`.
    pub visibility: String,
}

/// Write a note about someone you can see (or yourself).
#[utoipa::path(post, path = "/notes", tag = "notes", security(("bearer" = [])), request_body = CreateNoteBody,
    responses((status = 201, body = NoteView), (status = 404, body = Problem), (status = 422, body = Problem)))]
pub(super) async fn create(
    State(state): State<AppState>,
    viewer: Viewer,
    ApiJson(body): ApiJson<CreateNoteBody>,
) -> Result<(StatusCode, Json<NoteView>), ApiError> {
    let new = new_note(&body.subject_user_id, &body.body, &body.visibility)?;
    let note = state.store.create_note(&viewer.scope, new).await?;
    Ok((StatusCode::CREATED, Json(note.into())))
}

/// Validate a new note (shared with the rep page form).
pub(crate) fn new_note(subject: &str, body: &str, visibility: &str) -> Result<NewNote, ApiError> {
    let mut errors = Vec::new();
    let subject_user_id = subject
        .parse::<UserId>()
        .map_err(|_| errors.push(domain::FieldError::new("subject_user_id", "must be an id")))
        .ok();
    if body.trim().is_empty() {
        errors.push(domain::FieldError::new("body", "must not be empty"));
    } else if body.chars().count() > MAX_BODY_CHARS {
        errors.push(domain::FieldError::new(
            "body",
            "must be at most 20,000 characters",
        ));
    }
    let visibility = match NoteVisibility::parse(visibility) {
        Some(v) => Some(v),
        None => {
            errors.push(domain::FieldError::new(
                "visibility",
                "must be private or shared",
            ));
            None
        }
    };
    let (Some(subject_user_id), Some(visibility), true) =
        (subject_user_id, visibility, errors.is_empty())
    else {
        return Err(ApiError::Validation(errors));
    };
    Ok(NewNote {
        subject_user_id,
        visibility,
        body: body.to_owned(),
    })
}

/// One note, if you may read it.
#[utoipa::path(get, path = "/notes/{id}", tag = "notes", security(("bearer" = [])),
    params(("id" = String, Path)), responses((status = 200, body = NoteView), (status = 404, body = Problem)))]
pub(super) async fn show(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Json<NoteView>, ApiError> {
    Ok(Json(state.store.get_note(&viewer.scope, &id).await?.into()))
}

/// The notes about a person that you may read, oldest first.
#[utoipa::path(get, path = "/users/{id}/notes", tag = "notes", security(("bearer" = [])),
    params(("id" = String, Path), ListParams),
    responses((status = 200, body = ListView<NoteView>), (status = 404, body = Problem)))]
pub(super) async fn about(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> Result<Json<ListView<NoteView>>, ApiError> {
    let id: UserId = id.parse().map_err(|_| ApiError::NotFound)?;
    let page = state
        .store
        .list_notes_about(&viewer.scope, id, &params.page()?)
        .await?;
    Ok(Json(ListView::from_page(page, NoteView::from)))
}
