//! Extractors: who is calling (API `Viewer`, page `PageViewer`), where from
//! (`ClientInfo`), and request bodies and queries whose rejections speak our problem
//! format (`ApiJson`, `ApiQuery`).

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use serde::de::DeserializeOwned;
use store::Scope;
use vault::Purpose;

use crate::{ApiError, AppState, WebConfig};

/// An authenticated API caller: a Bearer access token, or the session cookie (in which
/// case the CSRF middleware has already checked the synchronizer token).
pub struct Viewer {
    pub scope: Scope,
    pub via_cookie: bool,
}

impl FromRequestParts<AppState> for Viewer {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(ApiError::Unauthorized)?;
            let claims = state
                .keys
                .verify(token.trim(), Purpose::Access)
                .map_err(|_| ApiError::Unauthorized)?;
            let scope = state
                .store
                .authenticate(&claims.org, &claims.sub, &claims.sid, None)
                .await?
                .with_origin(ClientInfo::from_parts(parts, &state.config).origin());
            record(&scope);
            return Ok(Viewer {
                scope,
                via_cookie: false,
            });
        }
        let scope = cookie_scope(&parts.headers, state)
            .await?
            .ok_or(ApiError::Unauthorized)?
            .with_origin(ClientInfo::from_parts(parts, &state.config).origin());
        record(&scope);
        Ok(Viewer {
            scope,
            via_cookie: true,
        })
    }
}

/// An authenticated person on an HTML page (session cookie only). Anyone else is sent
/// to the login page.
pub struct PageViewer {
    pub scope: Scope,
}

impl FromRequestParts<AppState> for PageViewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match cookie_scope(&parts.headers, state).await {
            Ok(Some(scope)) => {
                let scope =
                    scope.with_origin(ClientInfo::from_parts(parts, &state.config).origin());
                record(&scope);
                Ok(PageViewer { scope })
            }
            Ok(None) | Err(ApiError::Unauthorized) => Err(Redirect::to("/login").into_response()),
            Err(e) => Err(crate::pages::error_page(e)),
        }
    }
}

/// The scope named by the session cookie, if it is present and valid.
pub(crate) async fn cookie_scope(
    headers: &HeaderMap,
    state: &AppState,
) -> Result<Option<Scope>, ApiError> {
    let Some(token) = cookie(headers, state.config.session_cookie()) else {
        return Ok(None);
    };
    let Ok(claims) = state.keys.verify(token, Purpose::Refresh) else {
        return Ok(None);
    };
    match state
        .store
        .authenticate(&claims.org, &claims.sub, &claims.sid, Some(&claims.jti))
        .await
    {
        Ok(scope) => Ok(Some(scope)),
        Err(store::StoreError::Unauthenticated) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn record(scope: &Scope) {
    let span = tracing::Span::current();
    span.record("org_id", tracing::field::display(scope.org_id()));
    span.record("user_id", tracing::field::display(scope.user_id()));
}

/// The value of cookie `name`, if sent.
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Where a request comes from, for rate limits, sessions and the audit log.
#[derive(Clone, Debug)]
pub struct ClientInfo {
    pub ip: String,
    pub user_agent: String,
    pub request_id: Option<String>,
}

impl ClientInfo {
    /// The same, as the store's audit origin.
    pub fn origin(&self) -> store::Origin {
        store::Origin::new(&self.ip, &self.user_agent, self.request_id.as_deref())
    }

    fn from_parts(parts: &Parts, config: &WebConfig) -> Self {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        ClientInfo {
            ip: client_ip(&parts.headers, peer, config)
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            user_agent: parts
                .headers
                .get(header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .chars()
                .take(300)
                .collect(),
            request_id: parts
                .extensions
                .get::<crate::observe::RequestId>()
                .map(|r| r.0.clone()),
        }
    }
}

impl FromRequestParts<AppState> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(ClientInfo::from_parts(parts, &state.config))
    }
}

/// The client's address: the TCP peer, unless the peer is a trusted proxy, in which
/// case the right-most `X-Forwarded-For` entry that is not itself a trusted proxy.
pub(crate) fn client_ip(
    headers: &HeaderMap,
    peer: Option<IpAddr>,
    config: &WebConfig,
) -> Option<IpAddr> {
    let peer = peer?;
    if !config.trusted_proxies.contains(&peer) {
        return Some(peer);
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|s| s.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|ip| !config.trusted_proxies.contains(ip))
            .unwrap_or(peer),
    )
}

/// A JSON body. Not JSON → 415; malformed → 400; wrong types or missing fields → 422
/// naming the field; over 1 MiB → 413.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| {
                let v = v.trim().to_ascii_lowercase();
                v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::PayloadTooLarge
                } else {
                    ApiError::BadRequest("The request body could not be read.".into())
                }
            })?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Parse JSON with errors that name the offending field.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    if result.is_ok()
        && let Err(trailing) = de.end()
    {
        return Err(ApiError::BadRequest(format!(
            "The body is not valid JSON: {trailing}"
        )));
    }
    result.map_err(|err| {
        let path = err.path().to_string();
        let inner = err.into_inner();
        match inner.classify() {
            serde_json::error::Category::Data => {
                let message = inner.to_string();
                let message = message
                    .split(" at line")
                    .next()
                    .unwrap_or(&message)
                    .to_owned();
                let field = missing_field(&message)
                    .map(|f| {
                        if path == "." || path.is_empty() {
                            f.to_owned()
                        } else {
                            format!("{path}.{f}")
                        }
                    })
                    .unwrap_or_else(|| if path.is_empty() { ".".into() } else { path });
                ApiError::Validation(vec![FieldError::new(field, message)])
            }
            _ => ApiError::BadRequest(format!("The body is not valid JSON: {inner}")),
        }
    })
}

fn missing_field(message: &str) -> Option<&str> {
    let rest = message.strip_prefix("missing field `")?;
    rest.split('`').next()
}

/// Query parameters; a bad value → 422 naming the parameter.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or_default();
        serde_urlencoded_parse(query).map(ApiQuery)
    }
}

fn serde_urlencoded_parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs: Vec<(String, String)> = form_pairs(query);
    let map: serde_json::Map<String, serde_json::Value> = pairs
        .into_iter()
        .map(|(k, v)| (k, serde_json::Value::String(v)))
        .collect();
    let value = serde_json::Value::Object(map);
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        ApiError::field(
            if path.is_empty() { "query" } else { &path },
            err.into_inner().to_string(),
        )
    })
}

/// Decode `application/x-www-form-urlencoded` pairs.
pub(crate) fn form_pairs(input: &str) -> Vec<(String, String)> {
    input
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len()
                && bytes[i + 1].is_ascii_hexdigit()
                && bytes[i + 2].is_ascii_hexdigit() =>
            {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("00");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Pagination parameters of every list endpoint.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
pub struct ListParams {
    /// Page size, 1 to 200 (default 50).
    #[serde(default, deserialize_with = "de_opt_u32")]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListParams {
    pub fn page(&self) -> Result<store::PageRequest, ApiError> {
        page_request(self.limit, self.cursor.as_deref())
    }
}

/// A page request from `limit` and `cursor` parameters; bad values → 422 naming them.
pub(crate) fn page_request(
    limit: Option<u32>,
    cursor: Option<&str>,
) -> Result<store::PageRequest, ApiError> {
    store::PageRequest::new(limit, cursor).map_err(|m| {
        let field = if m.starts_with("limit") {
            "limit"
        } else {
            "cursor"
        };
        ApiError::field(field, m)
    })
}

/// A JSON body that may be left out: no body at all is `T::default()`; anything sent
/// is read like [`ApiJson`].
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default, S: Send + Sync> FromRequest<S> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let empty = !req.headers().contains_key(header::CONTENT_TYPE)
            && req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .is_none_or(|v| v.trim() == "0");
        if empty {
            return Ok(OptionalJson(T::default()));
        }
        ApiJson::<T>::from_request(req, state)
            .await
            .map(|ApiJson(v)| OptionalJson(v))
    }
}

pub(crate) fn de_opt_u32<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let raw: Option<String> = serde::Deserialize::deserialize(d)?;
    raw.map(|s| {
        s.parse::<u32>()
            .map_err(|_| serde::de::Error::custom("limit must be a whole number"))
    })
    .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding_handles_edges() {
        assert_eq!(percent_decode("a%20b+c"), "a b c");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn json_errors_name_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct B {
            email: String,
            n: u32,
        }
        match parse_json::<B>(br#"{"email":"x"}"#) {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "n"),
            other => panic!("unexpected {other:?}"),
        }
        match parse_json::<B>(br#"{"email":1,"n":2}"#) {
            Err(ApiError::Validation(e)) => assert_eq!(e[0].field, "email"),
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            parse_json::<B>(b"{"),
            Err(ApiError::BadRequest(_))
        ));
        assert!(matches!(
            parse_json::<B>(br#"{"email":"x","n":1} x"#),
            Err(ApiError::BadRequest(_))
        ));
    }
}
