//! One browser `WebSocket` with its handlers. Handlers hold only a weak reference to the
//! engine side and the socket's epoch, so a dead socket's late events are recognisably
//! stale and a dropped client is never kept alive by its socket.

use std::cell::Cell;
use std::rc::Weak;

use js_sys::{ArrayBuffer, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// What a socket reports, tagged with its epoch.
pub(crate) enum SocketEvent {
    Open,
    Message(MessageEvent),
    Close { code: u16, reason: String },
}

/// Whoever owns the socket (the engine side) and takes its events.
pub(crate) trait SocketSink {
    fn socket_event(&self, epoch: u32, event: SocketEvent);
}

/// An open (or opening) socket. Dropping it detaches the handlers and closes it.
pub(crate) struct Socket {
    ws: WebSocket,
    _on_open: Closure<dyn FnMut(Event)>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_close: Closure<dyn FnMut(CloseEvent)>,
}

impl Socket {
    /// Opens `url` (no subprotocols: the engine uses none) and wires its events to `sink`.
    pub(crate) fn open(url: &str, epoch: u32, sink: Weak<dyn SocketSink>) -> Result<Self, JsValue> {
        let ws = WebSocket::new(url)?;
        ws.set_binary_type(BinaryType::Arraybuffer);
        let on_open = {
            let sink = sink.clone();
            Closure::<dyn FnMut(Event)>::new(move |_| report(&sink, epoch, SocketEvent::Open))
        };
        let on_message = {
            let sink = sink.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                report(&sink, epoch, SocketEvent::Message(e));
            })
        };
        let on_close = Closure::<dyn FnMut(CloseEvent)>::new(move |e: CloseEvent| {
            report(&sink, epoch, SocketEvent::Close { code: e.code(), reason: e.reason() });
        });
        ws.set_onopen(Some(on_open.as_ref().unchecked_ref()));
        ws.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        ws.set_onclose(Some(on_close.as_ref().unchecked_ref()));
        Ok(Self { ws, _on_open: on_open, _on_message: on_message, _on_close: on_close })
    }

    /// Sends a text frame. A socket that is not open drops it: the core notices the loss
    /// through the close event or its heartbeat, and re-sends state on the next socket.
    pub(crate) fn send(&self, text: &str) {
        if self.ws.ready_state() == WebSocket::OPEN {
            let _ = self.ws.send_with_str(text);
        }
    }

    /// Closes with a code the browser accepts from script (1000 or 3000–4999).
    pub(crate) fn close(self, code: u16, reason: &str) {
        let code = if code == 1000 || (3000..5000).contains(&code) { code } else { 1000 };
        self.detach();
        let _ = self.ws.close_with_code_and_reason(code, reason);
    }

    fn detach(&self) {
        self.ws.set_onopen(None);
        self.ws.set_onmessage(None);
        self.ws.set_onclose(None);
    }
}

impl Drop for Socket {
    fn drop(&mut self) {
        self.detach();
        if self.ws.ready_state() <= WebSocket::OPEN {
            let _ = self.ws.close();
        }
    }
}

/// A received frame, as the core takes it.
pub(crate) enum Frame<'a> {
    /// The frame's bytes (text as UTF-8).
    Bytes(&'a [u8]),
    /// Over the limit: at least this many bytes, left uncopied in JavaScript.
    TooLarge(usize),
}

/// Hands the frame of `event` to `take`. Text frames arrive as strings, binary ones as
/// ArrayBuffers; both reach the decoder as bytes (which reports a binary frame that is not
/// JSON as a decode error). A frame that is certainly over `max` bytes is measured but not
/// copied into the module, so a hostile 16 MiB frame costs no WebAssembly memory.
pub(crate) fn with_frame(event: &MessageEvent, max: usize, take: impl FnOnce(Frame<'_>)) {
    let mut bytes = SCRATCH.with(Cell::take);
    match encode_text(event, max, &mut bytes) {
        Text::Encoded => take(Frame::Bytes(&bytes)),
        Text::TooLarge(units) => take(Frame::TooLarge(units)),
        Text::Other => {
            if let Some(buf) = event.data().dyn_ref::<ArrayBuffer>() {
                let len = buf.byte_length() as usize;
                match len > max {
                    true => take(Frame::TooLarge(len)),
                    false => take(Frame::Bytes(&Uint8Array::new(buf).to_vec())),
                }
            }
        }
    }
    if bytes.capacity() <= SCRATCH_KEPT {
        SCRATCH.with(|s| s.set(bytes));
    }
}

#[wasm_bindgen::prelude::wasm_bindgen(inline_js = r#"
const encoder = new TextEncoder();
let memory = null;
// The view of [ptr, ptr + cap) last written to. Frame after frame it is the same scratch
// buffer, so the view is made again only when that moves or the memory grows (which gives
// the memory a new buffer).
let target = new Uint8Array(0);
let targetPtr = -1;
let targetCap = -1;
export function setMemory(m) { memory = m; }
// A text frame's UTF-8 bytes, written by encodeInto straight into the module's memory at
// [ptr, ptr + cap): the byte count, or -1 for a frame that is not text, or -2 - units when
// the text did not fit (it has `units` UTF-16 units, each taking 1 to 3 bytes).
export function takeText(event, ptr, cap) {
  const text = event.data;
  if (typeof text !== "string") return -1;
  const units = text.length;
  if (units > cap) return -2 - units;
  if (target.buffer !== memory.buffer || ptr !== targetPtr || cap !== targetCap) {
    target = new Uint8Array(memory.buffer, ptr, cap);
    targetPtr = ptr;
    targetCap = cap;
  }
  const { read, written } = encoder.encodeInto(text, target);
  return read === units ? written : -2 - units;
}
"#)]
extern "C" {
    #[wasm_bindgen(js_name = setMemory)]
    fn set_memory(memory: &JsValue);
    #[wasm_bindgen(js_name = takeText)]
    fn take_text(event: &MessageEvent, ptr: *mut u8, cap: usize) -> f64;
}

thread_local! {
    /// Where text frames are encoded, reused from frame to frame (none is kept after it is
    /// handled). Taken out while in use.
    static SCRATCH: Cell<Vec<u8>> = {
        set_memory(&wasm_bindgen::memory());
        Cell::new(Vec::with_capacity(16 * 1024))
    };
}

/// A scratch buffer larger than this after a frame is freed rather than kept.
const SCRATCH_KEPT: usize = 1 << 20;

/// What [`encode_text`] made of a frame.
enum Text {
    /// Its UTF-8 bytes are in the buffer.
    Encoded,
    /// A text of this many UTF-16 units, over the limit (each unit takes at least a byte).
    TooLarge(usize),
    /// Not a text frame.
    Other,
}

/// A text frame's UTF-8 bytes, written into `bytes` by the browser's `TextEncoder.encodeInto`
/// straight into the module's memory in one call across the boundary (reading `data`, the
/// view, the encoding and its result all happen on the JavaScript side). ASCII (almost
/// every frame) fits the scratch buffer at once; a text with other characters that does not
/// is encoded again into room for its worst case.
fn encode_text(event: &MessageEvent, max: usize, bytes: &mut Vec<u8>) -> Text {
    bytes.clear();
    let mut code = encode(event, bytes);
    if code < -1.0 {
        let units = (-code - 2.0) as usize;
        if units > max {
            return Text::TooLarge(units);
        }
        // Each UTF-16 unit takes at most 3 bytes, so this always fits.
        bytes.reserve_exact(units * 3);
        code = encode(event, bytes);
    }
    if code == -1.0 {
        return Text::Other;
    }
    if code < 0.0 {
        // Unreachable (see above); reported as an oversized frame rather than lost.
        return Text::TooLarge((-code - 2.0) as usize);
    }
    // SAFETY: `encodeInto` initialised the first `code` bytes, within the capacity.
    unsafe { bytes.set_len((code as usize).min(bytes.capacity())) };
    Text::Encoded
}

/// One `takeText` into the spare capacity of the (empty) `bytes`.
fn encode(event: &MessageEvent, bytes: &mut Vec<u8>) -> f64 {
    // Nothing allocates in the module during the call, so the memory it writes stays put.
    take_text(event, bytes.as_mut_ptr(), bytes.capacity())
}

fn report(sink: &Weak<dyn SocketSink>, epoch: u32, event: SocketEvent) {
    if let Some(sink) = sink.upgrade() {
        sink.socket_event(epoch, event);
    }
}
