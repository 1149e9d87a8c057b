#![no_main]
//! Any frame: decode_frame never panics and decodes it as its general path does (the same
//! frame laid out otherwise); a decoded event is written by the SDK's own JSON writer
//! exactly as serde_json writes it (the text JavaScript parses); an event body decodes as Ok
//! only when it is JSON; every known event name's decoder is tried on the body.
use libfuzzer_sys::fuzz_target;

mod oracle;

use oracle::written_as_serde_json_writes;
use runwatch::core::wire::{DecodeError, Frame, FrameBody};
use runwatch::protocol::rocketride::envelope::decode_frame;
use runwatch::protocol::rocketride::events::{decode_event_text, RocketRideEvent};
use runwatch::protocol::rocketride::monitor_types::MonitorTypes;
use runwatch::protocol::rocketride::replay::event_names;

/// Every event name a monitor receives, as the SDK's log replay lists them, and the names no
/// monitor type covers there (the dashboard's, the account's, a DETAIL frame's, an unknown).
fn names() -> Vec<&'static str> {
    let mut names = event_names(MonitorTypes::all());
    names.extend(["apaevt_dashboard", "apaext_account", "DETAIL", "apaevt_other"]);
    names
}

/// The frame with a space after its opening brace: laid out as no server writes it, so it
/// takes the general path (the envelope read by the JSON reader), never the fast one.
fn spaced(data: &[u8]) -> Option<Vec<u8>> {
    let rest = data.strip_prefix(b"{")?;
    Some([b"{ ", rest].concat())
}

/// What a decode comes to, error texts (their columns differ) left out.
fn outcome(decoded: &Result<Frame<RocketRideEvent>, DecodeError>) -> String {
    match decoded {
        Ok(Frame { seq, body: FrameBody::UndecodableEvent { event, error } }) => {
            format!("{seq:?} {event} {:?}", error.kind)
        }
        Ok(frame) => format!("{frame:?}"),
        Err(error) => format!("{:?}", error.kind),
    }
}

static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let decoded = decode_frame(data);
    if let Ok(frame) = &decoded {
        if let FrameBody::Event(event) = &frame.body {
            written_as_serde_json_writes(event);
        }
    }
    // The fast path decodes every frame as the general one does.
    if let Some(general) = spaced(data) {
        assert_eq!(outcome(&decoded), outcome(&decode_frame(&general)), "{:?}", String::from_utf8_lossy(data));
    }
    if let Some((&pick, body)) = data.split_first() {
        if let Ok(body) = std::str::from_utf8(body) {
            let names = NAMES.get_or_init(names);
            let name = names[pick as usize % names.len()];
            if let Ok(event) = decode_event_text(name, body) {
                assert!(serde_json::from_str::<serde::de::IgnoredAny>(body).is_ok(), "{name} {body:?}");
                written_as_serde_json_writes(&event);
            }
        }
    }
});
