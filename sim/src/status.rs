//! `TASK_STATUS` (spec §4.2), with wire field names and wire field order.

use std::collections::BTreeMap;

use serde::Serialize;

/// `TASK_STATE` values (spec §4.2).
pub mod state {
    /// No task.
    pub const NONE: u8 = 0;
    /// Engine starting.
    pub const STARTING: u8 = 1;
    /// Engine initialising.
    pub const INITIALIZING: u8 = 2;
    /// Running.
    pub const RUNNING: u8 = 3;
    /// Stopping.
    pub const STOPPING: u8 = 4;
    /// Completed.
    pub const COMPLETED: u8 = 5;
    /// Cancelled / stopped.
    pub const CANCELLED: u8 = 6;
}

/// `TASK_STATUS.pipeflow`: the live per-pipe flow stacks. Integer keys serialise as JSON
/// strings (`"0"`), as on the wire (spec §4.2).
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipeFlow {
    /// Number of pipes the task runs.
    pub total_pipes: u32,
    /// Stack of each pipe (object name, then component ids).
    pub by_pipe: BTreeMap<u32, Vec<String>>,
}

/// `TASK_STATUS.metrics` (floats, spec §4.2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Metrics {
    pub cpu_percent: f64,
    pub cpu_memory_mb: f64,
    pub gpu_memory_mb: f64,
    pub peak_cpu_percent: f64,
    pub peak_cpu_memory_mb: f64,
    pub peak_gpu_memory_mb: f64,
    pub avg_cpu_percent: f64,
    pub avg_cpu_memory_mb: f64,
    pub avg_gpu_memory_mb: f64,
}

/// `TASK_STATUS.tokens` (spec §4.2).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tokens {
    pub cpu_utilization: f64,
    pub cpu_memory: f64,
    pub gpu_memory: f64,
    pub gpu_inference: f64,
    pub custom: BTreeMap<String, f64>,
    pub total: f64,
}

/// `TASK_STATUS` in wire order (spec §4.2). `__id` is appended by the event builder.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskStatus {
    pub name: String,
    #[serde(rename = "project_id")]
    pub project_id: String,
    pub source: String,
    pub completed: bool,
    pub state: u8,
    pub start_time: f64,
    pub end_time: f64,
    pub debugger_attached: bool,
    pub status: String,
    pub warnings: Vec<String>,
    pub errors: Vec<String>,
    pub current_object: String,
    pub current_size: u64,
    pub notes: Vec<serde_json::Value>,
    pub total_size: u64,
    pub total_count: u64,
    pub completed_size: u64,
    pub completed_count: u64,
    pub failed_size: u64,
    pub failed_count: u64,
    pub words_size: u64,
    pub words_count: u64,
    pub rate_size: u64,
    pub rate_count: u64,
    pub service_up: bool,
    pub exit_code: i64,
    pub exit_message: String,
    pub pipeflow: PipeFlow,
    pub metrics: Metrics,
    pub tokens: Tokens,
}

/// Keep only the last 50 warnings/errors (spec §4.2).
const MAX_MESSAGES: usize = 50;

impl TaskStatus {
    /// The synthetic "Not running" status seeded when no task matches (spec §3.4).
    pub fn not_running(project_id: &str, source: &str) -> Self {
        TaskStatus {
            project_id: project_id.to_owned(),
            source: source.to_owned(),
            status: "Not running".to_owned(),
            ..TaskStatus::default()
        }
    }

    /// Appends a warning, keeping the last 50.
    pub fn push_warning(&mut self, message: String) {
        push_bounded(&mut self.warnings, message);
    }

    /// Appends an error, keeping the last 50.
    pub fn push_error(&mut self, message: String) {
        push_bounded(&mut self.errors, message);
    }
}

fn push_bounded(list: &mut Vec<String>, message: String) {
    list.push(message);
    if list.len() > MAX_MESSAGES {
        list.remove(0);
    }
}

/// Sample resource usage with a bounded random walk and fold it into metrics and tokens.
pub fn sample_metrics(status: &mut TaskStatus, rng: &mut fastrand::Rng, samples: u64) {
    let m = &mut status.metrics;
    m.cpu_percent = round1((m.cpu_percent + rng.f64() * 16.0 - 7.0).clamp(0.5, 95.0));
    m.cpu_memory_mb = round1((m.cpu_memory_mb.max(280.0) + rng.f64() * 12.0 - 5.0).clamp(250.0, 2048.0));
    m.peak_cpu_percent = m.peak_cpu_percent.max(m.cpu_percent);
    m.peak_cpu_memory_mb = m.peak_cpu_memory_mb.max(m.cpu_memory_mb);
    let n = samples.max(1) as f64;
    m.avg_cpu_percent = round1(m.avg_cpu_percent + (m.cpu_percent - m.avg_cpu_percent) / n);
    m.avg_cpu_memory_mb = round1(m.avg_cpu_memory_mb + (m.cpu_memory_mb - m.avg_cpu_memory_mb) / n);
    let t = &mut status.tokens;
    t.cpu_utilization = round4(t.cpu_utilization + m.cpu_percent * 0.00005);
    t.cpu_memory = round4(t.cpu_memory + m.cpu_memory_mb * 0.0000003);
    t.total = round4(t.cpu_utilization + t.cpu_memory + t.gpu_memory + t.gpu_inference + t.custom.values().sum::<f64>());
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_order_and_string_pipe_keys() {
        let mut s = TaskStatus::not_running("p", "src");
        s.pipeflow.by_pipe.insert(0, vec!["Question 1".into()]);
        let text = crate::json::to_text(&s);
        assert!(text.starts_with(r#"{"name":"","project_id":"p","source":"src","completed":false,"state":0,"startTime":0.0,"endTime":0.0,"#));
        assert!(text.contains(r#""pipeflow":{"totalPipes":0,"byPipe":{"0":["Question 1"]}}"#));
        assert!(text.contains(r#""status":"Not running""#));
        assert!(text.ends_with(r#""custom":{},"total":0.0}}"#));
    }

    #[test]
    fn warnings_are_bounded_to_fifty() {
        let mut s = TaskStatus::default();
        for i in 0..60 {
            s.push_warning(format!("w{i}"));
        }
        assert_eq!(s.warnings.len(), 50);
        assert_eq!(s.warnings[0], "w10");
    }
}
