//! The events socket plug-in driven through the engine: run instances, step trees rebuilt
//! from `parent_id` whatever the arrival order (a property test over permutations and
//! copies), duplicates dropped and counted, holes listed, the lossy reconnect reported,
//! the "connected but no events" diagnostic, and an auth failure that stops reconnecting.

mod fleet_support;

use fleet_support::{sample, Shell};
use proptest::prelude::*;
use runwatch::core::lifecycle::ConnState;
use runwatch::core::outputs::{Diagnostic, UnreplayableReason};
use runwatch::core::time::Instant;
use runwatch::protocol::fleet_rlm::auth::Endpoint;
use runwatch::protocol::fleet_rlm::execution::ExecutionEvent;
use runwatch::protocol::fleet_rlm::runs::{RunStatus, RunsConfig};
use runwatch::protocol::fleet_rlm::step_tree::StepNode;
use runwatch::protocol::fleet_rlm::subscriber::{EventsClient, EventsConfig, FleetEvents, SubscriberFrame};
use serde_json::json;

const RUN: &str = "default:anonymous:sess-b:1";

fn client_with(config: EventsConfig) -> Shell<FleetEvents> {
    let mut shell = Shell::new(EventsClient::new(config, Instant::from_millis(0)));
    shell.conn.listen(1);
    assert_eq!(shell.conn.state(), ConnState::Live);
    shell
}

fn client() -> Shell<FleetEvents> {
    client_with(EventsConfig::new("sess-b"))
}

fn started(run: &str) -> String {
    json!({"type": "execution_started", "run_id": run, "workspace_id": "default", "user_id": "anonymous", "session_id": "sess-b", "step": null, "summary": null}).to_string()
}

/// Step `n` of `run` under `parent` (a step number, or `None` for the run's root).
fn step(run: &str, n: u64, parent: Option<u64>) -> String {
    let parent_id = parent.map_or(format!("{run}:root"), |p| format!("{run}:s{p}"));
    let step = json!({"id": format!("{run}:s{n}"), "parent_id": parent_id, "type": "llm", "label": format!("step {n}"),
        "depth": 0, "actor_kind": "root_rlm", "actor_id": null, "lane_key": "root_rlm:depth-0", "input": null, "output": null,
        "timestamp": 1795394016.0 - n as f64});
    json!({"type": "execution_step", "run_id": run, "workspace_id": "default", "user_id": "anonymous", "session_id": "sess-b", "step": step, "summary": null}).to_string()
}

/// The tree as (index, children) for comparisons.
#[derive(Debug, PartialEq)]
struct Shape(Option<u64>, bool, Vec<Shape>);

fn shape(nodes: &[StepNode]) -> Vec<Shape> {
    nodes.iter().map(|n| Shape(n.index, n.parent_missing, shape(&n.children))).collect()
}

fn count(nodes: &[StepNode]) -> usize {
    nodes.iter().map(|n| 1 + count(&n.children)).sum()
}

#[test]
fn the_sample_run_becomes_a_tree_in_index_order() {
    let mut shell = client();
    let lines = sample();
    for i in [2, 5, 6, 8] {
        shell.frame(lines[i]);
    }
    let runs = shell.conn.runs();
    assert_eq!(runs.version, shell.conn.runs_version());
    assert_eq!(runs.runs.len(), 1);
    let run = &runs.runs[0];
    assert_eq!((run.run_id.as_str(), run.status, run.saw_start, run.steps), (RUN, RunStatus::Completed, true, 3));
    assert_eq!(shape(&run.tree), vec![Shape(Some(3), false, vec![Shape(Some(5), false, vec![])]), Shape(Some(9), false, vec![])]);
    assert_eq!((run.missing.clone(), run.missing_count), (vec![1, 2, 4, 6, 7, 8], 6), "holes in the indices are listed");
    assert_eq!(run.summary.as_ref().unwrap().status.as_deref(), Some("completed"));
    assert_eq!(shell.delivered().len(), 4);
}

#[test]
fn out_of_order_steps_are_ordered_by_index_and_copies_are_dropped_and_counted() {
    let mut shell = client();
    shell.frame(&started(RUN));
    for (n, parent) in [(2, Some(1)), (3, None), (1, None), (2, Some(1)), (3, None)] {
        shell.frame(&step(RUN, n, parent));
    }
    let runs = shell.conn.runs();
    let run = &runs.runs[0];
    assert_eq!(shape(&run.tree), vec![Shape(Some(1), false, vec![Shape(Some(2), false, vec![])]), Shape(Some(3), false, vec![])]);
    assert_eq!((run.steps, run.duplicates, run.missing_count), (3, 2, 0));
    let stats = shell.conn.stats();
    assert_eq!((stats.events_delivered, stats.duplicates, stats.ignored), (4, 2, 0), "copies are not delivered");
    assert_eq!(shell.conn.run_store().stats().duplicates, 2);
}

#[test]
fn a_step_whose_parent_never_came_hangs_from_the_root_until_it_does() {
    let mut shell = client();
    shell.frame(&step(RUN, 5, Some(4)));
    let runs = shell.conn.runs();
    assert!(!runs.runs[0].saw_start, "joined mid-run");
    assert_eq!(shape(&runs.runs[0].tree), vec![Shape(Some(5), true, vec![])]);
    shell.frame(&step(RUN, 4, None));
    assert_eq!(shape(&shell.conn.runs().runs[0].tree), vec![Shape(Some(4), false, vec![Shape(Some(5), false, vec![])])]);
}

#[test]
fn a_completion_without_step_or_summary_means_the_chat_socket_dropped() {
    let mut shell = client();
    shell.frame(&started("default:anonymous:sess-c:1"));
    shell.frame(r#"{"type":"execution_completed","run_id":"default:anonymous:sess-c:1","workspace_id":"default","user_id":"anonymous","session_id":"sess-c","step":null,"summary":null}"#);
    let runs = shell.conn.runs();
    assert_eq!((runs.runs.len(), runs.runs[0].status, runs.runs[0].summary.is_none()), (1, RunStatus::Interrupted, true));
}

#[test]
fn a_repeated_run_id_opens_a_new_run_instance() {
    let mut shell = client();
    shell.frame(&started(RUN));
    shell.frame(&step(RUN, 1, None));
    shell.frame(&started(RUN)); // the first completion was lost
    shell.frame(&step(RUN, 1, None));
    shell.frame(&step(RUN, 2, None));
    let runs = shell.conn.runs();
    assert_eq!(runs.runs.len(), 2);
    assert_eq!((runs.runs[0].status, runs.runs[0].steps), (RunStatus::Unfinished, 1));
    assert_eq!((runs.runs[1].status, runs.runs[1].steps, runs.runs[1].duplicates), (RunStatus::Running, 2, 0));
    assert!(runs.runs[0].run_key < runs.runs[1].run_key);
}

/// `step(run, n, parent)` with another label and timestamp: the same id in another run.
fn other_step(run: &str, n: u64, parent: Option<u64>) -> String {
    step(run, n, parent).replace(&format!("\"step {n}\""), &format!("\"other step {n}\"")).replace("1795394", "1795395")
}

/// `execution_completed` of `run` with its output step `step` (a frame of [`step`]) and a summary of `status`.
fn completed(run: &str, step: &str, status: &str) -> String {
    let step: serde_json::Value = serde_json::from_str(step).unwrap();
    json!({"type": "execution_completed", "run_id": run, "workspace_id": "default", "user_id": "anonymous", "session_id": "sess-b",
        "step": step["step"], "summary": {"run_id": run, "status": status}}).to_string()
}

#[test]
fn a_run_that_reuses_a_failed_runs_id_and_was_joined_late_is_a_new_run() {
    // A failed turn leaves the history as it was, so the next turn has the same run_id
    // (spec §0.8); here the events socket missed that turn's execution_started.
    let mut shell = client();
    shell.frame(&started(RUN));
    for n in 1..=3 {
        shell.frame(&step(RUN, n, None));
    }
    shell.frame(&completed(RUN, &step(RUN, 3, None), "error"));
    // A copy of the ended run's output step (it arrived after the completion) is still a copy.
    shell.frame(&step(RUN, 3, None));
    for n in [2, 4] {
        shell.frame(&other_step(RUN, n, None));
    }
    shell.frame(&completed(RUN, &other_step(RUN, 5, None), "completed"));
    let runs = shell.conn.runs();
    assert_eq!(runs.runs.len(), 2, "the failed run and the one that reused its id");
    let (failed, next) = (&runs.runs[0], &runs.runs[1]);
    assert_eq!((failed.status, failed.steps, failed.duplicates), (RunStatus::Error, 3, 1));
    assert_eq!(failed.summary.as_ref().unwrap().status.as_deref(), Some("error"), "its summary is not overwritten");
    assert_eq!((next.status, next.saw_start, next.steps), (RunStatus::Completed, false, 3));
    assert_eq!(next.missing, vec![1, 3], "the steps before the socket heard the run are holes of the new run");
}

#[test]
fn a_late_step_of_an_ended_run_still_fills_its_hole() {
    let mut shell = client();
    shell.frame(&started(RUN));
    shell.frame(&step(RUN, 1, None));
    shell.frame(&completed(RUN, &step(RUN, 3, None), "completed"));
    shell.frame(&step(RUN, 2, Some(1))); // held back by the server's REPL queue
    shell.frame(&completed(RUN, &step(RUN, 3, None), "completed")); // a copy of the completion
    let runs = shell.conn.runs();
    assert_eq!(runs.runs.len(), 1);
    assert_eq!((runs.runs[0].status, runs.runs[0].steps, runs.runs[0].missing_count), (RunStatus::Completed, 3, 0));
}

#[test]
fn the_store_is_bounded() {
    let config = EventsConfig { runs: RunsConfig { max_runs: 2, max_steps: 2, max_missing_listed: 1 }, ..EventsConfig::new("sess-b") };
    let mut shell = client_with(config);
    for r in 1..=3 {
        let run = format!("default:anonymous:sess-b:{r}");
        shell.frame(&started(&run));
        for n in [1, 2, 3, 9] {
            shell.frame(&step(&run, n, None));
        }
    }
    let runs = shell.conn.runs();
    assert_eq!(runs.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), vec!["default:anonymous:sess-b:2", "default:anonymous:sess-b:3"]);
    assert_eq!((runs.runs[1].steps, runs.runs[1].steps_dropped), (2, 2));
    assert_eq!(shell.conn.run_store().stats().runs_evicted, 1);
}

#[test]
fn a_reconnect_re_joins_the_session_and_says_what_may_be_lost() {
    let mut shell = client();
    shell.frame(&started(RUN));
    shell.frame(&step(RUN, 1, None));
    shell.close(1006);
    shell.until_live();
    assert_eq!(shell.opens, 2);
    let (resubscribed, unreplayable) = shell
        .diagnostics()
        .into_iter()
        .find_map(|d| match d {
            Diagnostic::Resync { resubscribed, unreplayable, .. } => Some((resubscribed.clone(), unreplayable.clone())),
            _ => None,
        })
        .expect("a resync");
    assert_eq!(resubscribed, vec!["session_id=sess-b".to_string()]);
    assert_eq!(shell.conn.endpoint(), Endpoint::Events { session_id: "sess-b".into() }, "every attempt's URL names the session");
    assert_eq!((unreplayable.len(), unreplayable[0].reason), (1, UnreplayableReason::Unsupported));
    assert!(unreplayable[0].message.contains("no replay") && unreplayable[0].message.contains(RUN), "{}", unreplayable[0].message);
    assert!(shell.conn.runs().runs[0].possibly_incomplete);
    shell.frame(&step(RUN, 4, None));
    assert_eq!(shell.conn.runs().runs[0].missing, vec![2, 3], "the offline hole shows");
}

#[test]
fn a_turn_with_no_events_on_an_open_socket_is_reported_once_with_what_to_check() {
    let mut shell = client();
    shell.conn.turn_started(shell.now);
    shell.advance(14_999);
    assert!(!shell.diagnostics().iter().any(|d| matches!(d, Diagnostic::Stalled { .. })));
    shell.advance(1);
    let stalled: Vec<_> = shell.diagnostics().into_iter().filter(|d| matches!(d, Diagnostic::Stalled { .. })).cloned().collect();
    let [Diagnostic::Stalled { silent_ms, message, .. }] = &stalled[..] else { panic!("{stalled:?}") };
    assert_eq!(*silent_ms, 15_000);
    assert!(message.contains("reverse proxy") && message.contains("sess-b") && message.contains("tenant"), "{message}");
    shell.advance(60_000);
    assert_eq!(shell.diagnostics().iter().filter(|d| matches!(d, Diagnostic::Stalled { .. })).count(), 1, "once per turn");
}

#[test]
fn no_stall_is_reported_when_events_arrive_or_the_turn_ends() {
    let mut shell = client();
    shell.conn.turn_started(shell.now);
    shell.advance(3_000);
    shell.frame(&started(RUN));
    shell.advance(60_000);
    let mut other = client();
    other.conn.turn_started(other.now);
    other.advance(3_000);
    other.conn.turn_ended(other.now);
    other.advance(60_000);
    for s in [&shell, &other] {
        assert!(!s.diagnostics().iter().any(|d| matches!(d, Diagnostic::Stalled { .. })));
    }
}

#[test]
fn an_auth_failure_on_the_events_socket_stops_reconnecting() {
    let mut shell = client();
    shell.frame(r#"{"type":"error","code":"auth_failed","message":"Signature has expired"}"#);
    assert!(matches!(shell.delivered()[..], [SubscriberFrame::Error(_)]));
    shell.close(1008);
    shell.advance(10 * 60_000);
    assert_eq!((shell.conn.state(), shell.opens), (ConnState::AuthFailed, 1));
    assert_eq!(shell.conn.preceding_error().unwrap().code.as_deref(), Some("auth_failed"));
}

#[test]
fn an_undecodable_step_is_delivered_as_unknown_and_reported() {
    let mut shell = client();
    shell.frame(r#"{"type":"execution_step","run_id":"r","workspace_id":"w","user_id":"u","session_id":"s","step":{"type":"llm"},"summary":null}"#);
    assert!(matches!(shell.delivered()[..], [SubscriberFrame::Execution(ExecutionEvent::Unknown(_))]));
    assert!(shell.diagnostics().iter().any(|d| matches!(d, Diagnostic::DecodeError { event: Some(e), .. } if e == "execution_step")));
}

/// A run of `n` steps: step i's parent is `parents[i] % i` (0 = the root), and a few
/// point at a step that never exists.
fn run_steps(n: u64, parents: &[u64], orphans: &[bool]) -> Vec<String> {
    (1..=n)
        .map(|i| {
            let p = parents[i as usize - 1] % i;
            let parent = if orphans[i as usize - 1] { Some(n + 100) } else { (p > 0).then_some(p) };
            step(RUN, i, parent)
        })
        .collect()
}

fn tree_of(frames: &[String]) -> (Vec<Shape>, usize, u64) {
    let mut shell = client();
    shell.frame(&started(RUN));
    for f in frames {
        shell.frame(f);
    }
    let runs = shell.conn.runs();
    let run = &runs.runs[0];
    (shape(&run.tree), count(&run.tree), run.duplicates)
}

proptest! {
    #[test]
    fn any_permutation_and_duplication_of_a_runs_steps_gives_the_same_tree(
        n in 1u64..25,
        parents in prop::collection::vec(any::<u64>(), 25),
        orphans in prop::collection::vec(prop::bool::weighted(0.1), 25),
        order in prop::collection::vec(any::<u32>(), 25),
        copies in prop::collection::vec(0usize..25, 0..10),
    ) {
        let steps = run_steps(n, &parents, &orphans);
        let (expected, nodes, _) = tree_of(&steps);
        prop_assert_eq!(nodes, n as usize, "every step exactly once");
        let mut shuffled: Vec<(u32, String)> = steps.iter().cloned().enumerate().map(|(i, s)| (order[i], s)).collect();
        for c in &copies {
            let i = c % steps.len();
            shuffled.push((order[(i + 7) % 25], steps[i].clone()));
        }
        shuffled.sort_by_key(|(k, _)| *k);
        let frames: Vec<String> = shuffled.into_iter().map(|(_, s)| s).collect();
        let (tree, _, duplicates) = tree_of(&frames);
        prop_assert_eq!(tree, expected);
        prop_assert_eq!(duplicates, copies.len() as u64);
    }
}

#[test]
fn a_parent_cycle_is_cut_so_every_step_appears_once() {
    let mut shell = client();
    shell.frame(&step(RUN, 1, Some(2)));
    shell.frame(&step(RUN, 2, Some(1)));
    shell.frame(&step(RUN, 3, Some(2)));
    let runs = shell.conn.runs();
    assert_eq!(count(&runs.runs[0].tree), 3);
    assert_eq!(
        shape(&runs.runs[0].tree),
        vec![Shape(Some(1), false, vec![]), Shape(Some(2), false, vec![Shape(Some(3), false, vec![])])]
    );
}
