//! Simulator configuration and its command line.

use std::path::PathBuf;

use clap::{Parser, ValueEnum};

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
    pub fleet: crate::fleet::FleetConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 5565,
            api_keys: vec!["sim-key".into()],
            scenario: Scenario::Idle,
            load_tasks: 4,
            load_rate: 1000,
            seed: 1,
            speed: 1.0,
            cleanup_delay_ms: 300_000,
            cleanup_scan_ms: 60_000,
            send_log_file: None,
            send_log_capacity: 200_000,
            faults: Vec::new(),
            newer: false,
            exit_code_bug: true,
            fleet: crate::fleet::FleetConfig::default(),
        }
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
    pub fleet: crate::fleet::FleetArgs,
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
