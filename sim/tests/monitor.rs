//! `rrext_monitor` (spec §3, Errata 4).

mod common;

use std::time::Duration;

use common::*;
use serde_json::json;

#[tokio::test]
async fn types_traps_bare_string_unsubscribes_and_256_fails() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"p","source":"s","types":["SUMMARY","flow","bogus"]})).await;
    assert_eq!(monitors(&sim).await, vec![("p.p.s".to_owned(), 4 | 16)]);
    let r = c.monitor(json!({"projectId":"p","source":"s","types":"SUMMARY"})).await;
    assert_eq!(r["success"], true);
    assert!(monitors(&sim).await.is_empty(), "a bare string becomes 0 = unsubscribe");
    c.monitor(json!({"projectId":"p","source":"s","types":"36"})).await;
    assert_eq!(monitors(&sim).await, vec![("p.p.s".to_owned(), 36)]);
    let r = c.monitor(json!({"projectId":"p","source":"s","types":256})).await;
    assert_eq!(r["success"], false);
    assert!(r["message"].as_str().unwrap().starts_with("<flag 'EVENT_TYPE'> invalid value 256"));
    assert_eq!(r["trace"]["file"], "enum.py");
    assert_eq!(monitors(&sim).await, vec![("p.p.s".to_owned(), 36)], "a failed call changes nothing");
}

#[tokio::test]
async fn response_has_no_body_and_keys_replace_per_key_and_add_across_keys() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let r = c.monitor(json!({"projectId":"p","source":"s","types":["summary","flow"]})).await;
    assert!(r.get("body").is_none(), "rrext_monitor responses have no body");
    c.monitor(json!({"projectId":"p","source":"s","types":["output"]})).await;
    c.monitor(json!({"projectId":"p","source":"*","types":["task"]})).await;
    c.monitor(json!({"projectId":"p","source":"s","pipeId":2,"types":["sse"]})).await;
    c.monitor(json!({"token":"*","pipeId":3,"types":["dashboard"]})).await;
    let got = monitors(&sim).await;
    // Registry order is insertion order (a Python dict); replacing a mask keeps its place.
    let want = vec![("p.p.s".to_owned(), 8), ("p.p.*".to_owned(), 32), ("p.p.s.2".to_owned(), 64), ("*".to_owned(), 128)];
    assert_eq!(got, want, "latest call per key wins; pipeId ignored for *");
}

#[tokio::test]
async fn token_and_project_source_are_the_same_key() {
    let sim = sim().await;
    let task = sim_execute(&sim, json!({"projectId":"proj","source":"chat_1"})).await;
    let token = task["token"].as_str().unwrap().to_owned();
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token": token, "types":["summary"]})).await;
    c.monitor(json!({"projectId":"proj","source":"chat_1","types":["output"]})).await;
    assert_eq!(monitors(&sim).await, vec![("p.proj.chat_1".to_owned(), 8)]);
    let r = c.monitor(json!({"token": token, "projectId":"proj","types":["output"]})).await;
    assert_eq!(r["message"], "You must specifiy either token or project_id/source, not both");
    let r = c.monitor(json!({"types":["output"]})).await;
    assert_eq!(r["message"], "You must specifiy either token or project_id/source");
    let r = c.monitor(json!({"token":"tk_00000000000000000000000000000000","types":["output"]})).await;
    assert_eq!(r["message"], "Your pipeline is not running");
}

#[tokio::test]
async fn subscribe_order_is_monitor_changed_then_seeds_then_response() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    let seq = c.request("rrext_monitor", json!({"token":"*","types":["dashboard","task","summary"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    let labels: Vec<String> = frames.iter().map(label).collect();
    // SUMMARY is never seeded for `*` (§3.4); TASK seeds one `running`.
    assert_eq!(labels, vec!["apaevt_dashboard:monitor_changed", "apaevt_task:running", "response:rrext_monitor"]);
    assert_eq!(frames[0]["body"]["key"], "<all>");
    assert_eq!(frames[0]["body"]["change"], "subscribed");
    assert_eq!(frames[1]["body"]["__id"], "");
    assert_eq!(frames[1]["body"]["tasks"], json!([]));
    // Seqs are consecutive and shared by events and the response.
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, vec![2, 3, 4]);
}

#[tokio::test]
async fn only_newly_enabled_bits_are_seeded_and_identical_bits_rebroadcast() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"token":"*","types":["dashboard"]})).await;
    let seq = c.request("rrext_monitor", json!({"projectId":"p","source":"s","types":["summary"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames.iter().map(label).collect::<Vec<_>>(), vec!["apaevt_dashboard:monitor_changed", "status:0", "response:rrext_monitor"]);
    let seed = &frames[1]["body"];
    assert_eq!(seed["status"], "Not running");
    assert_eq!(seed["__id"], "p.s", "synthetic seeds use <projectId>.<source>");
    assert_eq!(frames[0]["body"]["key"], "<Project:p.s>");
    // Same bits again: monitor_changed again (Errata 4) but no seed.
    let seq = c.request("rrext_monitor", json!({"projectId":"p","source":"s","types":["summary"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames.iter().map(label).collect::<Vec<_>>(), vec!["apaevt_dashboard:monitor_changed", "response:rrext_monitor"]);
    // Adding TASK seeds only TASK.
    let seq = c.request("rrext_monitor", json!({"projectId":"p","source":"s","types":["summary","task"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames.iter().map(label).collect::<Vec<_>>(), vec!["apaevt_dashboard:monitor_changed", "apaevt_task:running", "response:rrext_monitor"]);
    // Unsubscribe.
    let seq = c.request("rrext_monitor", json!({"projectId":"p","source":"s","types":[]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames[0]["body"]["change"], "unsubscribed");
}

#[tokio::test]
async fn summary_seed_uses_the_registered_task_and_wildcard_is_synthetic() {
    let sim = sim().await;
    let task = sim_execute(&sim, json!({"projectId":"proj","source":"chat_1","name":"Agent"})).await;
    let mut c = Client::authed(&sim).await;
    let seq = c.request("rrext_monitor", json!({"projectId":"proj","source":"chat_1","types":["summary"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    let seed = &frames[0]["body"];
    assert_eq!(seed["__id"], task["id"]);
    assert_eq!(seed["state"], 3);
    assert_eq!(seed["name"], "Agent.chat_1");
    let seq = c.request("rrext_monitor", json!({"projectId":"proj","source":"*","types":["summary","task"]})).await;
    let frames = c.until(|v| is_response_to(v, seq)).await;
    assert_eq!(frames[0]["body"]["status"], "Not running", "source * never matches a task (§3.4 quirk)");
    assert_eq!(frames[0]["body"]["source"], "*");
    let running = &frames[1]["body"]["tasks"];
    assert_eq!(running[0]["id"], task["id"]);
    assert_eq!(running[0]["projectId"], "proj");
}

#[tokio::test]
async fn pipe_keys_match_only_events_with_pipe_id() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"proj","source":"chat_1","pipeId":0,"types":["sse","output","flow"]})).await;
    sim_execute(&sim, json!({"projectId":"proj","source":"chat_1","pipelineTraceLevel":"full"})).await;
    let mut names = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while tokio::time::Instant::now() < deadline && names.len() < 2 {
        if let Ok(v) = tokio::time::timeout(Duration::from_millis(500), c.json()).await {
            names.insert(v["event"].as_str().unwrap_or("").to_owned());
        }
    }
    assert_eq!(names.into_iter().collect::<Vec<_>>(), vec!["apaevt_sse".to_owned()]);
}

#[tokio::test]
async fn dashboard_lists_monitors_in_registry_order_with_execute_name_labels() {
    let sim = sim().await;
    let mut c = Client::authed(&sim).await;
    c.monitor(json!({"projectId":"61e1aa6b-0000","source":"webhook_1","types":["summary","flow"]})).await;
    c.monitor(json!({"token":"*","types":["summary","task"]})).await;
    let d = c.call("rrext_dashboard", json!({})).await;
    // Errata 1: labels, not keys, in the server's dict (insertion) order.
    let want = json!([{"key":"61e1aa6b.webhook_1","flags":["summary","flow"]},{"key":"All tasks","flags":["summary","task"]}]);
    assert_eq!(d["body"]["connections"][0]["monitors"], want);
    // Once a task of the project exists, the label takes its execute name, even when the
    // source component has its own display name.
    let pipeline = json!({"source":"webhook_1","project_id":"61e1aa6b-0000","components":[
        {"id":"webhook_1","provider":"webhook","name":"Inbox"}]});
    sim_execute(&sim, json!({"pipeline": pipeline, "name":"Scopes"})).await;
    let d = c.call("rrext_dashboard", json!({})).await;
    assert_eq!(d["body"]["connections"][0]["monitors"][0]["key"], "Scopes.webhook_1");
    assert_eq!(d["body"]["tasks"][0]["name"], "Scopes.Inbox");
}

#[tokio::test]
async fn running_seed_lists_tasks_in_registration_order() {
    let sim = sim().await;
    // Register in descending token order so a token-sorted listing would be reversed.
    let mut projects: Vec<String> = (0..3).map(|i| format!("order-{i}")).collect();
    projects.sort_by_key(|p| std::cmp::Reverse(runwatch_sim::tokens::task_token("local", p, "chat_1")));
    for p in &projects {
        sim_execute(&sim, json!({"projectId": p, "source":"chat_1"})).await;
    }
    let mut c = Client::authed(&sim).await;
    let seq = c.request("rrext_monitor", json!({"token":"*","types":["task"]})).await;
    let seed = c.until(|v| is_event(v, "apaevt_task")).await.pop().unwrap();
    let got: Vec<&str> = seed["body"]["tasks"].as_array().unwrap().iter().map(|t| t["projectId"].as_str().unwrap()).collect();
    assert_eq!(got, projects.iter().map(String::as_str).collect::<Vec<_>>());
    c.until(|v| is_response_to(v, seq)).await;
    let d = c.call("rrext_dashboard", json!({})).await;
    let listed: Vec<&str> = d["body"]["tasks"].as_array().unwrap().iter().map(|t| t["projectId"].as_str().unwrap()).collect();
    assert_eq!(listed, got, "rrext_dashboard lists tasks in the same order");
}
