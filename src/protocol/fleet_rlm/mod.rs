//! The fleet-rlm engine's WebSocket protocol, 0.5.x–0.6.x (`../shared/protocols/fleet-rlm.md`):
//! two plug-ins of the connection engine, one per socket, and the typed events, requests
//! and HTTP shapes they share.
//!
//! ```text
//!   chat_events, execution, errors, http   typed shapes, transport-independent
//!   frames, requests                       the WebSocket envelopes around them
//!   auth                                   socket URLs with the credential, redaction
//!   socket                                 what both socket plug-ins share
//!   chat      (+ turns)                    /api/v1/ws/execution: messages, commands, turns
//!   subscriber (+ runs, step_tree)         /api/v1/ws/execution/events: runs and step trees
//! ```
//!
//! # Driving the two clients (what the web shell does)
//!
//! Both are [`crate::core::connection::Connection`]s: feed socket events and time, drain
//! actions, frames, outputs and the next timeout after every input. Unlike RocketRide
//! there is no `NeedCredential`: the credential is in the URL, so the shell obtains it
//! *before* opening each socket, builds the URL with [`auth::socket_url`] and passes only
//! [`auth::SocketUrl::expose`] to `new WebSocket`. The socket is live once open.
//!
//! ```
//! use runwatch::core::lifecycle::{Action, ConnState};
//! use runwatch::core::time::Instant;
//! use runwatch::protocol::fleet_rlm::auth::{socket_url, Credential, Secret};
//! use runwatch::protocol::fleet_rlm::chat::{ChatClient, ChatConfig};
//! use runwatch::protocol::fleet_rlm::requests::MessageRequest;
//! use runwatch::protocol::fleet_rlm::subscriber::{EventsClient, EventsConfig};
//!
//! let now = Instant::from_millis(0);
//! let credential = Credential::AccessToken(Secret::new("eyJ.jwt.sig"));
//! let mut chat = ChatClient::new(ChatConfig::default(), now);
//! let mut events = EventsClient::new(EventsConfig::new("sess-b"), now);
//! chat.listen(1);
//! events.listen(1);
//!
//! // The shell opens a socket per `Action::Open`, at the URL built for that attempt.
//! let Some(Action::Open { epoch }) = chat.poll_action() else { unreachable!() };
//! let url = socket_url("https://fleet.example", &chat.endpoint(), &credential, false).unwrap();
//! assert!(url.expose().ends_with("?access_token=eyJ.jwt.sig"));
//! chat.handle_open(now, epoch);
//! let Some(Action::Open { epoch: e }) = events.poll_action() else { unreachable!() };
//! events.handle_open(now, e);
//! assert_eq!((chat.state(), events.state()), (ConnState::Live, ConnState::Live));
//!
//! // A turn: the message goes out as a frame; the events client is told a turn runs, so
//! // it can report a stalled events stream.
//! chat.send_message(now, &MessageRequest::new("list the workspace files", "sess-b")).unwrap();
//! events.turn_started(now);
//! let frame = chat.poll_transmit().unwrap(); // → socket.send(frame)
//! assert!(frame.contains(r#""session_id":"sess-b""#));
//! chat.handle_frame(now, epoch, br#"{"type":"event","data":{"kind":"assistant_token","text":"Hi","payload":null,"version":2,"event_id":"e1"}}"#);
//! assert_eq!(chat.current_turn().unwrap().answer, "Hi");
//! while let Some(output) = chat.poll_output() { /* state changes, deliveries, diagnostics, replies */ }
//! ```
pub mod auth;
pub mod chat;
pub mod chat_events;
pub mod errors;
pub mod execution;
pub mod frames;
pub mod http;
pub mod json;
pub mod requests;
pub mod runs;
pub mod socket;
pub mod step_tree;
pub mod subscriber;
pub mod turns;
