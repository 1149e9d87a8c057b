//! `auth` and `deauth` (spec §1.3, Errata 6).

use crate::dap::{empty_body, CmdError, Request};
use crate::hub::{Scope, State};
use crate::json::Obj;

/// Lifetime `auth` calls allowed per connection (`CONST_AUTH_MAX_ATTEMPTS_PER_CONN`).
const MAX_AUTH_ATTEMPTS: u32 = 5;

/// `ConnectResult` after `userToken` (spec §1.3 sample, OSS account).
const CONNECT_RESULT_TAIL: &str = r#""userId":"local","displayName":"RocketRide Developer","givenName":"","familyName":"","preferredUsername":"developer","email":"","emailVerified":false,"phoneNumber":"","phoneNumberVerified":false,"locale":"","defaultTeam":"local","organizations":[{"id":"local","name":"Local","permissions":["org.admin"],"teams":[{"id":"local","name":"Development","permissions":["team.admin","read","write","execute","task.control","task.data","task.monitor","task.debug","task.store"]}]}],"apps":[],"capabilities":["oss"]}"#;

/// The success body: the OSS `ConnectResult`, whose `userToken` echoes the credential.
fn connect_result(credential: &str) -> String {
    let head = Obj::new().set("userToken", credential).done();
    format!("{},{CONNECT_RESULT_TAIL}", &head[..head.len() - 1])
}

/// Handles `auth`: checks the attempt cap and the credential, answers, and on failure
/// broadcasts `auth_failed` and closes with 1000 (spec §1.3).
pub fn auth(st: &mut State, api_keys: &[String], conn: u64, req: &Request) {
    let Some(c) = st.conns.get_mut(&conn) else { return };
    c.auth_attempts += 1;
    if c.auth_attempts > MAX_AUTH_ATTEMPTS {
        return fail(st, conn, req, CmdError::new("Too many authentication attempts", "task_conn.py", 286), false);
    }
    let raw = req.str_arg("auth").unwrap_or_default();
    // A "Bearer " prefix is stripped (spec §1.3).
    let credential = raw.strip_prefix("Bearer ").unwrap_or(raw).to_owned();
    let scope = match check(st, api_keys, &credential) {
        Ok(scope) => scope,
        Err(e) => return fail(st, conn, req, e, true),
    };
    let Some(c) = st.conns.get_mut(&conn) else { return };
    c.authenticated = true;
    c.identified = true;
    c.scope = scope;
    c.credential = Some(credential.clone());
    c.client_name = req.str_arg("clientName").unwrap_or_default().to_owned();
    c.client_version = req.str_arg("clientVersion").unwrap_or_default().to_owned();
    // The recorded server reports the account's user id as `clientId` ("local" in OSS).
    c.client_id = crate::tokens::USER_ID.to_owned();
    let body = crate::hub::dashboard_body("connection_added")
        .set("connectionId", &conn)
        .set("clientName", &c.client_name)
        .set("clientVersion", &c.client_version)
        .set("clientId", &c.client_id);
    // task_conn.py:329-343 announces the connection before the response (line 347).
    st.emit_dashboard(body);
    st.respond(conn, req, Ok(Some(connect_result(&credential))));
}

/// Validates a credential: task tokens first, then the OSS API keys.
fn check(st: &State, api_keys: &[String], credential: &str) -> Result<Scope, CmdError> {
    if credential.is_empty() {
        return Err(CmdError::new("No authorization provided", "task_conn.py", 281));
    }
    if credential.starts_with("tk_") || credential.starts_with("pk_") {
        // task_server.py:567-599: a task credential; fails once the task is gone.
        let task = st.tasks.values().find(|t| t.token == credential || t.public_token == credential);
        return task
            .map(|t| Scope::Task { token: t.token.clone(), public: t.public_token == credential })
            .ok_or_else(|| CmdError::new("Bad request", "task_conn.py", 311));
    }
    if api_keys.iter().any(|k| k == credential) && !st.faults.revoked.contains(credential) {
        Ok(Scope::Account)
    } else {
        Err(CmdError::new("Invalid API key", "task_conn.py", 311))
    }
}

/// A failed auth: `auth_failed` to every `*`+DASHBOARD connection (no tenant filter,
/// code 401), the error, then a graceful close with 1000 (Errata 6).
fn fail(st: &mut State, conn: u64, req: &Request, err: CmdError, broadcast: bool) {
    if broadcast {
        let body = crate::hub::dashboard_body("auth_failed")
            .set("connectionId", &conn)
            .set("reason", &err.message)
            .set("code", &401);
        st.emit_dashboard(body);
    }
    if let Some(c) = st.conns.get_mut(&conn) {
        c.authenticated = false;
    }
    st.respond(conn, req, Err(err));
    st.close(conn, 1000, None);
}

/// `deauth`: `{}` and back to unauthenticated; the socket stays open (spec §1.3).
pub fn deauth(st: &mut State, conn: u64, req: &Request) {
    if let Some(c) = st.conns.get_mut(&conn) {
        c.authenticated = false;
        c.credential = None;
        c.scope = Scope::Account;
    }
    st.respond(conn, req, empty_body());
}

/// The "Not authenticated" rejection of anything but `auth`/`rrext_public_*` before
/// auth, followed by a close (spec §1.3, `task_conn.py:264`).
pub fn reject_unauthenticated(st: &mut State, conn: u64, req: &Request) {
    st.respond(conn, req, Err(CmdError::new("Not authenticated", "task_conn.py", 264)));
    st.close(conn, 1000, None);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_result_echoes_the_key_in_sample_order() {
        let body = connect_result("my-local-api-key");
        assert!(body.starts_with(r#"{"userToken":"my-local-api-key","userId":"local","displayName""#));
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["organizations"][0]["teams"][0]["permissions"][5], "task.data");
    }
}
