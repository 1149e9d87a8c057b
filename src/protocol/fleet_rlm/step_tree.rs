//! A run's step tree, rebuilt from `parent_id` (spec §4.2).
//!
//! Steps arrive out of order (REPL steps go through a queue) and may repeat; the tree is
//! built from the *set* of steps, so arrival order cannot change it. Siblings are ordered
//! by step index (the `s<N>` of the id), never by timestamp (errata 4). A step whose
//! parent never arrived hangs from the root with `parentMissing`; a parent cycle (which a
//! sane server never sends) is cut the same way, so every step appears exactly once.

use std::collections::{HashMap, HashSet};

use serde::Serialize;
use tsify::Tsify;

use super::execution::ExecutionStep;
use crate::core::sorted_map::SortedMap;

/// One step and its children, ordered by step index.
#[derive(Tsify, Serialize, Debug, Clone, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct StepNode {
    pub step: ExecutionStep,
    /// The step's index (`s<N>`), when its id has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[tsify(optional)]
    pub index: Option<u64>,
    /// `parentId` names a step that has not arrived (lost, or not yet): the step is shown
    /// at the top level until it does.
    pub parent_missing: bool,
    pub children: Vec<StepNode>,
}

/// Where steps sort: by index, then id (steps without an index last).
pub type StepKey = (u64, String);

/// The sort key of a step.
#[must_use]
pub fn step_key(step: &ExecutionStep) -> StepKey {
    (step.index().unwrap_or(u64::MAX), step.id.clone())
}

/// The forest of `steps` (keyed by [`step_key`]): the root's children, in order.
#[must_use]
pub fn build_tree(steps: &SortedMap<StepKey, ExecutionStep>) -> Vec<StepNode> {
    let key_of: HashMap<&str, &StepKey> = steps.iter().map(|(k, s)| (s.id.as_str(), k)).collect();
    let parent_of = |step: &ExecutionStep| step.parent_id.as_deref().and_then(|p| key_of.get(p).copied()).filter(|k| k.1 != step.id);
    let cut = cycle_members(steps, &parent_of);
    let mut children: SortedMap<Option<&StepKey>, Vec<&StepKey>> = SortedMap::new();
    for (key, step) in steps.iter() {
        let parent = if cut.contains(key) { None } else { parent_of(step) };
        children.get_or_insert_with(parent, Vec::new).push(key);
    }
    let roots = children.get(&None).cloned().unwrap_or_default();
    roots.into_iter().map(|k| node(k, steps, &children, &key_of)).collect()
}

fn node<'a>(
    key: &'a StepKey,
    steps: &'a SortedMap<StepKey, ExecutionStep>,
    children: &SortedMap<Option<&'a StepKey>, Vec<&'a StepKey>>,
    key_of: &HashMap<&str, &StepKey>,
) -> StepNode {
    let step = &steps[key];
    let parent_missing = step.parent_id.as_deref().is_some_and(|p| !is_virtual_root(p) && !key_of.contains_key(p));
    let kids = children.get(&Some(key)).map(|k| k.iter().map(|k| node(k, steps, children, key_of)).collect()).unwrap_or_default();
    StepNode { step: step.clone(), index: step.index(), parent_missing, children: kids }
}

/// `"<run_id>:root"`, the parent of top-level steps, which is never sent.
fn is_virtual_root(parent_id: &str) -> bool {
    parent_id.ends_with(":root")
}

/// The steps that sit on a parent cycle: each is cut from its parent.
fn cycle_members<'a>(
    steps: &'a SortedMap<StepKey, ExecutionStep>,
    parent_of: &dyn Fn(&ExecutionStep) -> Option<&'a StepKey>,
) -> HashSet<&'a StepKey> {
    let mut settled: HashSet<&StepKey> = HashSet::new();
    let mut cut = HashSet::new();
    for start in steps.keys() {
        let mut path: Vec<&StepKey> = Vec::new();
        let mut at = Some(start);
        while let Some(key) = at {
            if settled.contains(key) {
                break;
            }
            if let Some(pos) = path.iter().position(|k| *k == key) {
                cut.extend(path[pos..].iter().copied());
                break;
            }
            path.push(key);
            at = parent_of(&steps[key]);
        }
        settled.extend(path);
    }
    cut
}
