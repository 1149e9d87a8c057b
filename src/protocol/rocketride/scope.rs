//! Subscription scopes: what the app asks for ([`ScopeSpec`] → [`Scope`]) and the server
//! registry keys they land on ([`ServerKey`]), spec §3.2.
//!
//! Task tokens (`tk_…`) are credentials: every `Display` and `Debug` here prints them
//! redacted ([`RedactedToken`]), so scopes and keys can go into logs and diagnostics.

use std::fmt;

use serde::{Deserialize, Serialize};
use crate::core::json_read::JsonText;
use crate::core::wire::ObjectText;
use tsify::Tsify;

use super::monitor_types::{MonitorTypes, TypesError};

/// A scope as JavaScript passes it to `subscribe`. Give either `token`, or `projectId`
/// with `source`; `pipeId` narrows any of them except `token: "*"`.
///
/// ```
/// use runwatch::protocol::rocketride::scope::{Scope, ScopeSpec};
/// let spec: ScopeSpec = serde_json::from_str(r#"{"projectId":"p1","source":"*"}"#).unwrap();
/// assert_eq!(Scope::try_from(spec).unwrap(), Scope::Project { project_id: "p1".into(), pipe: None });
/// ```
#[derive(Tsify, Deserialize, Serialize, Clone, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScopeSpec {
    /// `"*"` for every task the connection may see, or a task token `tk_…` for one task.
    /// A token is a credential; the SDK never logs it in full.
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The project of the pipeline; needs `source`. Works before any task runs.
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    /// The source component id within the project, or `"*"` for every source of it.
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Narrows the scope to one pipe. Only events that carry a `pipe_id` (`apaevt_sse`)
    /// can match a pipe scope; not allowed with `token: "*"`, where the server ignores it.
    #[tsify(optional)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipe_id: Option<u32>,
}

// Hand-written so that a token never reaches logs through `{:?}`.
impl fmt::Debug for ScopeSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopeSpec")
            .field("token", &self.token.as_deref().map(RedactedToken))
            .field("project_id", &self.project_id)
            .field("source", &self.source)
            .field("pipe_id", &self.pipe_id)
            .finish()
    }
}

/// Why a [`ScopeSpec`] was refused before anything was sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    #[error("give either token or projectId with source, not both")]
    TokenAndProject,
    #[error("projectId needs a source; use source \"*\" for every source of the project")]
    ProjectWithoutSource,
    #[error("source needs a projectId")]
    SourceWithoutProject,
    #[error("a scope needs token (\"*\" for all tasks) or projectId with source")]
    Nothing,
    #[error("{0} must not be empty")]
    EmptyField(&'static str),
    #[error(
        "pipeId cannot narrow token \"*\" (the server would ignore it); give projectId and source with the pipeId"
    )]
    PipeWithAllTasks,
}

/// A validated subscription scope.
///
/// `Display` shows the registry key it asks for, with tokens redacted:
/// ```
/// use runwatch::protocol::rocketride::scope::Scope;
/// let s = Scope::Token { token: "tk_bee3a8ea46c2d1f0aa".into(), pipe: Some(2) };
/// assert_eq!(s.to_string(), "t.tk_bee3….2");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// `token: "*"`: every task the connection may see, and server (dashboard) events.
    All,
    /// One task by its token. Any string other than `"*"` is accepted and sent as is:
    /// the token format is the server's business, and it answers an unknown token with
    /// "Your pipeline is not running". Only a `tk_` token can be matched to task ids by
    /// itself (its first 8 hex characters start the id); any other token (`pk_…`, or an
    /// unknown form) reaches its `p.<proj>.<src>` key only once the mapping is learned
    /// with `learn_token`, and prints fully redacted unless it starts with `tk_`/`pk_`.
    Token { token: String, pipe: Option<u32> },
    /// One source of a project, running or not.
    Source { project_id: String, source: String, pipe: Option<u32> },
    /// Every source of a project (`source: "*"`).
    Project { project_id: String, pipe: Option<u32> },
}

impl Scope {
    /// Checks `types` for this scope: a pipe scope takes SSE only. (The server would also
    /// seed SUMMARY or TASK once for a pipe key and then never send them, since pipe keys
    /// match only events carrying `pipe_id`.)
    ///
    /// ```
    /// use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
    /// use runwatch::protocol::rocketride::scope::Scope;
    /// let pipe = Scope::Project { project_id: "p".into(), pipe: Some(2) };
    /// assert!(pipe.check_types(MonitorTypes::SSE).is_ok());
    /// assert!(pipe.check_types(MonitorTypes::SSE | MonitorTypes::SUMMARY).is_err());
    /// assert!(Scope::All.check_types(MonitorTypes::SUMMARY).is_ok());
    /// ```
    pub fn check_types(&self, types: MonitorTypes) -> Result<(), TypesError> {
        if self.pipe().is_some() && !(types - MonitorTypes::SSE).is_empty() {
            return Err(TypesError::PipeScopeSseOnly);
        }
        Ok(())
    }

    /// The pipe this scope is narrowed to, if any.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::scope::Scope;
    /// assert_eq!(Scope::All.pipe(), None);
    /// assert_eq!(Scope::Project { project_id: "p".into(), pipe: Some(4) }.pipe(), Some(4));
    /// ```
    pub fn pipe(&self) -> Option<u32> {
        match self {
            Scope::All => None,
            Scope::Token { pipe, .. } | Scope::Source { pipe, .. } | Scope::Project { pipe, .. } => *pipe,
        }
    }
}

impl TryFrom<ScopeSpec> for Scope {
    type Error = ScopeError;

    fn try_from(spec: ScopeSpec) -> Result<Self, ScopeError> {
        let ScopeSpec { token, project_id, source, pipe_id: pipe } = spec;
        let token = non_empty("token", token)?;
        let project_id = non_empty("projectId", project_id)?;
        let source = non_empty("source", source)?;
        match (token, project_id, source) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => Err(ScopeError::TokenAndProject),
            (Some(token), None, None) => token_scope(token, pipe),
            (None, Some(project_id), Some(source)) if source == "*" => Ok(Scope::Project { project_id, pipe }),
            (None, Some(project_id), Some(source)) => Ok(Scope::Source { project_id, source, pipe }),
            (None, Some(_), None) => Err(ScopeError::ProjectWithoutSource),
            (None, None, Some(_)) => Err(ScopeError::SourceWithoutProject),
            (None, None, None) => Err(ScopeError::Nothing),
        }
    }
}

fn non_empty(field: &'static str, value: Option<String>) -> Result<Option<String>, ScopeError> {
    match value {
        Some(v) if v.trim().is_empty() => Err(ScopeError::EmptyField(field)),
        other => Ok(other),
    }
}

fn token_scope(token: String, pipe: Option<u32>) -> Result<Scope, ScopeError> {
    match (token.as_str(), pipe) {
        ("*", Some(_)) => Err(ScopeError::PipeWithAllTasks),
        ("*", None) => Ok(Scope::All),
        _ => Ok(Scope::Token { token, pipe }),
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        ServerKey::from(self).fmt(f)
    }
}

impl fmt::Debug for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scope({self})")
    }
}

/// A server registry key without its pipe suffix.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BaseKey {
    /// `*`
    All,
    /// `p.<projectId>.<source>`
    Source { project_id: String, source: String },
    /// `p.<projectId>.*`
    Project { project_id: String },
    /// A task token whose `p.<projectId>.<source>` key is not known yet. On the server it
    /// *is* that key; the SDK canonicalises it as soon as it learns the mapping.
    Token { token: String },
}

/// A server registry key: what one `rrext_monitor` call replaces the bitmask of.
///
/// ```
/// use runwatch::protocol::rocketride::scope::{BaseKey, ServerKey};
/// let key = ServerKey { base: BaseKey::Project { project_id: "p1".into() }, pipe: Some(3) };
/// assert_eq!(key.to_string(), "p.p1.*.3");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerKey {
    pub base: BaseKey,
    pub pipe: Option<u32>,
}

impl ServerKey {
    /// The exact `rrext_monitor` arguments that set this key to `types`. `types` is always
    /// a list of upper-case names; the empty list unsubscribes the key.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
    /// use runwatch::protocol::rocketride::scope::{BaseKey, ServerKey};
    /// let key = ServerKey { base: BaseKey::All, pipe: None };
    /// assert_eq!(key.arguments(MonitorTypes::TASK).get(), r#"{"token":"*","types":["TASK"]}"#);
    /// assert_eq!(key.arguments(MonitorTypes::empty()).get(), r#"{"token":"*","types":[]}"#);
    /// ```
    pub fn arguments(&self, types: MonitorTypes) -> JsonText {
        let args = ObjectText::new();
        let mut args = match &self.base {
            BaseKey::All => args.field("token", "*"),
            BaseKey::Token { token } => args.field("token", token),
            BaseKey::Source { project_id, source } => args.field("projectId", project_id).field("source", source),
            BaseKey::Project { project_id } => args.field("projectId", project_id).field("source", "*"),
        };
        if let Some(pipe) = self.pipe {
            args = args.field("pipeId", &pipe);
        }
        args.field("types", &types.names()).done()
    }
}

/// The key a scope asks for, before any token is canonicalised.
impl From<&Scope> for ServerKey {
    fn from(scope: &Scope) -> Self {
        let base = match scope {
            Scope::All => BaseKey::All,
            Scope::Token { token, .. } => BaseKey::Token { token: token.clone() },
            Scope::Source { project_id, source, .. } => {
                BaseKey::Source { project_id: project_id.clone(), source: source.clone() }
            }
            Scope::Project { project_id, .. } => BaseKey::Project { project_id: project_id.clone() },
        };
        ServerKey { base, pipe: scope.pipe() }
    }
}

impl fmt::Display for BaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BaseKey::All => f.write_str("*"),
            BaseKey::Source { project_id, source } => write!(f, "p.{project_id}.{source}"),
            BaseKey::Project { project_id } => write!(f, "p.{project_id}.*"),
            BaseKey::Token { token } => write!(f, "t.{}", RedactedToken(token)),
        }
    }
}

impl fmt::Debug for BaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BaseKey({self})")
    }
}

impl fmt::Display for ServerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.base.fmt(f)?;
        match self.pipe {
            Some(pipe) => write!(f, ".{pipe}"),
            None => Ok(()),
        }
    }
}

/// Prints a token without revealing it: `*` as is, a long `tk_`/`pk_` token as its kind
/// plus its first four bytes (enough to tell tasks apart in a log), a short one as its kind
/// only, anything else as `…`.
///
/// ```
/// use runwatch::protocol::rocketride::scope::RedactedToken;
/// assert_eq!(RedactedToken("tk_bee3a8ea46c2d1f0aa").to_string(), "tk_bee3…");
/// assert_eq!(RedactedToken("tk_short").to_string(), "tk_…");
/// assert_eq!(RedactedToken("s3cret-opaque").to_string(), "…");
/// ```
#[derive(Clone, Copy)]
pub struct RedactedToken<'a>(pub &'a str);

/// Characters of a token shown after its `tk_`/`pk_` kind.
const SHOWN: usize = 4;
/// A token must hide at least this many characters before any are shown.
const HIDDEN_MIN: usize = 8;

impl fmt::Display for RedactedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let token = self.0;
        if token == "*" {
            return f.write_str("*");
        }
        let Some(kind) = ["tk_", "pk_"].into_iter().find(|k| token.starts_with(k)) else {
            return f.write_str("…");
        };
        let rest = &token[kind.len()..];
        // Show a few characters only when plenty stay hidden (and never split a char).
        match rest.get(..SHOWN).filter(|_| rest.len() >= SHOWN + HIDDEN_MIN) {
            Some(shown) => write!(f, "{kind}{shown}…"),
            None => write!(f, "{kind}…"),
        }
    }
}

impl fmt::Debug for RedactedToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{self}\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TOKEN: &str = "tk_bee3a8ea46c2d1f0aa55e1c0ffee0123";

    fn spec(token: Option<&str>, project: Option<&str>, source: Option<&str>, pipe: Option<u32>) -> ScopeSpec {
        ScopeSpec {
            token: token.map(Into::into),
            project_id: project.map(Into::into),
            source: source.map(Into::into),
            pipe_id: pipe,
        }
    }

    fn scope(
        token: Option<&str>,
        project: Option<&str>,
        source: Option<&str>,
        pipe: Option<u32>,
    ) -> Result<Scope, ScopeError> {
        Scope::try_from(spec(token, project, source, pipe))
    }

    #[test]
    fn every_scope_form_validates() {
        assert_eq!(scope(Some("*"), None, None, None), Ok(Scope::All));
        assert_eq!(scope(Some(TOKEN), None, None, Some(1)), Ok(Scope::Token { token: TOKEN.into(), pipe: Some(1) }));
        assert_eq!(
            scope(None, Some("p1"), Some("chat_1"), None),
            Ok(Scope::Source { project_id: "p1".into(), source: "chat_1".into(), pipe: None })
        );
        assert_eq!(
            scope(None, Some("p1"), Some("*"), Some(7)),
            Ok(Scope::Project { project_id: "p1".into(), pipe: Some(7) })
        );
    }

    #[test]
    fn malformed_scopes_are_refused() {
        assert_eq!(scope(Some(TOKEN), Some("p1"), Some("s"), None), Err(ScopeError::TokenAndProject));
        assert_eq!(scope(Some("*"), None, Some("s"), None), Err(ScopeError::TokenAndProject));
        assert_eq!(scope(None, Some("p1"), None, None), Err(ScopeError::ProjectWithoutSource));
        assert_eq!(scope(None, None, Some("s"), None), Err(ScopeError::SourceWithoutProject));
        assert_eq!(scope(None, None, None, None), Err(ScopeError::Nothing));
        assert_eq!(scope(None, None, None, Some(1)), Err(ScopeError::Nothing));
        assert_eq!(scope(Some(""), None, None, None), Err(ScopeError::EmptyField("token")));
        assert_eq!(scope(None, Some(" "), Some("s"), None), Err(ScopeError::EmptyField("projectId")));
        assert_eq!(scope(None, Some("p"), Some(""), None), Err(ScopeError::EmptyField("source")));
        assert_eq!(scope(Some("*"), None, None, Some(2)), Err(ScopeError::PipeWithAllTasks));
    }

    #[test]
    fn opaque_tokens_are_accepted_as_token_scopes() {
        assert_eq!(scope(Some("abc"), None, None, None), Ok(Scope::Token { token: "abc".into(), pipe: None }));
    }

    #[test]
    fn spec_reads_camel_case_and_refuses_unknown_fields() {
        let spec: ScopeSpec = serde_json::from_str(r#"{"projectId":"p","source":"s","pipeId":3}"#).unwrap();
        assert_eq!(spec, self::spec(None, Some("p"), Some("s"), Some(3)));
        assert!(serde_json::from_str::<ScopeSpec>(r#"{"project_id":"p","source":"s"}"#).is_err());
        assert_eq!(serde_json::to_string(&self::spec(Some("*"), None, None, None)).unwrap(), r#"{"token":"*"}"#);
    }

    #[test]
    fn typescript_declaration_has_optional_camel_case_fields() {
        let decl = ScopeSpec::DECL;
        for field in ["token?: string;", "projectId?: string;", "source?: string;", "pipeId?: number;"] {
            assert!(decl.contains(field), "{field} missing from {decl}");
        }
    }

    #[test]
    fn arguments_are_exact_and_types_always_a_list() {
        let types = MonitorTypes::TASK | MonitorTypes::SUMMARY;
        let source = ServerKey { base: BaseKey::Source { project_id: "p".into(), source: "s".into() }, pipe: Some(2) };
        assert_eq!(
            source.arguments(types),
            json!({"projectId": "p", "source": "s", "pipeId": 2, "types": ["SUMMARY", "TASK"]})
        );
        let project = ServerKey { base: BaseKey::Project { project_id: "p".into() }, pipe: None };
        assert_eq!(project.arguments(MonitorTypes::FLOW), json!({"projectId": "p", "source": "*", "types": ["FLOW"]}));
        let token = ServerKey { base: BaseKey::Token { token: TOKEN.into() }, pipe: None };
        assert_eq!(token.arguments(MonitorTypes::empty()), json!({"token": TOKEN, "types": []}));
    }

    #[test]
    fn keys_display_as_registry_keys() {
        let key = |base, pipe| ServerKey { base, pipe }.to_string();
        assert_eq!(key(BaseKey::All, None), "*");
        assert_eq!(key(BaseKey::Source { project_id: "p".into(), source: "s".into() }, Some(9)), "p.p.s.9");
        assert_eq!(key(BaseKey::Project { project_id: "p".into() }, None), "p.p.*");
        assert_eq!(key(BaseKey::Token { token: TOKEN.into() }, None), "t.tk_bee3…");
    }

    #[test]
    fn tokens_never_reach_display_or_debug() {
        let scope = Scope::Token { token: TOKEN.into(), pipe: Some(1) };
        let key = ServerKey::from(&scope);
        let spec = spec(Some(TOKEN), None, None, None);
        let printed = [
            scope.to_string(),
            format!("{scope:?}"),
            key.to_string(),
            format!("{key:?}"),
            format!("{spec:?}"),
            format!("{:?}", RedactedToken("pk_0123456789abcdef")),
        ];
        for text in printed {
            assert!(!text.contains("a8ea46c2") && !text.contains("456789ab"), "token leaked: {text}");
        }
        assert_eq!(format!("{scope:?}"), "Scope(t.tk_bee3….1)");
        assert_eq!(
            format!("{spec:?}"),
            r#"ScopeSpec { token: Some("tk_bee3…"), project_id: None, source: None, pipe_id: None }"#
        );
    }

    #[test]
    fn redaction_never_splits_characters() {
        assert_eq!(RedactedToken("tk_ééééééééé").to_string(), "tk_éé…");
        assert_eq!(RedactedToken("tk_éééé").to_string(), "tk_…");
    }
}
