//! Progress of long analyses on stderr: the phase and a percentage on one self-overwriting
//! line, for people watching a terminal. Callers enable it only when stderr is a terminal, so
//! pipes and CI logs stay quiet. Phase timings are kept either way.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// When an analysis must stop early: a deadline, and a flag another thread may raise (a
/// program's AbortSignal). Checked between phases and every few megabytes read.
#[derive(Clone, Debug, Default)]
pub struct Stop {
    pub deadline: Option<(Instant, Duration)>,
    pub cancelled: Option<Arc<AtomicBool>>,
}

impl Stop {
    /// Stops after `limit` from now.
    pub fn after(limit: Duration) -> Stop {
        Stop { deadline: Some((Instant::now() + limit, limit)), cancelled: None }
    }

    /// `Err` with the reason once the analysis should stop.
    pub fn check(&self) -> Result<(), String> {
        if self.cancelled.as_ref().is_some_and(|c| c.load(Ordering::Relaxed)) {
            return Err("the analysis was cancelled".to_string());
        }
        if let Some((at, limit)) = self.deadline {
            if Instant::now() >= at {
                return Err(format!("the analysis ran out of time (its limit is {} ms)", limit.as_millis()));
            }
        }
        Ok(())
    }
}

pub struct Progress {
    /// When to give up (nothing: never).
    pub stop: Stop,
    enabled: bool,
    phase: &'static str,
    phase_start: Instant,
    last_print: Option<Instant>,
    /// How long each finished phase took, in order, and the process's peak RSS in bytes at its
    /// end (where the OS tells: Linux).
    pub timings: Vec<(&'static str, Duration, Option<u64>)>,
}

impl Progress {
    /// `enabled`: print to stderr (decide with `std::io::stderr().is_terminal()` or a flag).
    pub fn new(enabled: bool) -> Progress {
        Progress { stop: Stop::default(), enabled, phase: "", phase_start: Instant::now(), last_print: None, timings: Vec::new() }
    }

    /// A progress that never prints.
    pub fn quiet() -> Progress {
        Progress::new(false)
    }

    /// Ends the current phase (if any) and starts `name`; `Err` when the analysis should stop.
    pub fn phase(&mut self, name: &'static str) -> Result<(), String> {
        self.end_phase();
        self.stop.check()?;
        self.phase = name;
        self.phase_start = Instant::now();
        self.print(None);
        Ok(())
    }

    /// How far the current phase is, from 0 to 1. Printed at most ten times a second. `Err`
    /// when the analysis should stop.
    pub fn fraction(&mut self, f: f64) -> Result<(), String> {
        self.stop.check()?;
        if !self.enabled {
            return Ok(());
        }
        if self.last_print.is_some_and(|t| t.elapsed() < Duration::from_millis(100)) {
            return Ok(());
        }
        self.print(Some(f));
        Ok(())
    }

    fn end_phase(&mut self) {
        if !self.phase.is_empty() {
            self.timings.push((self.phase, self.phase_start.elapsed(), peak_rss()));
            self.phase = "";
        }
    }

    fn print(&mut self, f: Option<f64>) {
        if !self.enabled || self.phase.is_empty() {
            return;
        }
        self.last_print = Some(Instant::now());
        let pct = f.map(|f| format!(" {:>3.0}%", (f * 100.0).clamp(0.0, 100.0))).unwrap_or_default();
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2Kmemwatch-rs: {}{pct}", self.phase);
        let _ = err.flush();
    }

    /// Ends the last phase and clears the progress line.
    pub fn finish(&mut self) {
        self.end_phase();
        if self.enabled && self.last_print.is_some() {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }

    /// "reading 2.31 s (peak RSS 512 MB), ..." for the phases so far.
    pub fn summary(&self) -> String {
        self.timings
            .iter()
            .map(|(p, d, peak)| match peak {
                Some(b) => format!("{p} {:.2} s (peak RSS {} MB)", d.as_secs_f64(), b >> 20),
                None => format!("{p} {:.2} s", d.as_secs_f64()),
            })
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The process's peak resident set so far (`VmHWM`), on Linux.
pub fn peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_deadline_or_a_raised_flag_stops_the_next_phase_with_the_reason() {
        let mut p = Progress::quiet();
        p.stop = Stop::after(Duration::ZERO);
        assert_eq!(p.phase("reading").unwrap_err(), "the analysis ran out of time (its limit is 0 ms)");
        let flag = Arc::new(AtomicBool::new(false));
        let mut p = Progress::quiet();
        p.stop = Stop { deadline: None, cancelled: Some(flag.clone()) };
        p.phase("reading").unwrap();
        flag.store(true, Ordering::Relaxed);
        assert_eq!(p.fraction(0.1).unwrap_err(), "the analysis was cancelled");
    }

    #[test]
    fn phases_are_timed_in_order_and_a_quiet_progress_prints_nothing() {
        let mut p = Progress::quiet();
        p.phase("reading").unwrap();
        p.fraction(0.5).unwrap();
        p.phase("dominators").unwrap();
        p.finish();
        let names: Vec<_> = p.timings.iter().map(|t| t.0).collect();
        assert!(cfg!(not(target_os = "linux")) || p.timings.iter().all(|t| t.2.is_some_and(|b| b > 0)));
        assert_eq!(names, ["reading", "dominators"]);
        assert!(p.summary().starts_with("reading "));
    }
}
