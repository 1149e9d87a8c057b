//! Socket URLs as browsers must authenticate them (the `access_token` query parameter, or
//! the debug identity), and the token kept out of every Debug output, log text and
//! diagnostic, including what the server echoes back.

mod fleet_support;

use fleet_support::Shell;
use runwatch::core::outputs::Output;
use runwatch::core::time::Instant;
use runwatch::protocol::fleet_rlm::auth::{scrub, socket_url, Credential, DebugIdentity, Endpoint, Secret, UrlError};
use runwatch::protocol::fleet_rlm::chat::{ChatClient, ChatConfig};
use runwatch::protocol::fleet_rlm::requests::MessageRequest;
use runwatch::protocol::fleet_rlm::subscriber::{EventsClient, EventsConfig};

/// A dev HS256 JWT (claims tid, oid).
const TOKEN: &str = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0aWQiOiJ0MSIsIm9pZCI6InUxIn0.c2lnbmF0dXJlLXNlY3JldA";
/// The part of it that must never leak (any long piece would do).
const SIGNATURE: &str = "c2lnbmF0dXJlLXNlY3JldA";

fn token() -> Credential {
    Credential::AccessToken(Secret::new(TOKEN))
}

fn events() -> Endpoint {
    Endpoint::Events { session_id: "sess-b".into() }
}

#[test]
fn the_token_goes_in_the_access_token_query_parameter() {
    let chat = socket_url("https://fleet.example", &Endpoint::Chat, &token(), false).unwrap();
    assert_eq!(chat.expose(), format!("wss://fleet.example/api/v1/ws/execution?access_token={TOKEN}"));
    let sub = socket_url("http://localhost:8000/", &events(), &token(), false).unwrap();
    assert_eq!(sub.expose(), format!("ws://localhost:8000/api/v1/ws/execution/events?session_id=sess-b&access_token={TOKEN}"));
    let prefixed = socket_url("wss://proxy.example/fleet/", &Endpoint::Chat, &Credential::Anonymous, false).unwrap();
    assert_eq!(prefixed.expose(), "wss://proxy.example/fleet/api/v1/ws/execution");
}

#[test]
fn the_debug_identity_is_an_option_for_local_development() {
    let identity = DebugIdentity { tenant_id: "t 1".into(), user_id: "u1".into(), email: Some("a@b.c".into()), name: None };
    let url = socket_url("http://127.0.0.1:8000", &events(), &Credential::Debug(identity), false).unwrap();
    assert_eq!(
        url.expose(),
        "ws://127.0.0.1:8000/api/v1/ws/execution/events?session_id=sess-b&debug_tenant_id=t%201&debug_user_id=u1&debug_email=a%40b.c"
    );
    assert_eq!(url.redacted(), url.expose(), "nothing secret in a debug identity");
}

#[test]
fn urls_the_server_or_the_network_would_abuse_are_refused() {
    assert_eq!(socket_url("ws://10.0.0.5:8000", &Endpoint::Chat, &token(), false), Err(UrlError::Insecure("10.0.0.5".into())));
    assert!(socket_url("ws://10.0.0.5:8000", &Endpoint::Chat, &token(), true).is_ok(), "allowed when asked");
    assert!(socket_url("ws://10.0.0.5:8000", &Endpoint::Chat, &Credential::Anonymous, false).is_ok(), "no token to leak");
    assert_eq!(socket_url("https://h/?user_id=x", &Endpoint::Chat, &token(), false), Err(UrlError::Query));
    assert_eq!(socket_url("https://me:pw@h", &Endpoint::Chat, &token(), false), Err(UrlError::Query));
    assert_eq!(socket_url("ftp://h", &Endpoint::Chat, &token(), false), Err(UrlError::Scheme));
    assert_eq!(socket_url("https://", &Endpoint::Chat, &token(), false), Err(UrlError::NoHost));
    assert_eq!(socket_url("https://h", &Endpoint::Events { session_id: " ".into() }, &token(), false), Err(UrlError::BlankSession));
    assert_eq!(socket_url("http://localhost:80000", &Endpoint::Chat, &token(), false), Err(UrlError::Port));
    assert_eq!(socket_url("http://localhost:8000x/base", &Endpoint::Chat, &token(), false), Err(UrlError::Port));
}

#[test]
fn debug_and_display_never_show_the_token() {
    let url = socket_url("https://fleet.example", &events(), &token(), false).unwrap();
    for text in [format!("{url:?}"), format!("{url}"), url.redacted().to_owned(), format!("{:?}", token()), format!("{:?}", Secret::new(TOKEN))] {
        assert!(!text.contains(SIGNATURE), "{text}");
    }
    assert!(url.redacted().ends_with("access_token=<redacted>"), "{}", url.redacted());
    let refused = socket_url("ws://fleet.example", &Endpoint::Chat, &token(), false).unwrap_err();
    assert!(!refused.to_string().contains(SIGNATURE));
}

#[test]
fn scrub_removes_tokens_from_text() {
    assert_eq!(scrub(&format!("GET /ws?session_id=s&access_token={TOKEN}&x=1 failed")), "GET /ws?session_id=s&access_token=<redacted>&x=1 failed");
    assert_eq!(scrub(&format!("Invalid token {TOKEN}.")), "Invalid token <redacted>.");
    assert_eq!(scrub("nothing eyJ to hide"), "nothing eyJ to hide");
}

/// A query value right after a JWT-shaped run, with nothing between them: the JWT's run
/// stops where `access_token=` starts, so neither is left in the text.
#[test]
fn scrub_removes_a_token_value_that_follows_a_jwt_directly() {
    for text in [format!("{TOKEN}access_token=s3cret-value&x=1"), "eyJa.baccess_token=s3cret-value".to_owned()] {
        let scrubbed = scrub(&text);
        assert!(!scrubbed.contains("s3cret-value") && !scrubbed.contains(SIGNATURE), "{text} → {scrubbed}");
        assert!(scrubbed.ends_with("access_token=<redacted>") || scrubbed.ends_with("access_token=<redacted>&x=1"), "{scrubbed}");
    }
}

/// Every output rendered both ways an app or a log could see it.
fn rendered<E: std::fmt::Debug + serde::Serialize>(outputs: &[Output<E>]) -> String {
    let mut text = format!("{outputs:?}");
    for output in outputs {
        let json = match output {
            Output::Deliver(d) => serde_json::to_string(&*d.event),
            Output::Diagnostic(d) => serde_json::to_string(d),
            Output::State(s) => serde_json::to_string(s),
            Output::Reply { result, .. } => Ok(format!("{result:?}")),
            Output::NeedCredential { .. } => Ok(String::new()),
        };
        text.push_str(&json.unwrap());
    }
    text
}

#[test]
fn what_the_server_echoes_back_reaches_no_output_with_the_token() {
    let mut chat = Shell::new(ChatClient::new(ChatConfig::default(), Instant::from_millis(0)));
    chat.conn.listen(1);
    let now = chat.now;
    chat.conn.send_message(now, &MessageRequest::new("hi", "sess-b")).unwrap();
    chat.frame(&format!(r#"{{"type":"error","message":"Invalid payload: access_token={TOKEN} is not allowed"}}"#));
    chat.frame(&format!(r#"{{"type":"event","data":{{"kind":"tool_call","text":"t","version":"{TOKEN}"}}}}"#));
    chat.frame(&format!(r#"{{"type":"event","data":{{"kind":"status","text":7,"payload":"{TOKEN}"}}}}"#));
    chat.frame(&format!(r#"{{"type":"error","code":"auth_failed","message":"Invalid token {TOKEN}"}}"#));
    chat.close(1008);
    let text = rendered(&chat.outputs) + &format!("{:?}", chat.conn.turns());
    assert!(text.matches("<redacted>").count() >= 4, "the echoes were seen: {text}");
    assert!(!text.contains(SIGNATURE), "{text}");

    let mut sub = Shell::new(EventsClient::new(EventsConfig::new("sess-b"), Instant::from_millis(0)));
    sub.conn.listen(1);
    sub.frame(&format!(r#"{{"type":"execution_step","step":"{TOKEN}"}}"#));
    sub.frame(&format!(r#"{{"type":"error","code":"auth_failed","message":"bad token {TOKEN}"}}"#));
    // The undecodable step is delivered as sent (`unknown.raw`: the server's data, nothing
    // lost); what the SDK says about it is scrubbed.
    let reports: Vec<_> = sub.outputs.iter().filter(|o| !matches!(o, Output::Deliver(_))).cloned().collect();
    let text = rendered(&reports);
    assert!(text.contains("decodeError") && text.contains("<redacted>"), "{text}");
    assert!(!text.contains(SIGNATURE), "{text}");
}
