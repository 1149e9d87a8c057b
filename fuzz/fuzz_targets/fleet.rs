#![no_main]
//! fleet-rlm's decoders on any text: no panic; what decodes is written by the SDK's own JSON
//! writer exactly as serde_json writes it. scrub() removes a credential wherever it stands.
use libfuzzer_sys::fuzz_target;

mod oracle;

use oracle::written_as_serde_json_writes;
use runwatch::protocol::fleet_rlm::auth::scrub;
use runwatch::protocol::fleet_rlm::execution::decode_execution_event;
use runwatch::protocol::fleet_rlm::frames::{decode_chat_frame, ServerFrame};

const SECRETS: &[(&str, &str)] = &[
    ("access_token=S3cretValue9", "S3cretValue9"),
    ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJzdWIiOiIxIn0"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    if let Ok(ServerFrame::Chat(frame)) = decode_chat_frame(text) {
        written_as_serde_json_writes(&frame);
    }
    if let Ok(event) = decode_execution_event(text) {
        written_as_serde_json_writes(&event);
    }
    let (secret, part) = SECRETS[pick as usize % SECRETS.len()];
    if text.contains(part) {
        return; // the secret's text is in the input already: nothing to tell apart
    }
    let mut at = (pick as usize / 2) % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let with = format!("{}{secret}{}", &text[..at], &text[at..]);
    assert!(!scrub(&with).contains(part), "{with:?} → {:?}", scrub(&with));
});
