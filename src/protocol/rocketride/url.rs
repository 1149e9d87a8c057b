//! Endpoint URL checks and normalisation (spec §1.1), done before any socket opens.
//!
//! - Only `ws:` and `wss:` are accepted (`http(s):` are mapped like the official SDKs do).
//! - Plain `ws:` to a host that is not loopback is refused unless the app opts in: the
//!   credential travels inside the first frame, and over `ws:` anyone on the path reads it.
//! - Credentials never go into URLs: user-info (`user:pass@`) and query parameters that
//!   look like credentials are refused (the engine ignores them anyway, spec §1.2).
//! - A missing path becomes `/task/service`; a missing port stays missing (the app's URL
//!   wins; the engine's default port 5565 is documented, not guessed).
//! - What the browser's `WebSocket` constructor would throw for on every attempt (a port
//!   out of range, a `#fragment`) is refused here, once, instead of retried for ever.

/// Why an endpoint URL was refused. Messages never echo the query string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    #[error("the url must start with ws://, wss://, http:// or https://")]
    Scheme,
    #[error("the url has no host")]
    NoHost,
    #[error("plain ws:// to the non-loopback host {} sends the credential unencrypted; use wss:// or set allowInsecure: true", crate::core::json_write::quoted(.0))]
    Insecure(String),
    #[error("credentials must not be put in the url (user-info or a credential query parameter); pass them with the `auth` option")]
    CredentialInUrl,
    #[error("the url's port must be a number from 1 to 65535")]
    Port,
    #[error("the url must not have a #fragment: WebSocket URLs take none")]
    Fragment,
}

/// Checks and normalises an endpoint URL.
///
/// ```
/// use runwatch::protocol::rocketride::url::normalize;
/// assert_eq!(normalize("ws://127.0.0.1:5565", false).unwrap(), "ws://127.0.0.1:5565/task/service");
/// assert_eq!(normalize("https://engine.example", false).unwrap(), "wss://engine.example/task/service");
/// assert!(normalize("ws://engine.example:5565", false).is_err());
/// assert!(normalize("ws://engine.example:5565", true).is_ok());
/// ```
pub fn normalize(url: &str, allow_insecure: bool) -> Result<String, UrlError> {
    let url = url.trim();
    let (scheme, rest) = url.split_once("://").ok_or(UrlError::Scheme)?;
    let secure = match scheme.to_ascii_lowercase().as_str() {
        "wss" | "https" => true,
        "ws" | "http" => false,
        _ => return Err(UrlError::Scheme),
    };
    let split = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    if authority.contains('@') || has_credential_query(tail) {
        return Err(UrlError::CredentialInUrl);
    }
    let host = host_of(authority);
    if host.is_empty() {
        return Err(UrlError::NoHost);
    }
    if !port_is_valid(authority) {
        return Err(UrlError::Port);
    }
    if tail.contains('#') {
        return Err(UrlError::Fragment);
    }
    if !secure && !allow_insecure && !is_loopback(host) {
        return Err(UrlError::Insecure(host.to_string()));
    }
    let tail = if tail.is_empty() || tail.starts_with('?') || tail.starts_with("/?") || tail == "/" {
        format!("/task/service{}", tail.trim_start_matches('/'))
    } else {
        tail.to_string()
    };
    Ok(format!("{}://{}{}", if secure { "wss" } else { "ws" }, authority, tail))
}

/// `host[:port]` as its host (an IPv6 literal without its brackets) and what follows the
/// host: nothing or `:port` in a well-formed authority. An unclosed `[` leaves a rest that
/// is no port.
fn split_authority(authority: &str) -> (&str, &str) {
    match authority.strip_prefix('[') {
        Some(v6) => v6.split_once(']').unwrap_or((v6, "[")),
        None => authority.split_at(authority.find(':').unwrap_or(authority.len())),
    }
}

/// The host part of `host[:port]`, brackets of an IPv6 literal removed.
pub fn host_of(authority: &str) -> &str {
    split_authority(authority).0
}

/// Whether the port of `host[:port]` is one a connection can use: none, an empty one (the
/// scheme's default, as the browser reads `host:`), or digits making 1 to 65535. Anything
/// else after the host (`[::1]x`, an unclosed `[`) is no valid authority either.
pub fn port_is_valid(authority: &str) -> bool {
    match split_authority(authority).1.as_bytes() {
        [] | [b':'] => true,
        [b':', port @ ..] => {
            port.len() <= 5
                && port.iter().all(u8::is_ascii_digit)
                && (1..=65535).contains(&port.iter().fold(0u32, |n, &b| n * 10 + u32::from(b - b'0')))
        }
        _ => false,
    }
}

/// Loopback hosts: `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.to_ascii_lowercase();
    if host == "localhost" || host.ends_with(".localhost") || host == "::1" {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4 && octets[0] == "127" && octets.iter().all(|o| o.parse::<u8>().is_ok())
}

fn has_credential_query(tail: &str) -> bool {
    let Some((_, query)) = tail.split_once('?') else { return false };
    let query = query.split('#').next().unwrap_or("");
    query.split('&').any(|pair| {
        let name = pair.split('=').next().unwrap_or("").to_ascii_lowercase();
        matches!(name.as_str(), "auth" | "token" | "apikey" | "api_key" | "key" | "access_token" | "password")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_ws_is_fine_and_gets_the_service_path() {
        assert_eq!(normalize("ws://localhost:5565/", false).unwrap(), "ws://localhost:5565/task/service");
        assert_eq!(normalize("ws://[::1]:5565", false).unwrap(), "ws://[::1]:5565/task/service");
        assert_eq!(normalize("ws://127.8.9.10:1/custom", false).unwrap(), "ws://127.8.9.10:1/custom");
    }

    #[test]
    fn remote_ws_needs_the_opt_in() {
        assert_eq!(normalize("ws://10.0.0.5:5565", false), Err(UrlError::Insecure("10.0.0.5".into())));
        assert_eq!(normalize("http://127.0.0.1.evil.com", false), Err(UrlError::Insecure("127.0.0.1.evil.com".into())));
        assert!(normalize("wss://10.0.0.5:5565", false).is_ok());
    }

    #[test]
    fn credentials_in_urls_are_refused_without_echoing_them() {
        let err = normalize("wss://user:secret@engine.example", false).unwrap_err();
        assert_eq!(err, UrlError::CredentialInUrl);
        assert!(!err.to_string().contains("secret"));
        assert_eq!(normalize("wss://engine.example/task/service?auth=secret", false), Err(UrlError::CredentialInUrl));
        assert_eq!(normalize("wss://engine.example/?Token=secret", false), Err(UrlError::CredentialInUrl));
        assert!(normalize("wss://engine.example/task/service?debug=1", false).is_ok());
    }

    #[test]
    fn what_every_websocket_constructor_would_throw_for_is_refused_at_once() {
        for url in ["ws://127.0.0.1:99999", "ws://127.0.0.1:0/x", "ws://127.0.0.1:55a", "ws://[::1]x/y", "ws://localhost:-1", "wss://e.example:123456"] {
            assert_eq!(normalize(url, false), Err(UrlError::Port), "{url}");
        }
        assert_eq!(normalize("ws://127.0.0.1:5565/task/service#live", false), Err(UrlError::Fragment));
        assert_eq!(normalize("wss://e.example#", false), Err(UrlError::Fragment));
        assert_eq!(normalize("ws://127.0.0.1:/x", false).unwrap(), "ws://127.0.0.1:/x", "an empty port is the default");
        assert_eq!(normalize("ws://[::1]:65535", false).unwrap(), "ws://[::1]:65535/task/service");
        assert_eq!(normalize("wss://e.example:1", false).unwrap(), "wss://e.example:1/task/service");
    }

    #[test]
    fn other_schemes_and_empty_hosts_are_refused() {
        assert_eq!(normalize("ftp://x", false), Err(UrlError::Scheme));
        assert_eq!(normalize("engine.example", false), Err(UrlError::Scheme));
        assert_eq!(normalize("ws:///task/service", false), Err(UrlError::NoHost));
    }
}
