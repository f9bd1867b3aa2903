//! API errors as RFC 9457 problem documents (`application/problem+json`).
//!
//! NotFound has exactly one body, whatever the cause (missing, another org's, not
//! visible to this seat), so a 404 reveals nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use serde::Serialize;
use store::StoreError;

/// A problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable, snake_case error code.
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub errors: Vec<FieldError>,
}

/// Every way an API call can fail.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Forbidden(&'static str),
    NotFound,
    MethodNotAllowed,
    Conflict(&'static str),
    PayloadTooLarge,
    UnsupportedMediaType,
    Validation(Vec<FieldError>),
    TooManyRequests {
        retry_after: u64,
    },
    /// A provider this request depends on (a CRM) failed or could not be reached; the
    /// text says which, never what it answered.
    BadGateway(&'static str),
    Internal,
}

impl ApiError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError::new(field, message)])
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str, String) {
        match self {
            ApiError::BadRequest(d) => (
                StatusCode::BAD_REQUEST,
                "malformed_request",
                "Bad Request",
                d.clone(),
            ),
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Unauthorized",
                "Authentication is required, or the credentials are not valid.".into(),
            ),
            ApiError::Forbidden(d) => {
                (StatusCode::FORBIDDEN, "forbidden", "Forbidden", (*d).into())
            }
            ApiError::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "Not Found",
                "The requested resource does not exist.".into(),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method Not Allowed",
                "This method is not allowed here.".into(),
            ),
            ApiError::Conflict(code) => (
                StatusCode::CONFLICT,
                code,
                "Conflict",
                conflict_detail(code).into(),
            ),
            ApiError::PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Payload Too Large",
                "The request body is larger than 1 MiB.".into(),
            ),
            ApiError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "Unsupported Media Type",
                "Send the body as application/json.".into(),
            ),
            ApiError::Validation(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                "Unprocessable Content",
                errors
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            ApiError::TooManyRequests { .. } => (
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Too Many Requests",
                "Too many attempts. Wait and try again.".into(),
            ),
            ApiError::BadGateway(d) => (
                StatusCode::BAD_GATEWAY,
                "provider_unavailable",
                "Bad Gateway",
                (*d).into(),
            ),
            ApiError::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal_error",
                "Internal Server Error",
                "Something went wrong on our side. It has been logged.".into(),
            ),
        }
    }
}

fn conflict_detail(code: &str) -> &'static str {
    match code {
        "email_taken" => "That email address already has an account.",
        "last_admin" => "An organization needs at least one admin.",
        "cannot_remove_self" => "You cannot remove yourself.",
        "integration_disconnected" => "The integration is disconnected; connect it again to sync.",
        _ => "The request conflicts with the current state.",
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, title, detail) = self.parts();
        let errors = match &self {
            ApiError::Validation(e) => e.clone(),
            _ => Vec::new(),
        };
        let problem = Problem {
            kind: format!("urn:pitchside:problem:{code}"),
            title: title.into(),
            status: status.as_u16(),
            detail,
            code: code.into(),
            errors,
        };
        let body = serde_json::to_vec(&problem).unwrap_or_default();
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let ApiError::TooManyRequests { retry_after } = self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ApiError::NotFound,
            StoreError::Forbidden(m) => ApiError::Forbidden(m),
            StoreError::Conflict(c) => ApiError::Conflict(c),
            StoreError::Invalid(f) => ApiError::Validation(vec![f]),
            StoreError::Unauthenticated => ApiError::Unauthorized,
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Internal
            }
        }
    }
}
