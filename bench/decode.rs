//! Decode-time micro-benchmark: `cargo run --release --example decode_bench`.
//! Decodes the sample's event frames (and their newer-server form with `eventTime`/`logSeq`
//! and one undeclared field) many times and prints ns per frame, decode alone and decode +
//! the JSON text the shell hands to `JSON.parse`.
//!
//! With `RUNWATCH_FRAMES=FILE` (frames saved by `node bench/feed.mjs --save FILE`) it prints
//! each event name's cost and then the task store's cost as S feeds it; add
//! `RUNWATCH_STORE_ONLY=1` for the store alone (e.g. under `perf record`), or
//! `RUNWATCH_WRITE_ONLY=1` for the JSON writer alone (`core::json_write`: the frames decoded
//! once, then their events written 20 times over).
//!
//! Where timings are too noisy to see a change of a few percent (a shared 2-core machine),
//! count instructions instead, which do not vary from run to run:
//! `RUNWATCH_FRAMES=FILE RUNWATCH_STORE_ONLY=1 valgrind --tool=cachegrind --cache-sim=no
//! target/release/examples/decode_bench`, then `cg_annotate` for the functions. This is
//! native code, so it guides a change to the decoders or the store; it does not measure
//! the wasm build.
use std::sync::Arc;
use std::time::Instant;

use runwatch::core::json_write::{self, to_json};
use runwatch::protocol::rocketride::envelope::{decode_frame, FrameBody};
use runwatch::protocol::rocketride::outputs::Delivered;
use runwatch::protocol::rocketride::store::TaskStore;

const SAMPLE: &str = include_str!("../tests/fixtures/rocketride-sample.jsonl");

fn frames() -> (Vec<String>, Vec<String>) {
    let plain: Vec<String> =
        SAMPLE.lines().filter(|l| l.contains(r#""type":"event""#)).map(str::to_owned).collect();
    let newer = plain
        .iter()
        .map(|l| l.replacen(r#""__id":"#, r#""eventTime":1780052401.25,"logSeq":4711,"newField":{"a":[1,2]},"__id":"#, 1))
        .collect();
    (plain, newer)
}

fn run(name: &str, frames: &[String], serialise: bool) {
    // The machine is shared: report the fastest of several runs.
    let best = (0..9).map(|_| once(frames, serialise)).fold(f64::MAX, f64::min);
    println!("{name:<44} {best:8.0} ns/frame  (best of 9, {} frames)", frames.len());
}

fn once(frames: &[String], serialise: bool) -> f64 {
    let rounds = (2_000_000 / frames.len().max(1)).clamp(1, 5_000);
    let mut sink = 0usize;
    for f in frames {
        assert!(matches!(decode_frame(f.as_bytes()).unwrap().body, FrameBody::Event(_)), "{f}");
    }
    let t0 = Instant::now();
    for _ in 0..rounds {
        for f in frames {
            let frame = decode_frame(f.as_bytes()).unwrap();
            if serialise {
                if let FrameBody::Event(e) = &frame.body {
                    sink += to_json(e).unwrap().len();
                }
            } else {
                sink += frame.seq.unwrap_or(0) as usize;
            }
        }
    }
    std::hint::black_box(sink);
    t0.elapsed().as_nanos() as f64 / (rounds * frames.len()) as f64
}

/// The frames of `path` grouped by event name, each name's cost and share of the whole.
fn per_event(path: &str) {
    let text = std::fs::read_to_string(path).expect("RUNWATCH_FRAMES names a readable file");
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for line in text.lines().filter(|l| !l.is_empty()) {
        let name = line.split(r#""event":""#).nth(1).and_then(|r| r.split('"').next()).unwrap_or("?").to_owned();
        match groups.iter_mut().find(|(n, _)| *n == name) {
            Some((_, frames)) => frames.push(line.to_owned()),
            None => groups.push((name, vec![line.to_owned()])),
        }
    }
    let total: usize = groups.iter().map(|(_, f)| f.len()).sum();
    let costs: Vec<(String, usize, f64, f64)> = groups
        .iter()
        .map(|(name, frames)| {
            let best = |serialise| (0..5).map(|_| once(frames, serialise)).fold(f64::MAX, f64::min);
            (name.clone(), frames.len(), best(false), best(true))
        })
        .collect();
    let whole: f64 = costs.iter().map(|(_, n, _, both)| *n as f64 * both).sum();
    println!("{:<28} {:>6} {:>10} {:>14} {:>7}", "event", "share", "decode ns", "+ to JSON ns", "time");
    for (name, n, decode, both) in costs {
        let share = 100.0 * n as f64 / total as f64;
        println!("{name:<28} {share:5.1}% {decode:10.0} {both:14.0} {:6.1}%", 100.0 * n as f64 * both / whole);
    }
    println!("mean per frame: {:.0} ns (decode + to JSON text)", whole / total as f64);
    store(&text);
}

/// The task store fed the frames of `text` as S feeds it: decoded in batches of 64, each
/// applied at once, with a snapshot every 2,400 events (a selector read per animation frame
/// at 150k events/s). Prints decode alone and decode + store, per event.
fn store(text: &str) {
    let frames: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
    let once = |apply: bool| {
        let mut store = TaskStore::default();
        let t0 = Instant::now();
        for (i, chunk) in frames.chunks(64).enumerate() {
            let batch: Vec<Arc<Delivered>> = chunk
                .iter()
                .enumerate()
                .filter_map(|(j, l)| match decode_frame(l.as_bytes()).ok()?.body {
                    FrameBody::Event(event) => {
                        Some(Arc::new(Delivered { epoch: 1, seq: Some((i * 64 + j) as u64 + 1), replayed: false, event }))
                    }
                    _ => None,
                })
                .collect();
            if apply {
                store.apply_batch(i as u64, batch.iter().map(|d| &**d));
                if i % 37 == 0 {
                    std::hint::black_box(store.snapshot());
                }
            }
            std::hint::black_box(batch);
        }
        t0.elapsed().as_nanos() as f64 / frames.len() as f64
    };
    let best = |apply| (0..9).map(|_| once(apply)).fold(f64::MAX, f64::min);
    let (decode, both) = (best(false), best(true));
    println!("decode: {decode:.0} ns/event, + task store: {both:.0} (store {:.0}), best of 9, {} events", both - decode, frames.len());
}

/// The decoded events of `text` written as JSON text for the app, as a flush writes them
/// (one buffer, reused), 20 times over; for counting the writer's instructions.
fn write_only(text: &str) {
    let events: Vec<_> = text
        .lines()
        .filter(|l| !l.is_empty())
        .filter_map(|l| match decode_frame(l.as_bytes()).ok()?.body {
            FrameBody::Event(e) => Some(e),
            _ => None,
        })
        .collect();
    let mut out = Vec::with_capacity(1 << 16);
    let t0 = Instant::now();
    for _ in 0..20 {
        for e in &events {
            out.clear();
            json_write::write(&mut out, e).expect("an event is written");
            std::hint::black_box(&out);
        }
    }
    println!("write: {:.0} ns/event, {} events", t0.elapsed().as_nanos() as f64 / (20 * events.len()) as f64, events.len());
}

fn main() {
    if let Ok(path) = std::env::var("RUNWATCH_FRAMES") {
        let text = || std::fs::read_to_string(&path).expect("RUNWATCH_FRAMES names a readable file");
        if std::env::var_os("RUNWATCH_STORE_ONLY").is_some() {
            return store(&text());
        }
        if std::env::var_os("RUNWATCH_WRITE_ONLY").is_some() {
            return write_only(&text());
        }
        return per_event(&path);
    }
    let (plain, newer) = frames();
    {
        run("sample events: decode", &plain, false);
        run("sample events: decode + to JSON text", &plain, true);
        run("newer-server events: decode", &newer, false);
        run("newer-server events: decode + to JSON text", &newer, true);
    }
}
