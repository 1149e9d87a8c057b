//! One browser `WebSocket` with its handlers. Handlers hold only a weak reference to the
//! engine side and the socket's epoch, so a dead socket's late events are recognisably
//! stale and a dropped client is never kept alive by its socket.

use std::rc::Weak;

use js_sys::{ArrayBuffer, JsString, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{BinaryType, CloseEvent, Event, MessageEvent, WebSocket};

/// What a socket reports, tagged with its epoch.
pub(crate) enum SocketEvent {
    Open,
    Message(JsValue),
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
                report(&sink, epoch, SocketEvent::Message(e.data()));
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
pub(crate) enum Frame {
    /// The frame's bytes (text as UTF-8).
    Bytes(Vec<u8>),
    /// Over the limit: at least this many bytes, left uncopied in JavaScript.
    TooLarge(usize),
}

/// Text frames arrive as strings, binary ones as ArrayBuffers; both reach the decoder
/// as bytes (which reports a binary frame that is not JSON as a decode error). A frame
/// that is certainly over `max` bytes is measured but not copied into the module, so a
/// hostile 16 MiB frame costs no WebAssembly memory.
pub(crate) fn frame(data: &JsValue, max: usize) -> Option<Frame> {
    if let Some(buf) = data.dyn_ref::<ArrayBuffer>() {
        let len = buf.byte_length() as usize;
        return Some(if len > max { Frame::TooLarge(len) } else { Frame::Bytes(Uint8Array::new(buf).to_vec()) });
    }
    let text = data.dyn_ref::<JsString>()?;
    // Every UTF-16 unit takes at least one UTF-8 byte, so the length is a lower bound.
    let units = text.length() as usize;
    if units > max {
        return Some(Frame::TooLarge(units));
    }
    Some(Frame::Bytes(utf8_of(text, units)))
}

#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    type Utf8Encoder;
    #[wasm_bindgen(constructor, js_class = "TextEncoder")]
    fn new() -> Utf8Encoder;
    #[wasm_bindgen(method, js_name = encodeInto)]
    fn encode_into(this: &Utf8Encoder, text: &JsString, into: &Uint8Array) -> EncodeResult;

    type EncodeResult;
    #[wasm_bindgen(method, getter)]
    fn read(this: &EncodeResult) -> u32;
    #[wasm_bindgen(method, getter)]
    fn written(this: &EncodeResult) -> u32;
}

thread_local! {
    static ENCODER: Utf8Encoder = Utf8Encoder::new();
}

/// A frame's text as UTF-8, written by the browser's `TextEncoder.encodeInto` straight into
/// the module's memory: `String::from(JsString)` copies in a JavaScript loop, one UTF-16
/// unit at a time, which cost about a tenth of the SDK's time per event. ASCII (almost every
/// frame) takes one call into a buffer of `units` bytes; the rest of a text with other
/// characters is encoded into room for its worst case (3 bytes per unit).
fn utf8_of(text: &JsString, units: usize) -> Vec<u8> {
    ENCODER.with(|encoder| {
        let mut bytes = Vec::<u8>::with_capacity(units);
        let read = encode_into(encoder, text, &mut bytes);
        if (read as usize) < units {
            let rest = text.slice(read, units as u32);
            bytes.reserve_exact((units - read as usize) * 3);
            encode_into(encoder, &rest, &mut bytes);
        }
        bytes
    })
}

/// Encodes `text` into the spare capacity of `bytes`, as far as it fits; returns the UTF-16
/// units read.
fn encode_into(encoder: &Utf8Encoder, text: &JsString, bytes: &mut Vec<u8>) -> u32 {
    let len = bytes.len();
    let spare = bytes.capacity() - len;
    // SAFETY: the view covers exactly the vector's spare capacity and lives only for this
    // call, in which nothing allocates in the module (which could move or grow its memory).
    let result = unsafe { encoder.encode_into(text, &Uint8Array::view_mut_raw(bytes.as_mut_ptr().add(len), spare)) };
    let written = (result.written() as usize).min(spare);
    // SAFETY: `encodeInto` initialised the `written` bytes after `len`.
    unsafe { bytes.set_len(len + written) };
    result.read()
}

fn report(sink: &Weak<dyn SocketSink>, epoch: u32, event: SocketEvent) {
    if let Some(sink) = sink.upgrade() {
        sink.socket_event(epoch, event);
    }
}
