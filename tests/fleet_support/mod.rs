//! Shared by the fleet-rlm tests: the sample session (`sample.jsonl`, a copy of
//! `shared/protocols/fleet-rlm-sample.jsonl`) and a driver that plays the shell for a
//! fleet-rlm client: opens sockets, feeds frames and time, collects what comes out.
#![allow(dead_code)] // each test file uses part of it

use runwatch::core::connection::{Connection, Protocol};
use runwatch::core::lifecycle::{Action, ConnState};
use runwatch::core::outputs::{Diagnostic, Output};
use runwatch::core::time::{Duration, Instant};

/// The sample's lines, in order (line 1 is index 0).
pub fn sample() -> Vec<&'static str> {
    include_str!("sample.jsonl").lines().filter(|l| !l.trim().is_empty()).collect()
}

/// Plays the shell for one connection.
pub struct Shell<P: Protocol> {
    pub conn: Connection<P>,
    pub now: Instant,
    pub sent: Vec<String>,
    pub outputs: Vec<Output<P::Event>>,
    /// Sockets opened so far.
    pub opens: u32,
}

impl<P: Protocol> Shell<P> {
    pub fn new(conn: Connection<P>) -> Self {
        let mut shell = Shell { conn, now: Instant::from_millis(0), sent: vec![], outputs: vec![], opens: 0 };
        shell.drain();
        shell
    }

    /// Does what the connection asks (opens sockets at once) and collects outputs.
    pub fn drain(&mut self) {
        loop {
            let mut acted = false;
            while let Some(action) = self.conn.poll_action() {
                acted = true;
                if let Action::Open { epoch } = action {
                    self.opens += 1;
                    self.conn.handle_open(self.now, epoch);
                }
            }
            self.outputs.extend(std::iter::from_fn(|| self.conn.poll_output()));
            self.sent.extend(std::iter::from_fn(|| self.conn.poll_transmit()));
            if !acted {
                break;
            }
        }
    }

    pub fn frame(&mut self, text: &str) {
        let epoch = self.conn.epoch();
        self.conn.handle_frame(self.now, epoch, text.as_bytes());
        self.drain();
    }

    pub fn close(&mut self, code: u16) {
        let epoch = self.conn.epoch();
        self.conn.handle_close(self.now, epoch, code, "");
        self.drain();
    }

    /// Moves time on by `ms`, firing what is due.
    pub fn advance(&mut self, ms: u64) {
        self.now = self.now + Duration::from_millis(ms);
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    /// Moves time on until the connection is live again (at most a few minutes).
    pub fn until_live(&mut self) {
        for _ in 0..600 {
            if self.conn.state() == ConnState::Live {
                return;
            }
            self.advance(500);
        }
        panic!("never live again: {:?}", self.conn.state());
    }

    pub fn delivered(&self) -> Vec<&P::Event> {
        self.outputs.iter().filter_map(|o| if let Output::Deliver(d) = o { Some(&d.event.event) } else { None }).collect()
    }

    pub fn diagnostics(&self) -> Vec<&Diagnostic> {
        self.outputs.iter().filter_map(|o| if let Output::Diagnostic(d) = o { Some(&**d) } else { None }).collect()
    }

    pub fn states(&self) -> Vec<ConnState> {
        self.outputs.iter().filter_map(|o| if let Output::State(s) = o { Some(s.new_state) } else { None }).collect()
    }
}
