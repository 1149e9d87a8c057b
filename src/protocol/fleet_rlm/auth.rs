//! Socket URLs with the credential, as browsers must send it (spec §0.2, §2.1–§2.2), and
//! keeping that credential out of every log.
//!
//! A browser cannot set headers on a WebSocket, and the server ignores tokens offered as a
//! subprotocol or in a first message, so the JWT goes into the URL as `access_token`. That
//! makes the URL itself a secret: [`SocketUrl`] hands the full URL only to the code that
//! opens the socket ([`SocketUrl::expose`]) and prints itself redacted everywhere else.
//! [`scrub`] removes tokens from text the server sends back (error messages, close reasons).

use std::fmt;

// The same URL rules as RocketRide's endpoint: which hosts are loopback, what a port may be.
use crate::protocol::rocketride::url::{host_of, is_loopback, port_is_valid};

/// A secret string whose `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    #[must_use]
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The secret itself, for the one place that must send it.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// How a socket authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// None: with `AUTH_REQUIRED=false` the server uses its anonymous identity
    /// (`default`/`anonymous`); with auth required it refuses the socket.
    Anonymous,
    /// A JWT (dev HS256 or Entra), sent as the `access_token` query parameter.
    AccessToken(Secret),
    /// Local development only (`ALLOW_DEBUG_AUTH`): an identity named in the query.
    Debug(DebugIdentity),
}

/// The debug identity parameters (`debug_tenant_id`, `debug_user_id`, `debug_email`,
/// `debug_name`). Not secret: any client may claim any identity where they are allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DebugIdentity {
    pub tenant_id: String,
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
}

/// Which socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `/api/v1/ws/execution`: the conversational socket.
    Chat,
    /// `/api/v1/ws/execution/events?session_id=…`: the passive execution stream of a session.
    Events { session_id: String },
}

/// Why a socket URL could not be built. Messages never contain the credential.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the server url must start with http://, https://, ws:// or wss://")]
    Scheme,
    #[error("the server url has no host")]
    NoHost,
    #[error("the server url must not carry a query, a fragment or user-info; pass the credential and session separately")]
    Query,
    #[error("plain ws:// to the non-loopback host {} sends the access token unencrypted; use https:// or wss://, or allow insecure", crate::core::json_write::quoted(.0))]
    Insecure(String),
    #[error("the session id must not be blank")]
    BlankSession,
    #[error("the server url's port must be a number from 1 to 65535")]
    Port,
}

/// A socket URL that may carry the credential: `Debug` and `Display` show it redacted.
#[derive(Clone, PartialEq, Eq)]
pub struct SocketUrl {
    url: String,
    redacted: String,
}

impl SocketUrl {
    /// The full URL, credential included: pass it to `new WebSocket(…)` and nowhere else.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.url
    }

    /// The URL with the credential replaced by `<redacted>`, for logs.
    #[must_use]
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for SocketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SocketUrl({})", self.redacted)
    }
}

impl fmt::Display for SocketUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// The URL of `endpoint` on the server at `base` (its root, e.g. `https://fleet.example`
/// or `http://localhost:8000`; `http(s)` becomes `ws(s)`), authenticated by `credential`.
/// Identity parameters (`workspace_id`, `user_id`) are never added: the server refuses them.
///
/// ```
/// use runwatch::protocol::fleet_rlm::auth::{socket_url, Credential, Endpoint, Secret};
/// let token = Credential::AccessToken(Secret::new("eyJhbGciOi.x.y"));
/// let events = Endpoint::Events { session_id: "sess b".into() };
/// let url = socket_url("https://fleet.example", &events, &token, false).unwrap();
/// assert_eq!(url.expose(), "wss://fleet.example/api/v1/ws/execution/events?session_id=sess%20b&access_token=eyJhbGciOi.x.y");
/// assert_eq!(format!("{url:?}"), "SocketUrl(wss://fleet.example/api/v1/ws/execution/events?session_id=sess%20b&access_token=<redacted>)");
/// ```
pub fn socket_url(base: &str, endpoint: &Endpoint, credential: &Credential, allow_insecure: bool) -> Result<SocketUrl, UrlError> {
    let (secure, authority, path) = split_base(base)?;
    let host = host_of(authority);
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if !port_is_valid(authority) {
        return Err(UrlError::Port);
    }
    let sends_token = matches!(credential, Credential::AccessToken(_));
    if !secure && sends_token && !allow_insecure && !is_loopback(host) {
        return Err(UrlError::Insecure(host.to_string()));
    }
    let mut query: Vec<(&str, &str, bool)> = Vec::new();
    let route = match endpoint {
        Endpoint::Chat => "/api/v1/ws/execution",
        Endpoint::Events { session_id } => {
            if session_id.trim().is_empty() {
                return Err(UrlError::BlankSession);
            }
            query.push(("session_id", session_id, false));
            "/api/v1/ws/execution/events"
        }
    };
    match credential {
        Credential::Anonymous => {}
        Credential::AccessToken(token) => query.push((ACCESS_TOKEN, token.expose(), true)),
        Credential::Debug(identity) => {
            query.push(("debug_tenant_id", &identity.tenant_id, false));
            query.push(("debug_user_id", &identity.user_id, false));
            if let Some(email) = &identity.email {
                query.push(("debug_email", email, false));
            }
            if let Some(name) = &identity.name {
                query.push(("debug_name", name, false));
            }
        }
    }
    let start = format!("{}://{authority}{}{route}", if secure { "wss" } else { "ws" }, path.trim_end_matches('/'));
    let render = |redact: bool| {
        let pairs: Vec<String> = query
            .iter()
            .map(|(k, v, secret)| if *secret && redact { format!("{k}=<redacted>") } else { format!("{k}={}", encode(v)) })
            .collect();
        if pairs.is_empty() { start.clone() } else { format!("{start}?{}", pairs.join("&")) }
    };
    Ok(SocketUrl { url: render(false), redacted: render(true) })
}

/// `(secure, authority, path)` of a base URL.
fn split_base(base: &str) -> Result<(bool, &str, &str), UrlError> {
    let (scheme, rest) = base.trim().split_once("://").ok_or(UrlError::Scheme)?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "https" | "wss" => true,
        "http" | "ws" => false,
        _ => return Err(UrlError::Scheme),
    };
    if rest.contains(['?', '#', '@']) {
        return Err(UrlError::Query);
    }
    let split = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(split);
    Ok((secure, authority, path))
}

/// Percent-encodes a query value (everything but RFC 3986's unreserved characters).
fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// `text` with credentials removed: `access_token=` values and anything shaped like a JWT
/// (`eyJ…` with at least two dot-separated parts, so a token cut short by an elided
/// message is caught too) become `<redacted>`. Used on everything the SDK reports from
/// what the server sends back (error messages, decode errors), which could echo the URL
/// or the token. Event payloads are the server's data and are delivered as sent.
#[must_use]
pub fn scrub(text: &str) -> String {
    if !text.contains(QUERY_KEY) && !text.contains("eyJ") {
        return text.to_owned();
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(QUERY_KEY) {
            out.push_str("access_token=<redacted>");
            rest = &after[query_value_len(after)..];
            continue;
        }
        let jwt = jwt_len(rest);
        if jwt > 0 {
            out.push_str("<redacted>");
            rest = &rest[jwt..];
            continue;
        }
        let c = rest.chars().next().unwrap_or_default();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

/// The query parameter that carries a credential, and the key with its `=`.
const ACCESS_TOKEN: &str = "access_token";
const QUERY_KEY: &str = "access_token=";

/// Length of a query value at the start of `text`.
fn query_value_len(text: &str) -> usize {
    text.find(|c: char| matches!(c, '&' | '#' | '"' | '\'' | '`') || c.is_whitespace()).unwrap_or(text.len())
}

/// Length of a JWT-shaped token at the start of `text` (0 if there is none): base64url
/// parts joined by dots, at least two, starting with `eyJ` (an encoded `{"`).
fn jwt_len(text: &str) -> usize {
    if !text.starts_with("eyJ") {
        return 0;
    }
    let mut run = text.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))).unwrap_or(text.len());
    // `access_token=` right after the token, with nothing between: the run stops before it,
    // so that its value is redacted too (taking `access_token` in would leave `=value`).
    if text[run..].starts_with('=') && text[..run].ends_with(ACCESS_TOKEN) {
        run -= ACCESS_TOKEN.len();
    }
    let token = text[..run].trim_end_matches('.');
    if token.split('.').filter(|part| !part.is_empty()).count() >= 2 {
        token.len()
    } else {
        0
    }
}
