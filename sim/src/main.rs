//! `runwatch-sim` binary: parses the command line, starts the simulator, prints the
//! listening line tests parse, and serves until Ctrl-C.

use std::io::Write;

use clap::Parser;
use runwatch_sim::{start, Cli};

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let config = match Cli::parse().into_config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("runwatch-sim: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    let handle = match start(config).await {
        Ok(h) => h,
        Err(e) => {
            eprintln!("runwatch-sim: cannot start: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "runwatch-sim listening on {}", handle.ws_url());
    let _ = out.flush();
    drop(out);
    eprintln!("runwatch-sim: fleet-rlm on {} and {}", handle.fleet_chat_url(), handle.fleet_events_url("<session>"));
    let _ = tokio::signal::ctrl_c().await;
    handle.shutdown();
    std::process::ExitCode::SUCCESS
}
