#![no_main]
//! Any frame: decode_frame never panics; a decoded event is written by the SDK's own JSON
//! writer exactly as serde_json writes it (the text JavaScript parses); an event body decodes
//! as Ok only when it is JSON; every known event name's decoder is tried on the body.
use libfuzzer_sys::fuzz_target;
use runwatch::core::wire::{to_json, FrameBody};
use runwatch::protocol::rocketride::envelope::decode_frame;
use runwatch::protocol::rocketride::events::{decode_event_text, RocketRideEvent};

const NAMES: &[&str] = &[
    "apaevt_task",
    "apaevt_status_update",
    "apaevt_flow",
    "apaevt_sse",
    "apaevt_status_object",
    "apaevt_status_counts",
    "apaevt_status_error",
    "apaevt_status_warning",
    "apaevt_status_message",
    "apaevt_status_download",
    "apaevt_status_metrics",
    "apaevt_status_user",
    "apaevt_status_info",
    "apaevt_dashboard",
    "apaext_account",
    "output",
    "DETAIL",
    "apaevt_other",
];

fn written_as_serde_json_writes(event: &RocketRideEvent) {
    let ours = to_json(event).expect("an event is JSON");
    let theirs = serde_json::to_string(event).expect("serde_json writes it");
    assert_eq!(ours, theirs);
    assert!(serde_json::from_str::<serde::de::IgnoredAny>(&ours).is_ok(), "{ours}");
}

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = decode_frame(data) {
        if let FrameBody::Event(event) = &frame.body {
            written_as_serde_json_writes(event);
        }
    }
    if let Some((&pick, body)) = data.split_first() {
        if let Ok(body) = std::str::from_utf8(body) {
            let name = NAMES[pick as usize % NAMES.len()];
            if let Ok(event) = decode_event_text(name, body) {
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok(), "{name} {body:?}");
                written_as_serde_json_writes(&event);
            }
        }
    }
});
