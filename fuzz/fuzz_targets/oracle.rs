//! What the targets that decode share: the SDK's own JSON writer (`core::json_write`, by way
//! of `core::json_write::to_json`) against serde_json's. Included by path (`mod oracle;`), not a
//! target of its own.
use runwatch::core::json_write::to_json;
use serde::Serialize;

/// `value` is written by the SDK's writer byte for byte as serde_json writes it: the text
/// JavaScript parses.
pub fn written_as_serde_json_writes<T: Serialize + ?Sized>(value: &T) {
    let ours = to_json(value).expect("a decoded value is JSON");
    let theirs = serde_json::to_string(value).expect("serde_json writes it");
    assert_eq!(ours, theirs);
    assert!(serde_json::from_str::<serde::de::IgnoredAny>(&ours).is_ok(), "{ours}");
}
