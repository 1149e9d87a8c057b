//! The simulator's fleet-rlm frames against the captured sample
//! (`shared/protocols/fleet-rlm-sample.jsonl`): same keys (compared as sets: parsed values
//! keep no order) with the same JSON kinds, for every server frame of the sample. Skipped when the sample is absent.

mod fleet_support;

use std::path::Path;

use fleet_support::*;
use serde_json::{json, Value};

const SAMPLE: &str = "../../shared/protocols/fleet-rlm-sample.jsonl";

/// Keys (in order) and JSON kinds, recursively; arrays by their first element; the
/// free-form `trajectory` and `tool_args` by kind only.
fn shape(v: &Value, key: &str) -> Value {
    match v {
        Value::Object(m) if !matches!(key, "trajectory" | "tool_args") => {
            Value::Array(m.iter().map(|(k, v)| json!([k, shape(v, k)])).collect())
        }
        Value::Object(_) => json!("object"),
        Value::Array(a) => json!(["array", a.first().map(|x| shape(x, "")).unwrap_or(Value::Null)]),
        Value::String(_) => json!("string"),
        Value::Number(n) if n.is_f64() => json!("float"),
        Value::Number(_) => json!("int"),
        Value::Bool(_) => json!("bool"),
        Value::Null => json!("null"),
    }
}

/// A label to pair sample frames with simulator frames.
fn label(v: &Value) -> String {
    match v["type"].as_str().unwrap_or("") {
        "event" => format!("event:{}:{}", v["data"]["kind"].as_str().unwrap_or(""), if v["data"]["text"] == "Preparing Daytona workspace..." { "startup" } else { "" }),
        "execution_step" => format!("step:{}", v["step"]["label"].as_str().unwrap_or("")),
        "error" => format!("error:{}", v.get("code").is_some()),
        other => other.to_owned(),
    }
}

#[tokio::test]
async fn every_sample_frame_has_a_simulator_twin_of_the_same_shape() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(SAMPLE);
    let Ok(sample) = std::fs::read_to_string(&path) else {
        eprintln!("skip: no sample at {}", path.display());
        return;
    };
    // The capture had MLflow off: no `mlflow_*` ids in `final`.
    let sim = fleet_support::sim(runwatch_sim::fleet::FleetConfig { mlflow: false, ..Default::default() }).await;
    let mut events = Ws::events(&sim, "sess-b").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("list the workspace files", "sess-b").await;
    let mut got: Vec<Value> = Vec::new();
    got.extend(chat.until(|v| kind(v) == "final").await);
    got.extend(events.until(|v| v["type"] == "execution_completed").await);
    chat.message("ask me #hitl", "sess-b").await;
    got.extend(chat.until(|v| kind(v) == "final").await);
    let hitl = got.iter().find(|v| kind(v) == "hitl_request").unwrap()["data"]["payload"]["message_id"].clone();
    let mut c2 = Ws::chat(&sim).await;
    c2.send_json(json!({"type":"command","command":"resolve_hitl","args":{"message_id":hitl,"action_label":"Which branch?"},"session_id":"sess-b"})).await;
    got.push(c2.json().await);
    got.push(c2.json().await);
    chat.message("fail #error", "sess-b").await;
    got.extend(chat.until(|v| v["type"] == "error").await);

    let mut checked = 0;
    for line in sample.lines().filter(|l| !l.trim().is_empty()) {
        let s: Value = serde_json::from_str(line).unwrap();
        if matches!(s["type"].as_str(), Some("message" | "command")) {
            continue; // client frames
        }
        let want = label(&s);
        let twin = got.iter().find(|g| label(g) == want).unwrap_or_else(|| panic!("no simulator frame like {want}"));
        assert_eq!(sorted(shape(twin, "")), sorted(shape(&s, "")), "shape of {want}\nsim:    {twin}\nsample: {s}");
        checked += 1;
    }
    assert_eq!(checked, 13);
}

/// Shapes with object keys sorted (the parsed values lose the wire order).
fn sorted(v: Value) -> Value {
    match v {
        Value::Array(items) if items.iter().all(|i| i.is_array() && i.as_array().unwrap().len() == 2 && i[0].is_string()) && !items.is_empty() && items[0][0] != "array" => {
            let mut pairs: Vec<(String, Value)> = items.into_iter().map(|i| (i[0].as_str().unwrap().to_owned(), sorted(i[1].clone()))).collect();
            pairs.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Array(pairs.into_iter().map(|(k, v)| json!([k, v])).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}
