//! What the SDK has learned about tasks: task id → (projectId, source), and token →
//! (projectId, source). It canonicalises token scopes to their `p.<proj>.<src>` key and
//! routes events that carry only a task id (`output`, `apaevt_sse`, DETAIL events).
//!
//! Task ids are `"<first 8 hex of the token after tk_>.<source>"` and tokens are
//! deterministic per (user, project, source), so every mapping stays true across runs.

use std::fmt;

use crate::core::sorted_map::SortedMap;

/// A bounded memory of tasks and tokens, each evicting the least recently learned entry
/// once `capacity` is reached.
///
/// ```
/// use runwatch::protocol::rocketride::directory::Directory;
/// let mut dir = Directory::new(100);
/// assert!(dir.learn_task("bee3a8ea.chat_1", "proj", "chat_1"));
/// assert_eq!(dir.lookup("bee3a8ea.chat_1"), Some(("proj", "chat_1")));
/// // A token resolves through the task id it implies.
/// assert_eq!(dir.resolve_token("tk_bee3a8ea46c2d1f0aa"), Some(("proj", "chat_1")));
/// ```
pub struct Directory {
    tasks: Recent,
    tokens: Recent,
}

impl Directory {
    /// A directory that remembers at most `capacity` tasks and `capacity` tokens
    /// (at least one of each).
    pub fn new(capacity: usize) -> Self {
        Directory { tasks: Recent::new(capacity), tokens: Recent::new(capacity) }
    }

    /// Records that `task_id` runs `source` of `project_id`. True if it was new or changed.
    pub fn learn_task(&mut self, task_id: &str, project_id: &str, source: &str) -> bool {
        self.tasks.learn(task_id, project_id, source)
    }

    /// Records that `token` belongs to `source` of `project_id`. A `tk_` token also
    /// teaches the task id it implies. True if either mapping was new or changed.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::directory::Directory;
    /// let mut dir = Directory::new(10);
    /// assert!(dir.learn_token("tk_0123abcd99", "proj", "src"));
    /// assert_eq!(dir.lookup("0123abcd.src"), Some(("proj", "src")));
    /// assert!(!dir.learn_token("tk_0123abcd99", "proj", "src"));
    /// ```
    pub fn learn_token(&mut self, token: &str, project_id: &str, source: &str) -> bool {
        let token_changed = self.tokens.learn(token, project_id, source);
        let task_changed = match Self::token_prefix(token) {
            Some(prefix) => self.learn_task(&format!("{prefix}.{source}"), project_id, source),
            None => false,
        };
        token_changed || task_changed
    }

    /// The (projectId, source) of a known task id.
    pub fn lookup(&self, task_id: &str) -> Option<(&str, &str)> {
        self.tasks.get(task_id)
    }

    /// The (projectId, source) a token belongs to: from an explicitly learned token, else
    /// from the one known task whose id is `"<token prefix>.<its source>"`. If two known
    /// tasks share the prefix (a 32-bit collision), the token stays unresolved.
    pub fn resolve_token(&self, token: &str) -> Option<(&str, &str)> {
        self.tokens.get(token).or_else(|| self.resolve_by_prefix(token))
    }

    fn resolve_by_prefix(&self, token: &str) -> Option<(&str, &str)> {
        let prefix = Self::token_prefix(token)?;
        let id_prefix = format!("{prefix}.");
        let mut candidates = self
            .tasks
            .from(&id_prefix)
            .take_while(|(id, _)| id.starts_with(&id_prefix))
            .filter(|(id, (_, source))| id[prefix.len() + 1..] == **source)
            .map(|(_, place)| place);
        match (candidates.next(), candidates.next()) {
            (Some(place), None) => Some(place),
            _ => None,
        }
    }

    /// Forgets a task id (not the tokens learned for it).
    pub fn forget_task(&mut self, task_id: &str) {
        self.tasks.remove(task_id);
    }

    /// The 8 hex characters of a `tk_` token that start its tasks' ids.
    ///
    /// ```
    /// use runwatch::protocol::rocketride::directory::Directory;
    /// assert_eq!(Directory::token_prefix("tk_bee3a8ea46c2"), Some("bee3a8ea"));
    /// assert_eq!(Directory::token_prefix("pk_bee3a8ea46c2"), None);
    /// assert_eq!(Directory::token_prefix("tk_bee3"), None);
    /// ```
    pub fn token_prefix(token: &str) -> Option<&str> {
        let prefix = token.strip_prefix("tk_")?.get(..8)?;
        prefix.bytes().all(|b| b.is_ascii_hexdigit()).then_some(prefix)
    }

    /// The number of known tasks.
    pub fn len(&self) -> usize {
        self.tasks.entries.len()
    }

    /// True if no task is known.
    pub fn is_empty(&self) -> bool {
        self.tasks.entries.is_empty()
    }
}

// Counts only: the token map holds credentials.
impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("tasks", &self.tasks.entries.len())
            .field("tokens", &self.tokens.entries.len())
            .field("capacity", &self.tasks.capacity)
            .finish()
    }
}

/// Name → (projectId, source), evicting the least recently learned name.
///
/// Each entry carries the stamp of its last learning, and eviction looks for the lowest
/// one: a scan, but only when a new name arrives with the directory full, whereas a stamp
/// index would be updated on every event (almost every event re-learns its task).
struct Recent {
    capacity: usize,
    entries: SortedMap<String, Entry>,
    next_stamp: u64,
}

struct Entry {
    project_id: String,
    source: String,
    stamp: u64,
}

impl Recent {
    fn new(capacity: usize) -> Self {
        Recent { capacity: capacity.max(1), entries: SortedMap::new(), next_stamp: 0 }
    }

    fn learn(&mut self, name: &str, project_id: &str, source: &str) -> bool {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        if let Some(entry) = self.entries.get_mut(name) {
            // Seen again (almost every event): now the newest, no allocation unless its
            // place changed.
            let changed = entry.place() != (project_id, source);
            if changed {
                (entry.project_id, entry.source) = (project_id.to_owned(), source.to_owned());
            }
            entry.stamp = stamp;
            return changed;
        }
        let entry = Entry { project_id: project_id.to_owned(), source: source.to_owned(), stamp };
        self.entries.insert(name.to_owned(), entry);
        if self.entries.len() > self.capacity {
            // Stamps are unique, so this drops exactly the least recently learned entry.
            let oldest = self.entries.values().map(|e| e.stamp).min();
            self.entries.retain(|_, e| Some(e.stamp) != oldest);
        }
        true
    }

    fn remove(&mut self, name: &str) {
        self.entries.remove(name);
    }

    fn get(&self, name: &str) -> Option<(&str, &str)> {
        self.entries.get(name).map(Entry::place)
    }

    /// Entries in name order, starting at the first name not below `start`.
    fn from<'a>(&'a self, start: &str) -> impl Iterator<Item = (&'a str, (&'a str, &'a str))> + 'a {
        self.entries.range_from(start).map(|(name, entry)| (name.as_str(), entry.place()))
    }
}

impl Entry {
    fn place(&self) -> (&str, &str) {
        (&self.project_id, &self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn learning_reports_new_and_changed_only() {
        let mut dir = Directory::new(4);
        assert!(dir.learn_task("aaaaaaaa.s", "p", "s"));
        assert!(!dir.learn_task("aaaaaaaa.s", "p", "s"));
        assert!(dir.learn_task("aaaaaaaa.s", "q", "s"));
        assert_eq!(dir.lookup("aaaaaaaa.s"), Some(("q", "s")));
        assert_eq!(dir.len(), 1);
    }

    #[test]
    fn the_least_recently_learned_task_is_evicted() {
        let mut dir = Directory::new(2);
        dir.learn_task("a.s", "p", "s");
        dir.learn_task("b.s", "p", "s");
        dir.learn_task("a.s", "p", "s"); // re-learning refreshes it
        dir.learn_task("c.s", "p", "s");
        assert_eq!(dir.len(), 2);
        assert_eq!(dir.lookup("b.s"), None);
        assert!(dir.lookup("a.s").is_some() && dir.lookup("c.s").is_some());
    }

    #[test]
    fn explicit_tokens_win_over_the_prefix_rule() {
        let mut dir = Directory::new(8);
        dir.learn_task("0123abcd.s", "p", "s");
        dir.learn_token("pk_opaque", "q", "t");
        assert_eq!(dir.resolve_token("tk_0123abcdffff"), Some(("p", "s")));
        assert_eq!(dir.resolve_token("pk_opaque"), Some(("q", "t")));
        assert_eq!(dir.resolve_token("tk_99999999ffff"), None);
    }

    #[test]
    fn a_prefix_shared_by_two_tasks_resolves_nothing() {
        let mut dir = Directory::new(8);
        dir.learn_task("0123abcd.s", "p", "s");
        dir.learn_task("0123abcd.t", "p", "t");
        assert_eq!(dir.resolve_token("tk_0123abcdffff"), None);
    }

    #[test]
    fn the_prefix_rule_needs_the_id_to_end_in_the_tasks_own_source() {
        let mut dir = Directory::new(8);
        dir.learn_task("0123abcd.s", "p", "other");
        assert_eq!(dir.resolve_token("tk_0123abcdffff"), None);
    }

    #[test]
    fn forgetting_a_task_keeps_its_tokens() {
        let mut dir = Directory::new(8);
        dir.learn_token("tk_0123abcdffff", "p", "s");
        dir.forget_task("0123abcd.s");
        assert_eq!(dir.lookup("0123abcd.s"), None);
        assert!(dir.is_empty());
        assert_eq!(dir.resolve_token("tk_0123abcdffff"), Some(("p", "s")));
    }

    #[test]
    fn debug_shows_counts_not_tokens() {
        let mut dir = Directory::new(8);
        dir.learn_token("tk_0123abcdffff", "p", "s");
        assert_eq!(format!("{dir:?}"), "Directory { tasks: 1, tokens: 1, capacity: 8 }");
    }
}
