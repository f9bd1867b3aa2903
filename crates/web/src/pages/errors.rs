//! Error pages. Every [`ApiError`] met while serving a page becomes a readable HTML
//! page with the right status. The 404 page is fixed: it carries nothing from the
//! request, so a missing id, another organization's id and an id this seat may not
//! see all produce byte-identical responses.

use askama::Template;
use askama_web::WebTemplate;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::ApiError;

#[derive(Template, WebTemplate)]
#[template(path = "error.html")]
struct ErrorPage {
    title: &'static str,
    heading: &'static str,
    detail: String,
    items: Vec<String>,
}

impl ErrorPage {
    fn new(title: &'static str, heading: &'static str, detail: impl Into<String>) -> Self {
        Self {
            title,
            heading,
            detail: detail.into(),
            items: Vec::new(),
        }
    }
}

/// The 404 page (one body for every cause).
pub fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        ErrorPage::new(
            "Not found",
            "Page not found",
            "There is nothing here, or it is not shared with you. Check the address, or go \
             back to the dashboard.",
        ),
    )
        .into_response()
}

/// The page shown when a form's CSRF check fails.
pub fn csrf_failed_page() -> Response {
    (
        StatusCode::FORBIDDEN,
        ErrorPage::new(
            "Form expired",
            "This form has expired",
            "Go back, reload the page and try again.",
        ),
    )
        .into_response()
}

/// An error page for an API error met while rendering a page.
pub fn error_page(e: ApiError) -> Response {
    let (status, page) = match e {
        ApiError::NotFound => return not_found_page(),
        ApiError::TooManyRequests { retry_after } => {
            let page = ErrorPage::new(
                "Too many attempts",
                "Too many attempts",
                too_many_attempts(retry_after),
            );
            let mut response = (StatusCode::TOO_MANY_REQUESTS, page).into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after.max(1)));
            return response;
        }
        ApiError::BadRequest(_) => (
            StatusCode::BAD_REQUEST,
            ErrorPage::new(
                "Bad request",
                "The request could not be read",
                "Go back, reload the page and try again.",
            ),
        ),
        ApiError::Unauthorized => (
            StatusCode::UNAUTHORIZED,
            ErrorPage::new(
                "Please log in",
                "Please log in",
                "Your session has ended. Log in again to continue.",
            ),
        ),
        ApiError::Forbidden(why) => (
            StatusCode::FORBIDDEN,
            ErrorPage {
                items: vec![sentence_case(why)],
                ..ErrorPage::new(
                    "Not allowed",
                    "You don't have permission to do that",
                    "Ask an administrator of your organization if you need this.",
                )
            },
        ),
        ApiError::MethodNotAllowed => (
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorPage::new(
                "Not allowed",
                "That action is not available here",
                "Go back and use the buttons on the page.",
            ),
        ),
        ApiError::Conflict(code) => (
            StatusCode::CONFLICT,
            ErrorPage::new("Not possible", "That is not possible", conflict_text(code)),
        ),
        ApiError::PayloadTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorPage::new(
                "Too large",
                "That was too much at once",
                "The form is larger than 1 MiB.",
            ),
        ),
        ApiError::UnsupportedMediaType => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorPage::new(
                "Unsupported form",
                "The form could not be read",
                "Send forms as application/x-www-form-urlencoded.",
            ),
        ),
        ApiError::Validation(errors) => (
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorPage {
                items: errors
                    .iter()
                    .map(|e| format!("{}: {}", e.field, e.message))
                    .collect(),
                ..ErrorPage::new(
                    "Check your input",
                    "Some of that input is not valid",
                    "Go back, correct the following and try again.",
                )
            },
        ),
        ApiError::BadGateway(why) => (
            StatusCode::BAD_GATEWAY,
            ErrorPage {
                items: vec![sentence_case(why)],
                ..ErrorPage::new(
                    "Provider unavailable",
                    "The CRM did not answer as expected",
                    "Nothing was changed. Try again in a few minutes.",
                )
            },
        ),
        ApiError::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorPage::new(
                "Something went wrong",
                "Something went wrong",
                "Something went wrong on our side. It has been logged. Please try again later.",
            ),
        ),
    };
    (status, page).into_response()
}

/// A readable page with a fixed heading and explanation (text is always ours, never
/// taken from the request).
pub(crate) fn message_page(
    status: StatusCode,
    title: &'static str,
    heading: &'static str,
    detail: &'static str,
) -> Response {
    (status, ErrorPage::new(title, heading, detail)).into_response()
}

/// "Too many attempts, try again in N minutes."
pub(crate) fn too_many_attempts(retry_after: u64) -> String {
    let minutes = retry_after.max(1).div_ceil(60);
    let unit = if minutes == 1 { "minute" } else { "minutes" };
    format!("Too many attempts, try again in {minutes} {unit}.")
}

/// The text of a conflict code.
pub(crate) fn conflict_text(code: &str) -> &'static str {
    match code {
        "email_taken" => "That email address already has an account.",
        "last_admin" => "An organization needs at least one admin.",
        "cannot_remove_self" => "You cannot remove yourself.",
        "integration_disconnected" => "That integration is disconnected. Connect it again to sync.",
        _ => "That conflicts with the current state. Reload the page and try again.",
    }
}

fn sentence_case(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).chain(['.']).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn body(response: Response) -> (StatusCode, String) {
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .expect("body");
        (status, String::from_utf8(bytes.to_vec()).expect("utf-8"))
    }

    #[tokio::test]
    async fn the_404_page_is_fixed() {
        let (a, b) = (body(not_found_page()).await, body(not_found_page()).await);
        assert_eq!(a, b);
        assert_eq!(a.0, StatusCode::NOT_FOUND);
        let (status, via_error) = body(error_page(ApiError::NotFound)).await;
        assert_eq!((status, via_error), a);
    }

    #[tokio::test]
    async fn each_error_kind_gets_its_status_and_a_readable_page() {
        let cases = [
            (
                ApiError::Forbidden("only admins"),
                403,
                "You don&#39;t have permission to do that",
            ),
            (ApiError::field("email", "bad"), 422, "email: bad"),
            (ApiError::Internal, 500, "Something went wrong"),
            (ApiError::Conflict("last_admin"), 409, "at least one admin"),
        ];
        for (error, status, text) in cases {
            let (got, html) = body(error_page(error)).await;
            assert_eq!(got.as_u16(), status);
            assert!(html.contains(text), "{status}: {html}");
            assert!(html.starts_with("<!doctype html>"));
        }
    }

    #[tokio::test]
    async fn too_many_requests_says_when_and_sets_retry_after() {
        let response = error_page(ApiError::TooManyRequests { retry_after: 600 });
        assert_eq!(
            response.headers().get(header::RETRY_AFTER),
            Some(&HeaderValue::from(600u64))
        );
        let (status, html) = body(response).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(html.contains("Too many attempts, try again in 10 minutes."));
        assert_eq!(
            too_many_attempts(30),
            "Too many attempts, try again in 1 minute."
        );
    }
}
