//! The app's desired subscriptions, merged into server registry keys and synced
//! declaratively with `rrext_monitor` calls (spec §3), and event routing back to them.
//!
//! The server keeps, per connection, one bitmask per key; each call *replaces* its key's
//! mask and `types: []` removes the key. The [`Registry`] therefore sends, per key, the OR
//! of every subscription on it, and only when that differs from what the server holds by
//! its account. Token scopes are canonicalised to their `p.<proj>.<src>` key as soon as the
//! [`Directory`] can resolve them, because on the server they are the same key.

use crate::core::json_read::JsonText;

use super::directory::Directory;
use super::monitor_types::MonitorTypes;
use super::scope::{BaseKey, Scope, ServerKey};
use crate::core::sorted_map::SortedMap;

pub use crate::core::outputs::SubId;

/// One `rrext_monitor` call: set `key` to `types`. Empty `types` unsubscribes the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorCall {
    pub key: ServerKey,
    pub types: MonitorTypes,
}

impl MonitorCall {
    /// The call's `rrext_monitor` arguments.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
    /// use runwatch::protocol::rocketride::scope::{BaseKey, ServerKey};
    /// use runwatch::protocol::rocketride::subscriptions::MonitorCall;
    /// let call = MonitorCall { key: ServerKey { base: BaseKey::All, pipe: None }, types: MonitorTypes::TASK };
    /// assert_eq!(call.arguments().get(), r#"{"token":"*","types":["TASK"]}"#);
    /// ```
    pub fn arguments(&self) -> JsonText {
        self.key.arguments(self.types)
    }
}

/// What routing needs to know about one incoming event.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventRoute<'a> {
    /// The event's gate bit; `None` for an unknown event, which matches any types.
    pub types: Option<MonitorTypes>,
    /// The body's `__id`, when it names a task.
    pub task_id: Option<&'a str>,
    /// The body's `projectId`, if it has one.
    pub project_id: Option<&'a str>,
    /// The body's `source`, if it has one.
    pub source: Option<&'a str>,
    /// The body's `pipe_id` (`apaevt_sse` only).
    pub pipe_id: Option<u64>,
    /// A server (dashboard) event: only `token:"*"` subscriptions with DASHBOARD get it.
    pub server_event: bool,
}

/// Where an event of a task the directory does not know yet belongs, judged from the keys
/// that could have made the server send it (spec §3.2: it ORs the task's source key, its
/// project wildcard key, `*` and, for SSE, pipe keys).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Placement {
    /// No scoped subscription with the event's type could be about this task: routing by
    /// what is known (e.g. `*`) is complete.
    Complete,
    /// Only keys of this project could have matched: the task is in it.
    Project(String),
    /// Several projects, `*` or an unresolved token key could explain it: ask the server.
    Ambiguous,
}

/// The desired subscriptions, the server keys they need, and what the server holds.
///
/// ```
/// use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
/// use runwatch::protocol::rocketride::scope::Scope;
/// use runwatch::protocol::rocketride::subscriptions::Registry;
/// let mut reg = Registry::new(256);
/// let project = Scope::Project { project_id: "p1".into(), pipe: None };
/// reg.subscribe(1, project.clone(), MonitorTypes::TASK);
/// let second = 2;
/// reg.subscribe(second, project, MonitorTypes::SUMMARY);
/// let calls = reg.sync();
/// assert_eq!(calls[0].arguments(), serde_json::json!({"projectId": "p1", "source": "*", "types": ["SUMMARY", "TASK"]}));
/// reg.unsubscribe(second);
/// assert_eq!(reg.sync()[0].types, MonitorTypes::TASK);
/// assert!(reg.sync().is_empty());
/// ```
#[derive(Debug)]
pub struct Registry {
    directory: Directory,
    subs: SortedMap<SubId, Sub>,
    held: SortedMap<ServerKey, Held>,
    watch_cleanup: bool,
    /// Nothing changed since the last sync, so the next one has no call to make. The client
    /// syncs after every event it learns a task from; this spares it rebuilding the
    /// desired set each time.
    in_sync: bool,
}

#[derive(Debug)]
struct Sub {
    scope: Scope,
    types: MonitorTypes,
    /// The server key, canonicalised once the token resolves; never un-canonicalised,
    /// even if the directory later evicts the mapping.
    key: ServerKey,
}

/// What the server holds on one key, by our account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Held {
    Known(MonitorTypes),
    /// Something, but we cannot tell what: the next sync re-sends this key.
    Unknown,
}

impl Registry {
    /// An empty registry whose directory remembers `directory_capacity` tasks.
    pub fn new(directory_capacity: usize) -> Self {
        Registry {
            directory: Directory::new(directory_capacity),
            subs: SortedMap::new(),
            held: SortedMap::new(),
            watch_cleanup: true,
            in_sync: true,
        }
    }

    /// Adds subscription `id` (chosen by the app-facing side: increasing, never reused)
    /// to the desired set; nothing is sent until [`Registry::sync`]. A subscription with
    /// no types is kept but asks the server for nothing. An id already in use is replaced.
    pub fn subscribe(&mut self, id: SubId, scope: Scope, types: MonitorTypes) {
        let key = canonical(&self.directory, ServerKey::from(&scope));
        self.subs.insert(id, Sub { scope, types, key });
        self.in_sync = false;
    }

    /// Removes a subscription from the desired set. False if `id` was unknown.
    pub fn unsubscribe(&mut self, id: SubId) -> bool {
        self.in_sync = false;
        self.subs.remove(&id).is_some()
    }

    /// The calls that make the server hold exactly the desired merged set, recorded as
    /// held. Unsubscribes come first, then subscribes, each in key order: if an
    /// unresolved token key and a source key are secretly one server key, removing one
    /// and then setting the other leaves the new mask in place.
    #[must_use]
    pub fn sync(&mut self) -> Vec<MonitorCall> {
        if self.in_sync {
            debug_assert!(!self.needs_calls(), "the registry changed without noting it: {self:?}");
            return Vec::new();
        }
        self.in_sync = true;
        let desired = self.desired_map();
        let stale: Vec<ServerKey> = self.held.keys().filter(|key| !desired.contains_key(*key)).cloned().collect();
        let mut calls = Vec::new();
        for key in stale {
            self.held.remove(&key);
            calls.push(MonitorCall { key, types: MonitorTypes::empty() });
        }
        for (key, types) in desired {
            if self.held.get(&key) != Some(&Held::Known(types)) {
                self.held.insert(key.clone(), Held::Known(types));
                calls.push(MonitorCall { key, types });
            }
        }
        calls
    }

    /// Whether a sync would make a call: a desired key not held with its mask, or a key
    /// held that is not desired.
    fn needs_calls(&self) -> bool {
        let desired = self.desired_map();
        desired.len() != self.held.len()
            || desired.iter().any(|(key, types)| self.held.get(key) != Some(&Held::Known(*types)))
    }

    /// The connection is gone and the server dropped every key with it.
    pub fn connection_lost(&mut self) {
        self.held.clear();
        self.in_sync = false;
    }

    /// The server refused `call`. Its key's state becomes unknown, so the next sync sends
    /// the key again: its desired mask, or `[]` if it is no longer desired (the server may
    /// still hold the old mask the refused call meant to replace).
    pub fn call_failed(&mut self, call: &MonitorCall) {
        let key = canonical(&self.directory, call.key.clone());
        self.held.insert(key, Held::Unknown);
        self.in_sync = false;
    }

    /// Learns that `task_id` runs `source` of `project_id`; canonicalises token keys that
    /// now resolve.
    pub fn learn_task(&mut self, task_id: &str, project_id: &str, source: &str) {
        if self.directory.learn_task(task_id, project_id, source) {
            self.canonicalise();
        }
    }

    /// Learns that `token` belongs to `source` of `project_id` (e.g. from `execute`);
    /// canonicalises token keys that now resolve.
    pub fn learn_token(&mut self, token: &str, project_id: &str, source: &str) {
        if self.directory.learn_token(token, project_id, source) {
            self.canonicalise();
        }
    }

    fn canonicalise(&mut self) {
        self.in_sync = false;
        for sub in self.subs.values_mut() {
            sub.key = canonical(&self.directory, sub.key.clone());
        }
        let movable: Vec<ServerKey> = self
            .held
            .keys()
            .filter(|key| matches!(key.base, BaseKey::Token { .. }))
            .filter(|key| canonical(&self.directory, (*key).clone()) != **key)
            .cloned()
            .collect();
        for key in movable {
            let Some(state) = self.held.remove(&key) else { continue };
            let target = canonical(&self.directory, key);
            // Both forms were set on what is one server key: the last call won, and we
            // cannot tell which that was.
            let merged = if self.held.contains_key(&target) { Held::Unknown } else { state };
            self.held.insert(target, merged);
        }
    }

    /// The server silently deleted the task's `p.<proj>.<src>` key and its pipe sub-keys
    /// on this connection (`apaevt_dashboard task_removed`). They are no longer held, so
    /// the next sync re-asserts the desired ones; `p.<proj>.*` and `*` are untouched.
    /// If the task id is unknown, every source key with the id's source becomes unknown
    /// and is sent again (harmless where nothing was deleted: same bits re-seed nothing).
    pub fn task_removed(&mut self, task_id: &str) {
        self.in_sync = false;
        let Some((prefix, id_source)) = task_id.split_once('.') else { return };
        match self.directory.lookup(task_id).map(|(p, s)| (p.to_owned(), s.to_owned())) {
            Some((project_id, source)) => self.forget_source_keys(&project_id, &source),
            None => self.mark_source_unknown(id_source),
        }
        // Unresolved token keys of this task were the same server key.
        self.held.retain(
            |key, _| !matches!(&key.base, BaseKey::Token { token } if Directory::token_prefix(token) == Some(prefix)),
        );
    }

    // Unknown, not "not held": a key that was not deleted after all must still be
    // unsubscribed once no longer desired.
    fn mark_source_unknown(&mut self, id_source: &str) {
        self.in_sync = false;
        for (key, state) in self.held.iter_mut() {
            if matches!(&key.base, BaseKey::Source { source, .. } if source == id_source) {
                *state = Held::Unknown;
            }
        }
    }

    /// Marks `p.<project_id>.<source>` and its pipe sub-keys as not held.
    pub fn forget_source_keys(&mut self, project_id: &str, source: &str) {
        self.in_sync = false;
        self.held.retain(|key, _| {
            !matches!(&key.base, BaseKey::Source { project_id: p, source: s } if p == project_id && s == source)
        });
    }

    /// Where an event of unknown task `task_id` (`"<prefix>.<source>"`) with gate bit
    /// `types` belongs. See [`Placement`].
    pub fn place_unknown(&self, task_id: &str, types: MonitorTypes) -> Placement {
        let Some((_, id_source)) = task_id.split_once('.') else { return Placement::Complete };
        // The distinct projects that could hold it (only none, one or several matters, so no
        // sort: a sort of `&str` alone compiled to 9 KB of wasm).
        let mut projects: Vec<&str> = Vec::new();
        let mut add = |project| {
            if !projects.contains(&project) {
                projects.push(project);
            }
        };
        let mut everything = false;
        let mut unresolved_token = false;
        for (key, mask) in self.desired_map_ref() {
            if !mask.intersects(types) {
                continue;
            }
            match &key.base {
                BaseKey::All => everything = true,
                BaseKey::Source { project_id, source } if source == id_source => add(project_id.as_str()),
                BaseKey::Source { .. } => {}
                BaseKey::Project { project_id } => add(project_id.as_str()),
                BaseKey::Token { token } => {
                    let prefix = task_id.split('.').next();
                    if Directory::token_prefix(token).is_none_or(|p| Some(p) == prefix) {
                        unresolved_token = true;
                    }
                }
            }
        }
        match (projects.as_slice(), everything || unresolved_token) {
            ([], false) => Placement::Complete,
            ([], true) if !unresolved_token => Placement::Complete,
            ([only], false) => Placement::Project((*only).to_string()),
            _ => Placement::Ambiguous,
        }
    }

    fn desired_map_ref(&self) -> impl Iterator<Item = (&ServerKey, MonitorTypes)> {
        self.subs.values().filter(|sub| !sub.types.is_empty()).map(|sub| (&sub.key, sub.types))
    }

    /// Every subscription that should get this event, each once, ascending.
    pub fn route(&self, ev: &EventRoute) -> Vec<SubId> {
        self.subs.iter().filter(|(_, sub)| self.delivers(sub, ev)).map(|(id, _)| *id).collect()
    }

    /// Whether a SUMMARY subscription covers this task through a scope the server does not
    /// seed (`token:"*"`, `projectId + source:"*"`): the client must fetch its status.
    pub fn needs_client_seed(&self, task_id: &str, project_id: &str, source: &str) -> bool {
        let ev = EventRoute { types: Some(MonitorTypes::SUMMARY), task_id: Some(task_id), project_id: Some(project_id), source: Some(source), ..EventRoute::default() };
        self.subs.values().any(|sub| {
            matches!(sub.key.base, BaseKey::All | BaseKey::Project { .. }) && sub.key.pipe.is_none() && self.delivers(sub, &ev)
        })
    }

    /// Whether some subscription would need [`Registry::needs_client_seed`] for some task.
    pub fn has_unseeded_scopes(&self) -> bool {
        self.subs.values().any(|sub| {
            sub.types.contains(MonitorTypes::SUMMARY) && sub.key.pipe.is_none() && matches!(sub.key.base, BaseKey::All | BaseKey::Project { .. })
        })
    }

    /// Every subscription whose types match, whatever its scope (a connection authenticated
    /// with a task token receives only that task's events). Server events still go only
    /// to `token:"*"` subscriptions with DASHBOARD.
    pub fn route_any_scope(&self, ev: &EventRoute) -> Vec<SubId> {
        let matches = |sub: &Sub| {
            ev.types.is_none_or(|bit| sub.types.intersects(bit))
                && (!ev.server_event || (sub.scope == Scope::All && sub.types.contains(MonitorTypes::DASHBOARD)))
        };
        self.subs.iter().filter(|(_, sub)| matches(sub)).map(|(id, _)| *id).collect()
    }

    /// Whether subscription `id`'s scope covers this task (ignoring types), e.g. to filter
    /// the multi-task `running` seed. A pipe scope covers no task as a whole, just as it
    /// never receives `apaevt_task`.
    pub fn matches_task(&self, id: SubId, task_id: &str, project_id: &str, source: &str) -> bool {
        let ev = EventRoute {
            task_id: Some(task_id),
            project_id: Some(project_id),
            source: Some(source),
            ..EventRoute::default()
        };
        self.subs.get(&id).is_some_and(|sub| self.scope_matches(sub, &ev))
    }

    fn delivers(&self, sub: &Sub, ev: &EventRoute) -> bool {
        if !ev.types.is_none_or(|bit| sub.types.intersects(bit)) {
            return false;
        }
        if ev.server_event {
            return sub.scope == Scope::All && sub.types.contains(MonitorTypes::DASHBOARD);
        }
        self.scope_matches(sub, ev)
    }

    fn scope_matches(&self, sub: &Sub, ev: &EventRoute) -> bool {
        if sub.key.pipe.is_some_and(|pipe| ev.pipe_id != Some(u64::from(pipe))) {
            return false;
        }
        let by_place = match &sub.key.base {
            BaseKey::All => true,
            BaseKey::Source { project_id, source: s } => self.place(ev) == (Some(project_id), Some(s)),
            BaseKey::Project { project_id } => self.place(ev).0 == Some(project_id),
            BaseKey::Token { .. } => false,
        };
        by_place || token_matches_id(sub, ev.task_id)
    }

    /// The event's (project, source): from its body, else from the directory by task id
    /// (looked up only for what the body lacks: most task events carry both).
    fn place<'a>(&'a self, ev: &EventRoute<'a>) -> (Option<&'a str>, Option<&'a str>) {
        if let (Some(project), Some(source)) = (ev.project_id, ev.source) {
            return (Some(project), Some(source));
        }
        let known = ev.task_id.and_then(|id| self.directory.lookup(id));
        (ev.project_id.or(known.map(|k| k.0)), ev.source.or(known.map(|k| k.1)))
    }

    /// What the server holds by our account, in key order; keys of unknown state are left out.
    pub fn held(&self) -> Vec<(ServerKey, MonitorTypes)> {
        self.held
            .iter()
            .filter_map(|(key, state)| match state {
                Held::Known(types) => Some((key.clone(), *types)),
                Held::Unknown => None,
            })
            .collect()
    }

    /// The merged set the server should hold, in key order.
    pub fn desired(&self) -> Vec<(ServerKey, MonitorTypes)> {
        self.desired_map().into_iter().collect()
    }

    fn desired_map(&self) -> SortedMap<ServerKey, MonitorTypes> {
        let mut merged = SortedMap::new();
        for sub in self.subs.values().filter(|sub| !sub.types.is_empty()) {
            *merged.get_or_insert_with(sub.key.clone(), MonitorTypes::empty) |= sub.types;
        }
        let deletable = merged.keys().any(|key| matches!(key.base, BaseKey::Source { .. } | BaseKey::Token { .. }));
        if self.watch_cleanup && deletable {
            *merged.get_or_insert_with(ServerKey { base: BaseKey::All, pipe: None }, MonitorTypes::empty) |=
                MonitorTypes::DASHBOARD;
        }
        merged
    }

    /// Whether to hold `*` with DASHBOARD beside source and token keys (the default): the
    /// server deletes those keys silently when their task is cleaned up (spec §3.6) and
    /// says so only in `apaevt_dashboard task_removed`, which only that key receives. The
    /// SDK then re-asserts the deleted keys at once, whatever the app subscribed to.
    /// Must be off on a connection authenticated with a task token: there `*` *is* the
    /// task's key, and setting it would replace the app's mask.
    pub fn set_watch_cleanup(&mut self, on: bool) {
        self.watch_cleanup = on;
        self.in_sync = false;
    }

    /// A subscription's scope and types.
    pub fn subscription(&self, id: SubId) -> Option<(&Scope, MonitorTypes)> {
        self.subs.get(&id).map(|sub| (&sub.scope, sub.types))
    }

    /// The number of subscriptions.
    pub fn len(&self) -> usize {
        self.subs.len()
    }

    /// True if there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.subs.is_empty()
    }

    /// What has been learned about tasks and tokens.
    pub fn directory(&self) -> &Directory {
        &self.directory
    }
}

/// `key` with its token replaced by the task's source key, if the directory knows it.
fn canonical(directory: &Directory, key: ServerKey) -> ServerKey {
    let BaseKey::Token { token } = &key.base else { return key };
    match directory.resolve_token(token) {
        Some((project_id, source)) => ServerKey {
            base: BaseKey::Source { project_id: project_id.to_owned(), source: source.to_owned() },
            pipe: key.pipe,
        },
        None => key,
    }
}

/// A token scope also matches by the id rule: the task id is `"<token prefix>.<source>"`
/// (with the source checked once the key is canonical).
fn token_matches_id(sub: &Sub, task_id: Option<&str>) -> bool {
    let (Scope::Token { token, .. }, Some(id)) = (&sub.scope, task_id) else { return false };
    let Some(rest) = Directory::token_prefix(token).and_then(|prefix| id.strip_prefix(prefix)?.strip_prefix('.'))
    else {
        return false;
    };
    match &sub.key.base {
        BaseKey::Source { source, .. } => rest == source,
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A registry without the cleanup watch, so key-merging tests see only the app's keys.
    fn plain() -> Registry {
        let mut reg = Registry::new(64);
        reg.set_watch_cleanup(false);
        reg
    }

    #[test]
    fn source_and_token_keys_bring_a_dashboard_watch_on_all_tasks() {
        let mut reg = Registry::new(64);
        reg.subscribe(1, project("p1"), SUMMARY);
        assert_eq!(reg.sync(), vec![MonitorCall { key: ServerKey::from(&project("p1")), types: SUMMARY }], "p.<proj>.* survives cleanup");
        reg.subscribe(2, source("p1", "chat_1"), FLOW);
        let all = ServerKey::from(&Scope::All);
        assert_eq!(reg.sync(), vec![MonitorCall { key: all.clone(), types: MonitorTypes::DASHBOARD }, call(&source("p1", "chat_1"), FLOW)]);
        reg.subscribe(3, Scope::All, TASK);
        assert_eq!(reg.sync(), vec![MonitorCall { key: all.clone(), types: TASK | MonitorTypes::DASHBOARD }]);
        // The watch brings dashboard events to no subscription that did not ask for them.
        let removed = EventRoute { types: Some(MonitorTypes::DASHBOARD), server_event: true, ..EventRoute::default() };
        assert!(reg.route(&removed).is_empty());
        reg.unsubscribe(2);
        reg.unsubscribe(3);
        assert_eq!(reg.sync(), vec![MonitorCall { key: all, types: MonitorTypes::empty() }, call(&source("p1", "chat_1"), MonitorTypes::empty())]);
    }

    /// Subscribes with the next unused id, as the app-facing side would.
    trait Add {
        fn add(&mut self, scope: Scope, types: MonitorTypes) -> SubId;
    }

    impl Add for Registry {
        fn add(&mut self, scope: Scope, types: MonitorTypes) -> SubId {
            let id = self.subs.keys().last().map_or(1, |last| last + 1);
            self.subscribe(id, scope, types);
            id
        }
    }

    const TOKEN: &str = "tk_bee3a8ea46c2d1f0aa55e1c0ffee0123";
    const TASK_ID: &str = "bee3a8ea.chat_1";
    const TASK: MonitorTypes = MonitorTypes::TASK;
    const SUMMARY: MonitorTypes = MonitorTypes::SUMMARY;
    const FLOW: MonitorTypes = MonitorTypes::FLOW;
    const SSE: MonitorTypes = MonitorTypes::SSE;

    fn source(project_id: &str, source: &str) -> Scope {
        Scope::Source { project_id: project_id.into(), source: source.into(), pipe: None }
    }

    fn project(project_id: &str) -> Scope {
        Scope::Project { project_id: project_id.into(), pipe: None }
    }

    fn token(pipe: Option<u32>) -> Scope {
        Scope::Token { token: TOKEN.into(), pipe }
    }

    fn source_pipe(pipe: u32) -> Scope {
        Scope::Source { project_id: "p1".into(), source: "chat_1".into(), pipe: Some(pipe) }
    }

    fn call(scope: &Scope, types: MonitorTypes) -> MonitorCall {
        MonitorCall { key: ServerKey::from(scope), types }
    }

    fn synced(subs: &[(Scope, MonitorTypes)]) -> (Registry, Vec<SubId>) {
        let mut reg = plain();
        let ids = subs.iter().map(|(scope, types)| reg.add(scope.clone(), *types)).collect();
        let _ = reg.sync();
        (reg, ids)
    }

    #[test]
    fn two_subscriptions_on_one_key_send_their_or_once() {
        let mut reg = plain();
        reg.add(source("p1", "chat_1"), TASK);
        reg.add(source("p1", "chat_1"), SUMMARY);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK | SUMMARY)]);
    }

    #[test]
    fn changing_one_subscriptions_types_resends_the_new_or() {
        let (mut reg, ids) = synced(&[(project("p1"), TASK), (project("p1"), SUMMARY)]);
        reg.unsubscribe(ids[1]);
        reg.add(project("p1"), FLOW);
        assert_eq!(reg.sync(), vec![call(&project("p1"), TASK | FLOW)]);
    }

    #[test]
    fn unsubscribing_one_sends_the_remaining_bits() {
        let (mut reg, ids) = synced(&[(project("p1"), TASK), (project("p1"), SUMMARY)]);
        assert!(reg.unsubscribe(ids[0]));
        assert_eq!(reg.sync(), vec![call(&project("p1"), SUMMARY)]);
    }

    #[test]
    fn unsubscribing_the_last_sends_empty_types() {
        let (mut reg, ids) = synced(&[(Scope::All, TASK)]);
        assert!(reg.unsubscribe(ids[0]));
        assert!(!reg.unsubscribe(ids[0]));
        let calls = reg.sync();
        assert_eq!(calls, vec![call(&Scope::All, MonitorTypes::empty())]);
        assert_eq!(calls[0].arguments(), serde_json::json!({"token": "*", "types": []}));
        assert!(reg.held().is_empty());
    }

    #[test]
    fn a_key_never_sent_is_not_unsubscribed() {
        let mut reg = plain();
        let id = reg.add(project("p1"), TASK);
        reg.unsubscribe(id);
        assert!(reg.sync().is_empty());
    }

    #[test]
    fn identical_subscriptions_are_ref_counted() {
        let (mut reg, ids) = synced(&[(project("p1"), TASK), (project("p1"), TASK)]);
        reg.unsubscribe(ids[0]);
        assert!(reg.sync().is_empty());
        reg.unsubscribe(ids[1]);
        assert_eq!(reg.sync(), vec![call(&project("p1"), MonitorTypes::empty())]);
    }

    #[test]
    fn token_and_source_are_separate_keys_before_learning() {
        let mut reg = plain();
        reg.add(token(None), TASK);
        reg.add(source("p1", "chat_1"), SUMMARY);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), SUMMARY), call(&token(None), TASK)]);
    }

    #[test]
    fn token_and_source_of_one_task_merge_once_learned() {
        let (mut reg, _) = synced(&[(token(None), TASK), (source("p1", "chat_1"), SUMMARY)]);
        reg.learn_task(TASK_ID, "p1", "chat_1");
        // Both forms were held: the server kept the last call's mask, so the OR is re-sent.
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK | SUMMARY)]);
        assert_eq!(reg.held(), vec![(ServerKey::from(&source("p1", "chat_1")), TASK | SUMMARY)]);
        assert!(reg.sync().is_empty());
    }

    #[test]
    fn a_merged_key_is_resent_even_when_the_or_equals_one_of_its_masks() {
        // The token call went first, so the server kept the source call's SUMMARY only.
        let (mut reg, _) = synced(&[(token(None), TASK | SUMMARY)]);
        reg.add(source("p1", "chat_1"), SUMMARY);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), SUMMARY)]);
        reg.learn_task(TASK_ID, "p1", "chat_1");
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK | SUMMARY)]);
    }

    #[test]
    fn a_held_token_key_alone_moves_to_its_source_key_without_a_call() {
        let (mut reg, _) = synced(&[(token(Some(2)), SSE)]);
        reg.learn_token(TOKEN, "p1", "chat_1");
        assert!(reg.sync().is_empty());
        assert_eq!(reg.held(), vec![(ServerKey::from(&source_pipe(2)), SSE)]);
    }

    #[test]
    fn a_token_subscribed_after_learning_uses_the_source_key() {
        let mut reg = plain();
        reg.learn_token(TOKEN, "p1", "chat_1");
        reg.add(token(None), TASK);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK)]);
    }

    #[test]
    fn resync_after_connection_lost_sends_exactly_the_desired_set() {
        let (mut reg, ids) =
            synced(&[(Scope::All, TASK), (project("p1"), SUMMARY), (project("p1"), FLOW), (project("p2"), TASK)]);
        reg.unsubscribe(ids[3]);
        reg.connection_lost();
        assert!(reg.held().is_empty());
        assert_eq!(reg.sync(), vec![call(&Scope::All, TASK), call(&project("p1"), SUMMARY | FLOW)]);
    }

    #[test]
    fn sync_is_idempotent() {
        let (mut reg, _) = synced(&[(Scope::All, TASK), (token(None), SUMMARY)]);
        assert!(reg.sync().is_empty());
        assert_eq!(reg.held(), reg.desired());
    }

    #[test]
    fn a_refused_subscribe_is_retried() {
        let mut reg = plain();
        reg.add(project("p1"), TASK);
        let calls = reg.sync();
        reg.call_failed(&calls[0]);
        assert!(reg.held().is_empty());
        assert_eq!(reg.sync(), calls);
        assert!(reg.sync().is_empty());
    }

    #[test]
    fn a_refused_unsubscribe_is_retried() {
        let (mut reg, ids) = synced(&[(project("p1"), TASK)]);
        reg.unsubscribe(ids[0]);
        let calls = reg.sync();
        reg.call_failed(&calls[0]);
        assert_eq!(reg.sync(), vec![call(&project("p1"), MonitorTypes::empty())]);
    }

    #[test]
    fn a_refused_token_call_is_retried_on_the_canonical_key() {
        let mut reg = plain();
        reg.add(token(None), TASK);
        let calls = reg.sync();
        reg.learn_task(TASK_ID, "p1", "chat_1");
        reg.call_failed(&calls[0]);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK)]);
    }

    #[test]
    fn task_removed_reasserts_only_the_tasks_source_keys() {
        let (mut reg, _) = synced(&[
            (Scope::All, TASK),
            (project("p1"), SUMMARY),
            (source("p1", "chat_1"), TASK),
            (source_pipe(3), SSE),
            (source("p1", "other"), TASK),
        ]);
        reg.learn_task(TASK_ID, "p1", "chat_1");
        reg.task_removed(TASK_ID);
        assert_eq!(reg.sync(), vec![call(&source("p1", "chat_1"), TASK), call(&source_pipe(3), SSE)]);
    }

    #[test]
    fn task_removed_of_an_unknown_task_reasserts_its_source_everywhere() {
        let (mut reg, _) = synced(&[
            (source("p1", "chat_1"), TASK),
            (source("p2", "chat_1"), TASK),
            (token(None), SSE),
            (project("p1"), TASK),
        ]);
        reg.task_removed(TASK_ID);
        let calls = reg.sync();
        assert_eq!(
            calls,
            vec![call(&source("p1", "chat_1"), TASK), call(&source("p2", "chat_1"), TASK), call(&token(None), SSE)]
        );
    }

    #[test]
    fn a_source_key_possibly_removed_is_still_unsubscribed_when_undesired() {
        // The removed task may have been another project's: p2's key may still exist.
        let (mut reg, ids) = synced(&[(source("p2", "chat_1"), TASK)]);
        reg.task_removed(TASK_ID);
        reg.unsubscribe(ids[0]);
        assert_eq!(reg.sync(), vec![call(&source("p2", "chat_1"), MonitorTypes::empty())]);
    }

    #[test]
    fn removed_keys_that_are_no_longer_desired_are_not_unsubscribed() {
        let (mut reg, ids) = synced(&[(source("p1", "chat_1"), TASK)]);
        reg.forget_source_keys("p1", "chat_1");
        reg.unsubscribe(ids[0]);
        assert!(reg.sync().is_empty());
    }

    fn task_event<'a>(types: MonitorTypes, project_id: &'a str, source: &'a str) -> EventRoute<'a> {
        EventRoute { types: Some(types), project_id: Some(project_id), source: Some(source), ..EventRoute::default() }
    }

    #[test]
    fn routing_matches_each_scope_kind() {
        let mut reg = plain();
        let all = reg.add(Scope::All, TASK);
        let p1 = reg.add(project("p1"), TASK);
        let chat = reg.add(source("p1", "chat_1"), TASK);
        let other = reg.add(source("p1", "other"), TASK);
        let p2 = reg.add(project("p2"), TASK);
        assert_eq!(reg.route(&task_event(TASK, "p1", "chat_1")), vec![all, p1, chat]);
        assert_eq!(reg.route(&task_event(TASK, "p2", "chat_1")), vec![all, p2]);
        assert!(!reg.route(&task_event(TASK, "p1", "other")).contains(&chat));
        assert!(reg.route(&task_event(TASK, "p1", "other")).contains(&other));
    }

    #[test]
    fn routing_checks_the_gate_bit() {
        let mut reg = plain();
        let task = reg.add(Scope::All, TASK);
        let both = reg.add(project("p1"), TASK | SUMMARY);
        assert_eq!(reg.route(&task_event(SUMMARY, "p1", "s")), vec![both]);
        assert_eq!(reg.route(&task_event(TASK, "p1", "s")), vec![task, both]);
        assert!(reg.route(&task_event(FLOW, "p1", "s")).is_empty());
    }

    #[test]
    fn unknown_events_match_any_types() {
        let mut reg = plain();
        let id = reg.add(project("p1"), MonitorTypes::OUTPUT);
        let ev = EventRoute { types: None, ..task_event(TASK, "p1", "s") };
        assert_eq!(reg.route(&ev), vec![id]);
        assert!(reg.route(&EventRoute { types: None, ..task_event(TASK, "p2", "s") }).is_empty());
    }

    #[test]
    fn token_scopes_route_by_id_prefix_and_by_learned_place() {
        let mut reg = plain();
        let id = reg.add(token(None), TASK);
        let by_id = EventRoute { types: Some(TASK), task_id: Some(TASK_ID), ..EventRoute::default() };
        assert_eq!(reg.route(&by_id), vec![id]);
        assert!(reg.route(&task_event(TASK, "p1", "chat_1")).is_empty());
        reg.learn_token(TOKEN, "p1", "chat_1");
        assert_eq!(reg.route(&task_event(TASK, "p1", "chat_1")), vec![id]);
        let other_source = EventRoute { task_id: Some("bee3a8ea.other"), ..by_id };
        assert!(reg.route(&other_source).is_empty());
    }

    #[test]
    fn events_with_only_a_task_id_route_through_the_directory() {
        let mut reg = plain();
        let chat = reg.add(source("p1", "chat_1"), MonitorTypes::OUTPUT);
        let p1 = reg.add(project("p1"), MonitorTypes::OUTPUT);
        let output =
            EventRoute { types: Some(MonitorTypes::OUTPUT), task_id: Some("0000aaaa.chat_1"), ..EventRoute::default() };
        assert!(reg.route(&output).is_empty());
        reg.learn_task("0000aaaa.chat_1", "p1", "chat_1");
        assert_eq!(reg.route(&output), vec![chat, p1]);
    }

    #[test]
    fn pipe_scopes_get_only_events_with_their_pipe_id() {
        let mut reg = plain();
        let pipe3 = reg.add(source_pipe(3), SSE | FLOW);
        let whole = reg.add(source("p1", "chat_1"), SSE | FLOW);
        let sse = |pipe_id| EventRoute { pipe_id, ..task_event(SSE, "p1", "chat_1") };
        assert_eq!(reg.route(&sse(Some(3))), vec![pipe3, whole]);
        assert_eq!(reg.route(&sse(Some(4))), vec![whole]);
        // Flow events carry no pipe_id, so a pipe scope never gets them.
        assert_eq!(reg.route(&task_event(FLOW, "p1", "chat_1")), vec![whole]);
    }

    #[test]
    fn dashboard_events_go_only_to_all_with_dashboard() {
        let mut reg = plain();
        let dash = reg.add(Scope::All, MonitorTypes::DASHBOARD);
        reg.add(Scope::All, TASK);
        reg.add(project("p1"), MonitorTypes::all());
        let ev = EventRoute {
            types: Some(MonitorTypes::DASHBOARD),
            task_id: Some(""),
            server_event: true,
            ..EventRoute::default()
        };
        assert_eq!(reg.route(&ev), vec![dash]);
        assert_eq!(reg.route(&EventRoute { types: None, ..ev }), vec![dash]);
    }

    #[test]
    fn matches_task_filters_the_running_seed_per_subscription() {
        let mut reg = plain();
        let all = reg.add(Scope::All, TASK);
        let tok = reg.add(token(None), TASK);
        let p2 = reg.add(project("p2"), TASK);
        let piped = reg.add(source_pipe(1), TASK);
        assert!(reg.matches_task(all, TASK_ID, "p1", "chat_1"));
        assert!(reg.matches_task(tok, TASK_ID, "p1", "chat_1"));
        assert!(!reg.matches_task(tok, "0000aaaa.chat_1", "p1", "chat_1"));
        assert!(!reg.matches_task(p2, TASK_ID, "p1", "chat_1"));
        assert!(!reg.matches_task(piped, TASK_ID, "p1", "chat_1"));
        assert!(!reg.matches_task(999, TASK_ID, "p1", "chat_1"));
    }

    #[test]
    fn subscriptions_are_readable_by_the_ids_the_app_chose() {
        let mut reg = plain();
        let (first, second) = (7, 9);
        reg.subscribe(first, Scope::All, TASK);
        reg.unsubscribe(first);
        reg.subscribe(second, project("p1"), FLOW);
        assert_eq!(reg.subscription(second), Some((&project("p1"), FLOW)));
        assert_eq!(reg.subscription(first), None);
        assert_eq!((reg.len(), reg.is_empty()), (1, false));
    }

    #[test]
    fn subscriptions_without_types_ask_for_nothing() {
        let mut reg = plain();
        reg.add(project("p1"), MonitorTypes::empty());
        assert!(reg.sync().is_empty());
        assert_eq!(reg.len(), 1);
    }

    #[test]
    fn debug_output_redacts_tokens() {
        let (mut reg, _) = synced(&[(token(Some(1)), SSE)]);
        reg.learn_token("tk_0123abcd5555666677778888", "p9", "s9");
        let text = format!("{reg:?} {:?}", reg.sync());
        assert!(text.contains("tk_bee3…"), "{text}");
        assert!(!text.contains("a8ea46c2") && !text.contains("abcd5555"), "token leaked: {text}");
    }

    mod model {
        //! Random operation sequences against a model server that applies each call with
        //! the real replace-per-key semantics.
        use super::*;
        use proptest::prelude::*;
        use std::collections::{BTreeMap, BTreeSet};

        /// (token, projectId, source) of the tasks in the model world.
        const TASKS: [(&str, &str, &str); 3] = [
            ("tk_aaaaaaaa00001111", "p1", "s1"),
            ("tk_bbbbbbbb00002222", "p1", "s2"),
            ("tk_cccccccc00003333", "p2", "s1"),
        ];

        fn task_id(task: usize) -> String {
            let (token, _, source) = TASKS[task];
            format!("{}.{source}", &token[3..11])
        }

        /// `token:"*"` takes no pipe, so kind 0 ignores it, as `ScopeSpec` validation would.
        fn scope(kind: u8, task: usize, pipe: Option<u32>) -> Scope {
            let (token, project_id, source) = TASKS[task];
            match kind % 4 {
                0 => Scope::All,
                1 => Scope::Token { token: token.into(), pipe },
                2 => Scope::Source { project_id: project_id.into(), source: source.into(), pipe },
                _ => Scope::Project { project_id: project_id.into(), pipe },
            }
        }

        #[derive(Clone, Debug)]
        enum Op {
            /// `types` picks from SUMMARY, OUTPUT and FLOW (bits 0–2), so that merged
            /// masks often equal or contain one another.
            Subscribe {
                kind: u8,
                task: usize,
                pipe: Option<u32>,
                types: u8,
            },
            Unsubscribe(usize),
            ConnectionLost,
            LearnTask(usize),
            LearnToken(usize),
            TaskRemoved(usize),
            Sync {
                failing: u8,
            },
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                6 => (any::<u8>(), 0..3usize, prop::option::weighted(0.25, 1..3u32), 0..8u8)
                    .prop_map(|(kind, task, pipe, types)| Op::Subscribe { kind, task, pipe, types }),
                3 => any::<usize>().prop_map(Op::Unsubscribe),
                1 => Just(Op::ConnectionLost),
                1 => (0..3usize).prop_map(Op::LearnTask),
                1 => (0..3usize).prop_map(Op::LearnToken),
                1 => (0..3usize).prop_map(Op::TaskRemoved),
                6 => prop_oneof![3 => Just(0u8), 1 => any::<u8>()].prop_map(|failing| Op::Sync { failing }),
            ]
        }

        /// The server's registry for one connection: key → (mask, when last set).
        #[derive(Default)]
        struct Server {
            keys: BTreeMap<ServerKey, (MonitorTypes, u64)>,
            /// Tasks whose token → source mapping the client has been told.
            known: BTreeSet<usize>,
            clock: u64,
        }

        impl Server {
            /// Token keys alias their task's source key once the mapping is known.
            fn resolve(&self, key: &ServerKey) -> ServerKey {
                let found = TASKS.iter().enumerate().find(|(i, (token, _, _))| {
                    self.known.contains(i) && matches!(&key.base, BaseKey::Token { token: t } if t == token)
                });
                match found {
                    Some((_, (_, project_id, source))) => ServerKey {
                        base: BaseKey::Source { project_id: (*project_id).into(), source: (*source).into() },
                        pipe: key.pipe,
                    },
                    None => key.clone(),
                }
            }

            fn apply(&mut self, call: &MonitorCall) {
                let key = self.resolve(&call.key);
                self.clock += 1;
                if call.types.is_empty() {
                    self.keys.remove(&key);
                } else {
                    self.keys.insert(key, (call.types, self.clock));
                }
            }

            /// The token's key and its source key were one key all along: the last set wins.
            fn learn(&mut self, task: usize) {
                if !self.known.insert(task) {
                    return;
                }
                let token_keys: Vec<ServerKey> = self.keys.keys().filter(|k| self.resolve(k) != **k).cloned().collect();
                for key in token_keys {
                    let Some(entry) = self.keys.remove(&key) else { continue };
                    let target = self.resolve(&key);
                    let newest = match self.keys.get(&target) {
                        Some(existing) if existing.1 > entry.1 => *existing,
                        _ => entry,
                    };
                    self.keys.insert(target, newest);
                }
            }

            fn remove_task(&mut self, task: usize) {
                let (token, project_id, source) = TASKS[task];
                self.keys.retain(|key, _| match &key.base {
                    BaseKey::Source { project_id: p, source: s } => !(p == project_id && s == source),
                    BaseKey::Token { token: t } => t != token,
                    _ => true,
                });
            }

            fn state(&self) -> Vec<(ServerKey, MonitorTypes)> {
                self.keys.iter().map(|(key, (types, _))| (key.clone(), *types)).collect()
            }
        }

        struct World {
            reg: Registry,
            server: Server,
            ids: Vec<SubId>,
        }

        impl World {
            fn run(&mut self, op: Op) -> Result<(), TestCaseError> {
                match op {
                    Op::Subscribe { kind, task, pipe, types } => {
                        let types = MonitorTypes::from_bits_retain(types << 2);
                        let id = self.reg.add(scope(kind, task, pipe), types);
                        self.ids.push(id);
                    }
                    Op::Unsubscribe(pick) if !self.ids.is_empty() => {
                        let id = self.ids.remove(pick % self.ids.len());
                        prop_assert!(self.reg.unsubscribe(id));
                    }
                    Op::Unsubscribe(_) => {}
                    Op::ConnectionLost => {
                        self.server.keys.clear();
                        self.reg.connection_lost();
                    }
                    Op::LearnTask(task) => {
                        let (_, project_id, source) = TASKS[task];
                        self.reg.learn_task(&task_id(task), project_id, source);
                        self.server.learn(task);
                    }
                    Op::LearnToken(task) => {
                        let (token, project_id, source) = TASKS[task];
                        self.reg.learn_token(token, project_id, source);
                        self.server.learn(task);
                    }
                    Op::TaskRemoved(task) => {
                        self.server.remove_task(task);
                        self.reg.task_removed(&task_id(task));
                    }
                    Op::Sync { failing } => self.sync(failing)?,
                }
                Ok(())
            }

            /// Calls whose index bit is set in `failing` are refused by the server.
            fn sync(&mut self, failing: u8) -> Result<(), TestCaseError> {
                let calls = self.reg.sync();
                let mut any_failed = false;
                for (i, call) in calls.iter().enumerate() {
                    if i < 8 && failing & (1 << i) != 0 {
                        self.reg.call_failed(call);
                        any_failed = true;
                    } else {
                        self.server.apply(call);
                    }
                }
                if !any_failed {
                    prop_assert_eq!(self.server.state(), self.reg.desired());
                    prop_assert_eq!(self.reg.held(), self.reg.desired());
                    prop_assert!(self.reg.sync().is_empty());
                }
                Ok(())
            }
        }

        proptest! {
            // The merge-after-learn cases need a few ordered steps; more cases find them.
            #![proptest_config(ProptestConfig::with_cases(1000))]
            #[test]
            fn the_server_always_holds_the_desired_merged_set(ops in prop::collection::vec(op(), 1..60)) {
                let mut world = World { reg: Registry::new(16), server: Server::default(), ids: Vec::new() };
                for op in ops {
                    world.run(op)?;
                }
                world.sync(0)?;
            }
        }
    }
}
