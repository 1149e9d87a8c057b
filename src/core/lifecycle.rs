//! The connection lifecycle shared by every protocol: which state the connection is in,
//! when to open a socket, when to give up on one, and how long to back off.
//!
//! ```text
//!            start / wake / backoff timer
//!   ┌────────────────────────────────────────────┐
//!   ▼                                            │
//! connecting ─open─▶ authenticating ─ok─▶ subscribing ─ok─▶ live
//!   │                   │  │                  │              │
//!   │                   │  └─rejected─▶ authFailed (final)   │
//!   └───────────── lost (close, error, timeout) ─────────────┴─▶ backoff ─┘
//!                       close() from anywhere ─▶ closed (final)
//!
//! `pagehide` is a loss too (`PageHidden`), but its backoff has no timer: only a wake
//! (`pageshow` above all) connects again.
//! ```
//!
//! The lifecycle knows nothing about frames. The protocol tells it what happened
//! (`opened`, `authenticated`, `subscribed`, `lost`, …) and asks it what to do next via
//! [`Lifecycle::poll_action`]. Deadlines (connect timeout, reconnect delay) are reported
//! through [`Lifecycle::poll_timeout`]; time is always passed in.

use std::collections::VecDeque;

use serde::Serialize;
use tsify::Tsify;

use super::backoff::{Backoff, BackoffConfig};
use super::rng::Rng;
use super::time::{Duration, Instant};
use super::timers::Timers;

/// Where the connection is. `closed` and `authFailed` are final.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Tsify)]
#[serde(rename_all = "camelCase")]
pub enum ConnState {
    /// A socket is being opened.
    Connecting,
    /// The socket is open; the credential is being presented.
    Authenticating,
    /// Authenticated; the desired subscriptions are being (re-)established.
    Subscribing,
    /// Subscribed and receiving events.
    Live,
    /// Waiting before the next attempt after a loss.
    Backoff,
    /// Closed by the app, or the retry budget was used up. Final.
    Closed,
    /// The server rejected the credential. Final: retrying cannot help.
    AuthFailed,
}

impl ConnState {
    /// True while a socket is (being) opened for this state.
    #[must_use]
    pub fn has_socket(self) -> bool {
        matches!(self, Self::Connecting | Self::Authenticating | Self::Subscribing | Self::Live)
    }

    /// True for the states nothing leaves.
    #[must_use]
    pub fn is_final(self) -> bool {
        matches!(self, Self::Closed | Self::AuthFailed)
    }
}

/// Why a connection was lost. Carried in state changes and diagnostics.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Tsify)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum LossReason {
    /// The socket closed (`code`, `reason` as the browser reported them).
    Closed { code: u16, reason: String },
    /// No socket was established, or the handshake did not finish in time.
    ConnectTimeout,
    /// The server stopped answering heartbeats: a half-open (zombie) socket.
    HeartbeatTimeout,
    /// The client dropped the socket on purpose, e.g. after a wake from sleep.
    Stale,
    /// The protocol gave up on the connection (the message says why).
    Protocol { message: String },
    /// The page was hidden for the back/forward cache or unloaded (`pagehide`): the socket
    /// was closed cleanly, and the client reconnects when the page is shown again.
    PageHidden,
}

/// Something that made a reconnect worth trying *now* rather than after the backoff.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// The browser reported `online`.
    Online,
    /// The page became visible.
    Visible,
    /// The page came back from the back/forward cache (`pageshow`).
    PageShown,
}

/// What the shell must do to the socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Open a new socket (any previous one is already closed) for this epoch.
    Open { epoch: u32 },
    /// Close the current socket with this code and reason.
    Close { code: u16, reason: String },
}

/// A state transition, in the order they happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transition {
    pub old_state: ConnState,
    pub new_state: ConnState,
    /// Connection number: incremented on every socket opened. Events carry it.
    pub epoch: u32,
    /// Why we left a connected state, if we did.
    pub reason: Option<LossReason>,
}

/// Tunables of the lifecycle.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleConfig {
    /// Reconnect delays.
    pub backoff: BackoffConfig,
    /// How long connecting + authenticating + subscribing may take.
    pub connect_timeout: Duration,
    /// A wall-clock jump this much larger than the monotonic clock's means the machine
    /// slept; the socket is then presumed dead.
    pub sleep_threshold: Duration,
}

impl Default for LifecycleConfig {
    fn default() -> Self {
        Self {
            backoff: BackoffConfig::default(),
            connect_timeout: Duration::from_secs(15),
            sleep_threshold: Duration::from_secs(10),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Timer {
    ConnectDeadline,
    Reconnect,
}

/// The connection lifecycle state machine. See the module docs for the diagram.
pub struct Lifecycle {
    config: LifecycleConfig,
    state: ConnState,
    epoch: u32,
    backoff: Backoff,
    rng: Rng,
    timers: Timers<Timer>,
    actions: VecDeque<Action>,
    transitions: VecDeque<Transition>,
    /// When the last live connection was lost (for the offline interval of a resync).
    offline_since: Option<Instant>,
    /// Whether any connection ever reached `live` (a later `live` is a *re*connect).
    was_live: bool,
    /// Last (monotonic, wall) pair seen, for sleep detection.
    clocks: Option<(Instant, u64)>,
}

impl Lifecycle {
    /// A lifecycle in `connecting`, asking the shell to open the first socket.
    pub fn start(config: LifecycleConfig, rng_seed: u64, now: Instant) -> Self {
        let backoff = Backoff::new(config.backoff.clone());
        let mut lc = Self {
            config,
            state: ConnState::Closed,
            epoch: 0,
            backoff,
            rng: Rng::with_seed(rng_seed),
            timers: Timers::new(),
            actions: VecDeque::new(),
            transitions: VecDeque::new(),
            offline_since: None,
            was_live: false,
            clocks: None,
        };
        lc.connect(now);
        lc
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> ConnState {
        self.state
    }

    /// The current connection number (0 before the first socket).
    #[must_use]
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// Reconnect attempts since the last time the connection was live.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.backoff.attempts()
    }

    /// The socket opened.
    pub fn opened(&mut self) {
        if self.state == ConnState::Connecting {
            self.set_state(ConnState::Authenticating, None);
        }
    }

    /// The server accepted the credential.
    pub fn authenticated(&mut self) {
        if self.state == ConnState::Authenticating {
            self.set_state(ConnState::Subscribing, None);
        }
    }

    /// The desired subscriptions are in place. Returns the offline interval when this
    /// completes a *re*connect (the protocol then reports a resync), `None` on the first.
    pub fn subscribed(&mut self, now: Instant) -> Option<Duration> {
        if self.state != ConnState::Subscribing {
            return None;
        }
        self.timers.clear(Timer::ConnectDeadline);
        self.backoff.reset();
        self.set_state(ConnState::Live, None);
        let reconnect = std::mem::replace(&mut self.was_live, true);
        let offline = self.offline_since.take().map(|since| now - since);
        if reconnect {
            offline.or(Some(Duration::ZERO))
        } else {
            None
        }
    }

    /// The server rejected the credential: stop for good.
    pub fn auth_rejected(&mut self) {
        if self.state.has_socket() {
            self.close_socket(4001, "authentication failed");
            self.timers.clear_all();
            self.set_state(ConnState::AuthFailed, None);
        }
    }

    /// The connection is gone or must be dropped. Schedules a reconnect, or closes for good
    /// when the retry budget is used up. Ignored when no socket is active.
    pub fn lost(&mut self, now: Instant, reason: LossReason) {
        if !self.state.has_socket() {
            return;
        }
        // A socket the shell still holds (timeouts, stale, a hidden page) must be closed;
        // one that closed by itself needs nothing.
        match reason {
            LossReason::Closed { .. } => {}
            // WebSocket.close() takes 1000 or 3000–4999: the reason says why.
            LossReason::PageHidden => self.close_socket(1000, "runwatch: page hidden"),
            _ => self.close_socket(4000, "runwatch: connection presumed dead"),
        }
        if self.state == ConnState::Live || self.offline_since.is_none() {
            self.offline_since.get_or_insert(now);
        }
        self.timers.clear(Timer::ConnectDeadline);
        if reason == LossReason::PageHidden {
            // Frozen or unloaded next: no attempt is spent, and only a wake connects again.
            self.set_state(ConnState::Backoff, Some(reason));
            return;
        }
        match self.backoff.next_delay(&mut self.rng) {
            Some(delay) => {
                self.timers.set(Timer::Reconnect, now + delay);
                self.set_state(ConnState::Backoff, Some(reason));
            }
            None => self.set_state(ConnState::Closed, Some(reason)),
        }
    }

    /// The app closed the client. Final. A socket the shell has not opened yet (the client
    /// is closed in the tick it was made, as React StrictMode's effect → cleanup does) is
    /// never opened, rather than opened to be closed at once.
    pub fn close(&mut self) {
        if self.state.is_final() {
            return;
        }
        // An unpolled Open is always the last action: only `connect` queues one, and
        // nothing else is queued until the shell takes it.
        if matches!(self.actions.back(), Some(Action::Open { .. })) {
            self.actions.pop_back();
        } else if self.state.has_socket() {
            self.close_socket(1000, "client closed");
        }
        self.timers.clear_all();
        self.set_state(ConnState::Closed, None);
    }

    /// The page is being hidden (`pagehide`) while the client backs off: the next attempt
    /// waits for a wake rather than its timer, which could open a socket as the page freezes.
    pub fn hold(&mut self) {
        if self.state == ConnState::Backoff {
            self.timers.clear(Timer::Reconnect);
        }
    }

    /// The browser came back online or the page became visible or was shown again: while
    /// backing off, try again at once. (A live socket is checked by the protocol's
    /// heartbeat instead.)
    pub fn wake(&mut self, now: Instant, _why: Wake) {
        if self.state == ConnState::Backoff {
            self.connect(now);
        }
    }

    /// Feeds the wall clock (ms since the epoch) beside the monotonic one. Returns true
    /// when the two diverged by more than the sleep threshold since the last call: the
    /// machine slept, so any open socket is suspect and a backoff is cut short.
    pub fn observe_clocks(&mut self, now: Instant, wall_ms: u64) -> bool {
        let previous = self.clocks.replace((now, wall_ms));
        let Some((then, wall_then)) = previous else { return false };
        let mono = (now - then).as_millis() as u64;
        let wall = wall_ms.saturating_sub(wall_then);
        let slept = wall.saturating_sub(mono) > self.config.sleep_threshold.as_millis() as u64;
        if slept && self.state == ConnState::Backoff {
            self.connect(now);
        }
        slept
    }

    /// True when connecting + authenticating + subscribing has taken too long: the
    /// engine then drops the connection (`lost` with [`LossReason::ConnectTimeout`]).
    #[must_use]
    pub fn connect_deadline_passed(&self, now: Instant) -> bool {
        self.timers.get(Timer::ConnectDeadline).is_some_and(|at| at <= now)
    }

    /// The earliest deadline the lifecycle needs a `handle_timeout` for.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Fires due deadlines. A spurious call is a no-op.
    pub fn handle_timeout(&mut self, now: Instant) {
        for timer in self.timers.pop_expired(now) {
            match timer {
                Timer::ConnectDeadline => self.lost(now, LossReason::ConnectTimeout),
                Timer::Reconnect if self.state == ConnState::Backoff => self.connect(now),
                Timer::Reconnect => {}
            }
        }
    }

    /// Next socket action for the shell.
    #[must_use]
    pub fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    /// Next state transition, oldest first.
    #[must_use]
    pub fn poll_transition(&mut self) -> Option<Transition> {
        self.transitions.pop_front()
    }

    fn connect(&mut self, now: Instant) {
        self.timers.clear(Timer::Reconnect);
        self.timers.set(Timer::ConnectDeadline, now + self.config.connect_timeout);
        self.epoch += 1;
        self.actions.push_back(Action::Open { epoch: self.epoch });
        self.set_state(ConnState::Connecting, None);
    }

    fn close_socket(&mut self, code: u16, reason: &str) {
        self.actions.push_back(Action::Close { code, reason: reason.to_string() });
    }

    fn set_state(&mut self, new_state: ConnState, reason: Option<LossReason>) {
        let old_state = std::mem::replace(&mut self.state, new_state);
        self.transitions.push_back(Transition { old_state, new_state, epoch: self.epoch, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_millis(ms)
    }

    fn lifecycle() -> Lifecycle {
        Lifecycle::start(LifecycleConfig::default(), 7, at(0))
    }

    fn states(lc: &mut Lifecycle) -> Vec<ConnState> {
        std::iter::from_fn(|| lc.poll_transition()).map(|t| t.new_state).collect()
    }

    fn to_live(lc: &mut Lifecycle, now: Instant) -> Option<Duration> {
        lc.opened();
        lc.authenticated();
        lc.subscribed(now)
    }

    #[test]
    fn start_opens_a_socket_in_connecting() {
        let mut lc = lifecycle();
        assert_eq!(lc.state(), ConnState::Connecting);
        assert_eq!(lc.poll_action(), Some(Action::Open { epoch: 1 }));
        assert_eq!(lc.epoch(), 1);
    }

    #[test]
    fn happy_path_walks_every_connected_state() {
        let mut lc = lifecycle();
        assert_eq!(to_live(&mut lc, at(10)), None, "the first live is not a reconnect");
        use ConnState::*;
        assert_eq!(states(&mut lc), vec![Connecting, Authenticating, Subscribing, Live]);
        assert_eq!(lc.poll_timeout(), None, "the connect deadline is cleared once live");
    }

    #[test]
    fn loss_backs_off_then_reconnects_and_reports_the_offline_interval() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        let _ = states(&mut lc);
        lc.lost(at(1_000), LossReason::Closed { code: 1006, reason: String::new() });
        assert_eq!(lc.state(), ConnState::Backoff);
        let wake = lc.poll_timeout().expect("a reconnect is scheduled");
        assert!(wake >= at(1_000) && wake <= at(2_000), "first delay within [0, min_delay]: {wake:?}");
        lc.handle_timeout(wake);
        assert_eq!(lc.state(), ConnState::Connecting);
        assert_eq!(lc.epoch(), 2);
        assert_eq!(to_live(&mut lc, at(5_000)), Some(Duration::from_millis(4_000)));
    }

    #[test]
    fn offline_interval_spans_failed_attempts() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        lc.lost(at(100), LossReason::HeartbeatTimeout);
        for _ in 0..3 {
            let t = lc.poll_timeout().unwrap();
            lc.handle_timeout(t);
            lc.lost(t, LossReason::Closed { code: 1006, reason: String::new() });
        }
        let t = lc.poll_timeout().unwrap();
        lc.handle_timeout(t);
        let offline = to_live(&mut lc, t + Duration::from_millis(1)).unwrap();
        assert_eq!(offline, (t - at(100)) + Duration::from_millis(1));
    }

    #[test]
    fn connect_timeout_counts_as_a_loss() {
        let mut lc = lifecycle();
        lc.opened();
        lc.handle_timeout(at(14_999));
        assert_eq!(lc.state(), ConnState::Authenticating);
        lc.handle_timeout(at(15_000));
        assert_eq!(lc.state(), ConnState::Backoff);
        let actions: Vec<_> = std::iter::from_fn(|| lc.poll_action()).collect();
        assert!(matches!(actions.last(), Some(Action::Close { .. })), "the stuck socket is closed: {actions:?}");
    }

    #[test]
    fn auth_rejection_is_final() {
        let mut lc = lifecycle();
        lc.opened();
        lc.auth_rejected();
        assert_eq!(lc.state(), ConnState::AuthFailed);
        assert_eq!(lc.poll_timeout(), None);
        lc.lost(at(5), LossReason::Closed { code: 1000, reason: String::new() });
        lc.wake(at(6), Wake::Online);
        assert_eq!(lc.state(), ConnState::AuthFailed, "nothing leaves authFailed");
    }

    #[test]
    fn a_socket_not_opened_yet_is_never_opened_after_close() {
        let mut lc = lifecycle();
        lc.close();
        assert_eq!(lc.state(), ConnState::Closed);
        assert_eq!(lc.poll_action(), None, "no Open, and no Close of a socket that never was");
        assert_eq!(states(&mut lc), [ConnState::Connecting, ConnState::Closed]);
    }

    #[test]
    fn close_is_final_and_closes_the_socket() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        let _ = lc.poll_action();
        lc.close();
        assert_eq!(lc.state(), ConnState::Closed);
        assert_eq!(lc.poll_action(), Some(Action::Close { code: 1000, reason: "client closed".into() }));
        lc.wake(at(1), Wake::Visible);
        lc.handle_timeout(at(100_000));
        assert_eq!(lc.state(), ConnState::Closed);
        assert_eq!(lc.poll_action(), None);
    }

    #[test]
    fn exhausted_retry_budget_closes() {
        let cfg = LifecycleConfig {
            backoff: BackoffConfig { max_attempts: Some(2), ..BackoffConfig::default() },
            ..LifecycleConfig::default()
        };
        let mut lc = Lifecycle::start(cfg, 1, at(0));
        for _ in 0..2 {
            lc.lost(at(0), LossReason::ConnectTimeout);
            assert_eq!(lc.state(), ConnState::Backoff);
            let t = lc.poll_timeout().unwrap();
            lc.handle_timeout(t);
        }
        lc.lost(at(0), LossReason::ConnectTimeout);
        assert_eq!(lc.state(), ConnState::Closed);
    }

    #[test]
    fn online_or_visible_skips_the_backoff() {
        let mut lc = lifecycle();
        lc.lost(at(0), LossReason::ConnectTimeout);
        lc.wake(at(1), Wake::Online);
        assert_eq!(lc.state(), ConnState::Connecting);
        lc.lost(at(2), LossReason::ConnectTimeout);
        lc.wake(at(3), Wake::Visible);
        assert_eq!(lc.state(), ConnState::Connecting);
    }

    #[test]
    fn a_hidden_page_closes_its_socket_cleanly_and_waits_for_the_page_to_be_shown() {
        let cfg = LifecycleConfig { backoff: BackoffConfig { max_attempts: Some(1), ..BackoffConfig::default() }, ..LifecycleConfig::default() };
        let mut lc = Lifecycle::start(cfg, 1, at(0));
        to_live(&mut lc, at(0));
        let _ = lc.poll_action();
        lc.lost(at(5), LossReason::PageHidden);
        assert_eq!(lc.state(), ConnState::Backoff);
        assert_eq!(lc.poll_action(), Some(Action::Close { code: 1000, reason: "runwatch: page hidden".into() }));
        assert_eq!(lc.poll_timeout(), None, "no timer: a frozen page must not wake into a socket");
        assert_eq!(lc.attempts(), 0, "no attempt of the retry budget is spent");
        lc.wake(at(60_000), Wake::PageShown);
        assert_eq!((lc.state(), lc.poll_action()), (ConnState::Connecting, Some(Action::Open { epoch: 2 })));
        assert_eq!(to_live(&mut lc, at(60_010)), Some(Duration::from_millis(60_005)), "the hidden time is offline time");
    }

    #[test]
    fn a_page_hidden_while_backing_off_waits_for_a_wake_instead_of_its_timer() {
        let mut lc = lifecycle();
        lc.lost(at(0), LossReason::ConnectTimeout);
        assert!(lc.poll_timeout().is_some());
        lc.hold();
        assert_eq!(lc.poll_timeout(), None);
        lc.wake(at(1), Wake::PageShown);
        assert_eq!(lc.state(), ConnState::Connecting);
    }

    #[test]
    fn wake_while_live_does_nothing() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        let epoch = lc.epoch();
        lc.wake(at(1), Wake::Online);
        assert_eq!((lc.state(), lc.epoch()), (ConnState::Live, epoch));
    }

    #[test]
    fn a_wall_clock_jump_is_detected_as_sleep() {
        let mut lc = lifecycle();
        assert!(!lc.observe_clocks(at(0), 1_000_000));
        assert!(!lc.observe_clocks(at(5_000), 1_005_000), "clocks agree");
        assert!(lc.observe_clocks(at(6_000), 1_606_000), "wall moved 10 minutes in 1 s");
        lc.lost(at(6_000), LossReason::Stale);
        assert_eq!(lc.state(), ConnState::Backoff);
        assert!(lc.observe_clocks(at(7_000), 2_000_000));
        assert_eq!(lc.state(), ConnState::Connecting, "sleep cuts the backoff short");
    }

    #[test]
    fn spurious_timeouts_are_no_ops() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        let _ = states(&mut lc);
        lc.handle_timeout(at(1_000_000));
        assert_eq!(lc.state(), ConnState::Live);
        assert!(states(&mut lc).is_empty());
    }

    #[test]
    fn transitions_carry_epoch_and_reason() {
        let mut lc = lifecycle();
        to_live(&mut lc, at(0));
        let _ = states(&mut lc);
        lc.lost(at(1), LossReason::HeartbeatTimeout);
        let t = lc.poll_transition().unwrap();
        assert_eq!(t.old_state, ConnState::Live);
        assert_eq!(t.new_state, ConnState::Backoff);
        assert_eq!(t.epoch, 1);
        assert_eq!(t.reason, Some(LossReason::HeartbeatTimeout));
    }
}
