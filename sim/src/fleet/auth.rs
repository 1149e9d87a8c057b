//! fleet-rlm dev auth (spec §2.2): HS256 JWTs with `tid` + `oid` claims (`aud` not
//! checked, `exp` checked when present), debug identity headers and query parameters, and
//! the anonymous fallback when auth is not required.

use axum::http::HeaderMap;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::Identity;
use crate::config::FleetConfig;
use crate::clock::epoch_s;

/// Where an identity came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `X-Debug-Tenant-Id` / `X-Debug-User-Id` headers.
    DebugHeaders,
    /// `Authorization: Bearer`.
    Bearer,
    /// `debug_tenant_id` / `debug_user_id` query parameters.
    DebugQuery,
    /// `access_token` query parameter.
    QueryToken,
    /// No (valid) credential, auth optional.
    Anonymous,
}

/// A successful authentication.
#[derive(Debug, Clone)]
pub struct Authed {
    /// The sanitised identity.
    pub identity: Identity,
    /// Raw tenant claim.
    pub tenant_claim: String,
    /// Raw user claim.
    pub user_claim: String,
    /// `email` claim / debug parameter.
    pub email: Option<String>,
    /// `name` claim / debug parameter.
    pub name: Option<String>,
    /// The credential kind.
    pub source: Source,
}

impl Authed {
    fn anonymous() -> Self {
        Authed {
            identity: Identity::anonymous(),
            tenant_claim: "default".into(),
            user_claim: "anonymous".into(),
            email: None,
            name: None,
            source: Source::Anonymous,
        }
    }

    fn debug(tenant: &str, user: &str, email: Option<String>, name: Option<String>, source: Source) -> Self {
        Authed { identity: Identity::of(tenant, user), tenant_claim: tenant.into(), user_claim: user.into(), email, name, source }
    }
}

/// Authenticates a request. `query` is `None` for HTTP routes (query tokens are not
/// accepted there). With auth optional every failure becomes the anonymous identity;
/// with auth required it is `Err(reason)`.
pub fn authenticate(cfg: &FleetConfig, headers: &HeaderMap, query: Option<&[(String, String)]>) -> Result<Authed, String> {
    match credential(cfg, headers, query) {
        Ok(Some(a)) => Ok(a),
        Ok(None) if !cfg.auth_required => Ok(Authed::anonymous()),
        Ok(None) => Err("Missing dev auth credentials (debug identity or bearer token)".into()),
        Err(_) if !cfg.auth_required => Ok(Authed::anonymous()),
        Err(e) => Err(e),
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok()).filter(|v| !v.is_empty())
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

/// The first credential present, in the server's order; `Ok(None)` when none is.
fn credential(cfg: &FleetConfig, headers: &HeaderMap, query: Option<&[(String, String)]>) -> Result<Option<Authed>, String> {
    if cfg.allow_debug_auth {
        if let (Some(t), Some(u)) = (header(headers, "x-debug-tenant-id"), header(headers, "x-debug-user-id")) {
            // The snapshot's bug: debug headers report `email` as the string "None".
            let email = header(headers, "x-debug-email").map(str::to_owned).or(Some("None".into()));
            let name = header(headers, "x-debug-name").map(str::to_owned);
            return Ok(Some(Authed::debug(t, u, email, name, Source::DebugHeaders)));
        }
    }
    if let Some(auth) = header(headers, "authorization") {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).ok_or("Invalid authorization header")?;
        return verify(&cfg.jwt_secret, token.trim()).map(|a| Some(Authed { source: Source::Bearer, ..a }));
    }
    let Some(query) = query else { return Ok(None) };
    if cfg.allow_debug_auth {
        if let (Some(t), Some(u)) = (param(query, "debug_tenant_id"), param(query, "debug_user_id")) {
            let email = param(query, "debug_email").map(str::to_owned);
            let name = param(query, "debug_name").map(str::to_owned);
            return Ok(Some(Authed::debug(t, u, email, name, Source::DebugQuery)));
        }
    }
    if cfg.allow_query_tokens {
        if let Some(token) = param(query, "access_token") {
            return verify(&cfg.jwt_secret, token).map(|a| Some(Authed { source: Source::QueryToken, ..a }));
        }
    }
    Ok(None)
}

/// Verifies a dev HS256 token: signature, `exp` if present, `tid` + `oid` required.
pub fn verify(secret: &str, token: &str) -> Result<Authed, String> {
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err("Invalid token: not a JWT".into());
    };
    let header: Value = b64_json(h)?;
    if header["alg"] != "HS256" {
        return Err("Invalid token: unsupported algorithm".into());
    }
    let expected = b64url(&hmac_sha256(secret.as_bytes(), format!("{h}.{p}").as_bytes()));
    if expected != sig {
        return Err("Invalid token: Signature verification failed".into());
    }
    let claims: Value = b64_json(p)?;
    if let Some(exp) = claims.get("exp") {
        match exp.as_f64() {
            Some(e) if e > epoch_s() => {}
            Some(_) => return Err("Invalid token: Signature has expired".into()),
            None => return Err("Invalid token: exp must be a number".into()),
        }
    }
    let claim = |k: &str| claims.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let (Some(tid), Some(oid)) = (claim("tid"), claim("oid")) else {
        return Err("Invalid token: tid and oid claims are required".into());
    };
    Ok(Authed { identity: Identity::of(&tid, &oid), tenant_claim: tid, user_claim: oid, email: claim("email"), name: claim("name"), source: Source::Bearer })
}

/// Mints a dev token (`POST /_sim/fleet/token`): HS256 over `{tid, oid, iat, exp?, email?, name?}`.
pub fn sign(secret: &str, tenant: &str, user: &str, ttl_s: Option<f64>, extra: &Value) -> String {
    let now = epoch_s().floor();
    let mut claims = json!({"tid": tenant, "oid": user, "iat": now as i64});
    if let Some(ttl) = ttl_s {
        claims["exp"] = json!((now + ttl) as i64);
    }
    if let Some(obj) = extra.as_object() {
        for (k, v) in obj {
            claims[k] = v.clone();
        }
    }
    let h = b64url(br#"{"alg":"HS256","typ":"JWT"}"#);
    let p = b64url(claims.to_string().as_bytes());
    let sig = b64url(&hmac_sha256(secret.as_bytes(), format!("{h}.{p}").as_bytes()));
    format!("{h}.{p}.{sig}")
}

fn b64_json(part: &str) -> Result<Value, String> {
    let bytes = b64url_decode(part).ok_or("Invalid token: bad base64")?;
    serde_json::from_slice(&bytes).map_err(|_| "Invalid token: bad JSON".to_owned())
}

/// HMAC-SHA256 (RFC 2104).
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(k.map(|b| b ^ 0x36));
    inner.update(msg);
    let mut outer = Sha256::new();
    outer.update(k.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Unpadded base64url.
fn b64url(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

/// Decodes base64url, padded or not.
fn b64url_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text.trim_end_matches('=').bytes() {
        let v = B64.iter().position(|b| *b == c).or(match c {
            b'+' => Some(62),
            b'/' => Some(63),
            _ => None,
        })? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc4231_case2() {
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn base64url_round_trips() {
        for n in 0..10 {
            let data: Vec<u8> = (0..n).map(|i| (i * 37 + 250) as u8).collect();
            assert_eq!(b64url_decode(&b64url(&data)).unwrap(), data);
        }
        assert_eq!(b64url(b"hi?"), "aGk_");
    }

    #[test]
    fn tokens_verify_and_fail() {
        let t = sign("s3cret", "t 1", "u/1", Some(60.0), &Value::Null);
        let a = verify("s3cret", &t).unwrap();
        assert_eq!(a.identity, Identity::of("t-1", "u-1"));
        assert!(verify("other", &t).is_err());
        let expired = sign("s3cret", "t", "u", Some(-10.0), &Value::Null);
        assert!(verify("s3cret", &expired).unwrap_err().contains("expired"));
        assert!(verify("s3cret", "abc").is_err());
    }
}
