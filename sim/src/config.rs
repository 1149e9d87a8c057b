//! Simulator configuration and its command line.

use std::path::PathBuf;

use clap::{Args, Parser, ValueEnum};

use crate::faults::FaultSpec;

/// What runs on the simulator without any client asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Nothing runs until a client or the control API executes a pipeline.
    Idle,
    /// Three pipelines that start, run, complete and re-run forever.
    Demo,
    /// `--tasks` concurrent tasks producing `--rate` events per second in total (0: flat-out,
    /// as fast as the slowest subscribed reader takes them), in the real-frame mix of issue 11,
    /// every task event stamped with `eventTime` (the benchmark's latency stamp).
    Load,
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bind address.
    pub host: String,
    /// Bind port; 0 picks an ephemeral port.
    pub port: u16,
    /// Accepted API keys (spec §1.3, OSS `ROCKETRIDE_APIKEY`).
    pub api_keys: Vec<String>,
    /// Background scenario.
    pub scenario: Scenario,
    /// Load scenario: number of concurrent tasks.
    pub load_tasks: u32,
    /// Load scenario: aggregate produced events per second; 0 = flat-out.
    pub load_rate: u32,
    /// Seed of every random choice (fault rates, script content).
    pub seed: u64,
    /// Simulated-time speed: 10.0 runs scripts, status cadence and startup ten times faster.
    pub speed: f64,
    /// How long a completed task stays registered (spec §3.6: 300 s).
    pub cleanup_delay_ms: u64,
    /// How often the cleanup scan runs (spec §3.6: 60 s).
    pub cleanup_scan_ms: u64,
    /// Also append every send-log entry to this file as JSON lines.
    pub send_log_file: Option<PathBuf>,
    /// Ring-buffer size of the in-memory send log.
    pub send_log_capacity: usize,
    /// Faults applied at start.
    pub faults: Vec<FaultSpec>,
    /// Newer-server mode (spec §8.3, PR #1661): `eventTime`, `logSeq`, `rrext_log`.
    pub newer: bool,
    /// Reproduce the snapshot's `exit_code` bug (spec §4.2): natural exits end as state 6.
    pub exit_code_bug: bool,
    /// The fleet-rlm side's settings (`crate::fleet`).
    pub fleet: FleetConfig,
}

/// The settings of a command line with no flags: the flags' defaults are the only place
/// they are stated.
impl Default for Config {
    fn default() -> Self {
        Cli::parse_from(["runwatch-sim"]).into_config().expect("the default flags are valid")
    }
}

/// `runwatch-sim` command line.
#[derive(Debug, Parser)]
#[command(name = "runwatch-sim", about = "RocketRide engine (and fleet-rlm server) simulator with fault injection")]
pub struct Cli {
    /// Bind address (the control API only answers loopback peers).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Bind port; 0 = ephemeral.
    #[arg(long, default_value_t = 5565)]
    pub port: u16,
    /// Accepted API key (repeatable). Default: sim-key.
    #[arg(long = "api-key")]
    pub api_keys: Vec<String>,
    /// Background scenario.
    #[arg(long, value_enum, default_value = "idle")]
    pub scenario: Scenario,
    /// Load scenario: concurrent tasks.
    #[arg(long, default_value_t = 4)]
    pub tasks: u32,
    /// Load scenario: aggregate events per second; 0 = flat-out (as fast as the readers take them).
    #[arg(long, default_value_t = 1000)]
    pub rate: u32,
    /// Seed for fault rates and script content.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Simulated-time speed multiplier (10 = ten times faster).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Completed-task retention before cleanup, in ms.
    #[arg(long, default_value_t = 300_000)]
    pub cleanup_delay_ms: u64,
    /// Cleanup scan interval, in ms.
    #[arg(long, default_value_t = 60_000)]
    pub cleanup_scan_ms: u64,
    /// Append the send log to this file as JSON lines.
    #[arg(long)]
    pub send_log: Option<PathBuf>,
    /// In-memory send-log capacity (entries).
    #[arg(long, default_value_t = 200_000)]
    pub send_log_capacity: usize,
    /// Faults applied at start: kind[:param],... (e.g. drop:0.1,slow_writer:50).
    #[arg(long, value_delimiter = ',')]
    pub faults: Vec<String>,
    /// Newer-server mode (eventTime, logSeq, rrext_log).
    #[arg(long)]
    pub newer: bool,
    /// Report clean natural exits as COMPLETED (PR #2150) instead of the snapshot's bug.
    #[arg(long)]
    pub fixed_exit_code: bool,
    /// fleet-rlm side.
    #[command(flatten)]
    pub fleet: FleetArgs,
}

impl Cli {
    /// Validates the command line and turns it into a [`Config`].
    pub fn into_config(self) -> Result<Config, String> {
        if !(self.speed.is_finite() && self.speed > 0.0) {
            return Err(format!("--speed must be a positive number, got {}", self.speed));
        }
        let faults = self.faults.iter().map(|s| FaultSpec::parse_cli(s)).collect::<Result<_, _>>()?;
        let api_keys = if self.api_keys.is_empty() { vec!["sim-key".into()] } else { self.api_keys };
        Ok(Config {
            host: self.host,
            port: self.port,
            api_keys,
            scenario: self.scenario,
            load_tasks: self.tasks.max(1),
            load_rate: self.rate,
            seed: self.seed,
            speed: self.speed,
            cleanup_delay_ms: self.cleanup_delay_ms,
            cleanup_scan_ms: self.cleanup_scan_ms.max(1),
            send_log_file: self.send_log,
            send_log_capacity: self.send_log_capacity.max(1),
            faults,
            // The newer server also carries the exit-code fix (PR #2150 predates #1661's release).
            exit_code_bug: !(self.fixed_exit_code || self.newer),
            newer: self.newer,
            fleet: self.fleet.into_config(),
        })
    }
}

/// fleet-rlm settings (the real server's env settings this simulator models).
#[derive(Debug, Clone)]
pub struct FleetConfig {
    /// `AUTH_REQUIRED`: failures close with `auth_failed`/1008 instead of falling back to
    /// `default`/`anonymous`.
    pub auth_required: bool,
    /// `DEV_JWT_SECRET` (HS256).
    pub jwt_secret: String,
    /// `ALLOW_DEBUG_AUTH`: `debug_tenant_id` + `debug_user_id` (query) / `X-Debug-*` headers.
    pub allow_debug_auth: bool,
    /// `ALLOW_QUERY_AUTH_TOKENS`: `access_token` query parameter.
    pub allow_query_tokens: bool,
    /// `WS_EXECUTION_MAX_QUEUE`.
    pub max_queue: usize,
    /// `WS_EXECUTION_DROP_POLICY=drop_newest` instead of `drop_oldest`.
    pub drop_newest: bool,
    /// No planner LM: chat sockets get `planner_missing` then close 1000; `/ready` false.
    pub planner_missing: bool,
    /// No Daytona credentials: the first message ends in `sandbox_unavailable` + 1011.
    pub daytona_missing: bool,
    /// `MLFLOW_ENABLED`: finals carry trace ids and `/api/v1/traces/feedback` accepts them.
    pub mlflow: bool,
    /// Multiplier of every scripted delay (1 = realistic pacing; 0 = none). `--speed` applies too.
    pub pace: f64,
    /// uvicorn's protocol ping interval, and its pong timeout (real ms; 0 = no pings).
    pub ping_ms: u64,
}

/// The settings of no fleet flags (see `Config`'s `Default`).
impl Default for FleetConfig {
    fn default() -> Self {
        Config::default().fleet
    }
}

/// fleet-rlm command-line flags (flattened into the simulator's).
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// fleet-rlm: AUTH_REQUIRED=true (bad or missing auth → auth_failed, 1008).
    #[arg(long)]
    pub fleet_auth_required: bool,
    /// fleet-rlm: DEV_JWT_SECRET for HS256 access tokens.
    #[arg(long, default_value = "change-me")]
    pub fleet_jwt_secret: String,
    /// fleet-rlm: WS_EXECUTION_MAX_QUEUE of each events subscriber.
    #[arg(long, default_value_t = 256)]
    pub fleet_max_queue: usize,
    /// fleet-rlm: drop_newest instead of drop_oldest when a subscriber queue is full.
    #[arg(long)]
    pub fleet_drop_newest: bool,
    /// fleet-rlm: no planner LM (planner_missing on connect, /ready false).
    #[arg(long)]
    pub fleet_planner_missing: bool,
    /// fleet-rlm: no Daytona credentials (first message → sandbox_unavailable, 1011).
    #[arg(long)]
    pub fleet_daytona_missing: bool,
    /// fleet-rlm: MLFLOW_ENABLED=false (no trace ids; feedback answers 503).
    #[arg(long)]
    pub fleet_no_mlflow: bool,
    /// fleet-rlm: multiplier of scripted delays (0 = as fast as possible).
    #[arg(long, default_value_t = 1.0)]
    pub fleet_pace: f64,
    /// fleet-rlm: ALLOW_DEBUG_AUTH=false (no debug identity parameters or headers).
    #[arg(long)]
    pub fleet_no_debug_auth: bool,
    /// fleet-rlm: ALLOW_QUERY_AUTH_TOKENS=false (no access_token: browsers cannot authenticate).
    #[arg(long)]
    pub fleet_no_query_tokens: bool,
    /// fleet-rlm: protocol ping interval and pong timeout in ms (uvicorn: 20000; 0 = off).
    #[arg(long, default_value_t = 20_000)]
    pub fleet_ping_ms: u64,
}

impl FleetArgs {
    /// The settings these flags select.
    pub fn into_config(self) -> FleetConfig {
        FleetConfig {
            auth_required: self.fleet_auth_required,
            jwt_secret: self.fleet_jwt_secret,
            max_queue: self.fleet_max_queue.max(1),
            drop_newest: self.fleet_drop_newest,
            planner_missing: self.fleet_planner_missing,
            daytona_missing: self.fleet_daytona_missing,
            mlflow: !self.fleet_no_mlflow,
            pace: if self.fleet_pace.is_finite() { self.fleet_pace.max(0.0) } else { 1.0 },
            ping_ms: self.fleet_ping_ms,
            allow_debug_auth: !self.fleet_no_debug_auth,
            allow_query_tokens: !self.fleet_no_query_tokens,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The defaults come from the flags' defaults: the ones tests and the README rely on.
    #[test]
    fn defaults_are_those_of_a_command_line_without_flags() {
        let c = Config::default();
        assert_eq!((c.host.as_str(), c.port, c.api_keys.as_slice()), ("127.0.0.1", 5565, ["sim-key".to_string()].as_slice()));
        assert_eq!((c.scenario, c.load_tasks, c.load_rate, c.seed, c.speed), (Scenario::Idle, 4, 1000, 1, 1.0));
        assert_eq!((c.cleanup_delay_ms, c.cleanup_scan_ms, c.send_log_capacity), (300_000, 60_000, 200_000));
        assert!(c.faults.is_empty() && c.send_log_file.is_none() && !c.newer && c.exit_code_bug);
        let f = FleetConfig::default();
        assert_eq!((f.jwt_secret.as_str(), f.max_queue, f.pace, f.ping_ms), ("change-me", 256, 1.0, 20_000));
        assert!(!f.auth_required && f.allow_debug_auth && f.allow_query_tokens && f.mlflow);
        assert!(!f.drop_newest && !f.planner_missing && !f.daytona_missing);
    }
}
