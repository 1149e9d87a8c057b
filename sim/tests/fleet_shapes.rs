//! The simulator's fleet-rlm frames against the captured sample
//! (`shared/protocols/fleet-rlm-sample.jsonl`): for every server frame of the sample, a
//! simulator frame of the same kind with the same keys, in the same order (Python dicts and
//! pydantic dumps keep insertion order), and the same JSON kinds. Skipped when the sample is
//! absent.

mod fleet_support;

use std::path::Path;

use fleet_support::*;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{json, Value};

const SAMPLE: &str = "../../shared/protocols/fleet-rlm-sample.jsonl";

/// A JSON document's shape with object keys in wire order: keys and JSON kinds,
/// recursively; arrays by their first element; the free-form `trajectory` and `tool_args`
/// by kind only.
#[derive(Debug, Clone, PartialEq)]
enum Shape {
    Obj(Vec<(String, Shape)>),
    Arr(Option<Box<Shape>>),
    Leaf(&'static str),
}

impl<'de> Deserialize<'de> for Shape {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Shape;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("JSON")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Shape, E> {
                Ok(Shape::Leaf("bool"))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Shape, E> {
                Ok(Shape::Leaf("int"))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Shape, E> {
                Ok(Shape::Leaf("int"))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Shape, E> {
                Ok(Shape::Leaf("float"))
            }
            fn visit_str<E>(self, _: &str) -> Result<Shape, E> {
                Ok(Shape::Leaf("string"))
            }
            fn visit_unit<E>(self) -> Result<Shape, E> {
                Ok(Shape::Leaf("null"))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let first: Option<Shape> = a.next_element()?;
                while a.next_element::<Shape>()?.is_some() {}
                Ok(Shape::Arr(first.map(Box::new)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Shape, A::Error> {
                let mut keys = Vec::new();
                while let Some((k, v)) = a.next_entry::<String, Shape>()? {
                    let v = if k == "trajectory" || k == "tool_args" { Shape::Leaf("object") } else { v };
                    keys.push((k, v));
                }
                Ok(Shape::Obj(keys))
            }
        }
        d.deserialize_any(V)
    }
}

fn shape(text: &str) -> Shape {
    serde_json::from_str(text).expect("JSON")
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
    let sim = fleet_support::sim(runwatch_sim::config::FleetConfig { mlflow: false, ..Default::default() }).await;
    let mut events = Ws::events(&sim, "sess-b").await;
    let mut chat = Ws::chat(&sim).await;
    wait_subscribers(&sim, 1).await;
    chat.message("list the workspace files", "sess-b").await;
    let mut got: Vec<String> = Vec::new();
    got.extend(chat.until_text(|v| kind(v) == "final").await);
    got.extend(events.until_text(|v| v["type"] == "execution_completed").await);
    chat.message("ask me #hitl", "sess-b").await;
    got.extend(chat.until_text(|v| kind(v) == "final").await);
    let parsed: Vec<Value> = got.iter().map(|t| serde_json::from_str(t).unwrap()).collect();
    let hitl = parsed.iter().find(|v| kind(v) == "hitl_request").unwrap()["data"]["payload"]["message_id"].clone();
    let mut c2 = Ws::chat(&sim).await;
    c2.send_json(json!({"type":"command","command":"resolve_hitl","args":{"message_id":hitl,"action_label":"Which branch?"},"session_id":"sess-b"})).await;
    got.push(c2.text().await);
    got.push(c2.text().await);
    chat.message("fail #error", "sess-b").await;
    got.extend(chat.until_text(|v| v["type"] == "error").await);

    let mut checked = 0;
    for line in sample.lines().filter(|l| !l.trim().is_empty()) {
        let s: Value = serde_json::from_str(line).unwrap();
        if matches!(s["type"].as_str(), Some("message" | "command")) {
            continue; // client frames
        }
        let want = label(&s);
        let twin = got
            .iter()
            .find(|g| label(&serde_json::from_str(g).unwrap()) == want)
            .unwrap_or_else(|| panic!("no simulator frame like {want}"));
        assert_eq!(shape(twin), shape(line), "shape of {want}\nsim:    {twin}\nsample: {line}");
        checked += 1;
    }
    assert_eq!(checked, 13);
}
