//! The engine's tokens and hashes, derived as its server derives them: the one OSS user,
//! task tokens (`tk_…`), the simulator's public tokens (`pk_…`) and the run log's pipeline
//! hashes.

use sha2::{Digest, Sha256};

/// The OSS user every API key maps to (spec §1.3).
pub const USER_ID: &str = "local";

/// `tk_` + sha256(json.dumps({userId, project_id, source}, sort_keys=True))[:32]
/// (spec §5.1; matches the sample's `tk_bee3a8ea…`).
pub fn task_token(user_id: &str, project_id: &str, source: &str) -> String {
    let text = format!(
        "{{\"project_id\": {}, \"source\": {}, \"userId\": {}}}",
        py_json_str(project_id),
        py_json_str(source),
        py_json_str(user_id)
    );
    format!("tk_{}", &sha256_hex(&text)[..32])
}

/// The simulator's deterministic public token (the real one is not derivable from the sample).
pub fn public_token(token: &str) -> String {
    format!("pk_{}", &sha256_hex(&format!("{token}.public"))[..32])
}

/// The first 16 hex digits of sha256(`text`) (the run log's `pipelineHash`).
pub fn short_hash(text: &str) -> String {
    sha256_hex(text)[..16].to_owned()
}

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A JSON string literal as Python's `json.dumps` writes it (`ensure_ascii=True`).
fn py_json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_matches_the_real_server_sample() {
        let token = task_token("local", "6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f", "chat_1");
        assert_eq!(token, "tk_bee3a8ea46c24f6e1ac107ba9e8b63a8");
    }

    #[test]
    fn python_string_escaping() {
        assert_eq!(py_json_str("a\"b\\é\n"), "\"a\\\"b\\\\\\u00e9\\n\"");
        assert_eq!(py_json_str("😀"), "\"\\ud83d\\ude00\"");
    }
}
