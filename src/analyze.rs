//! Glue for offline `.heapsnapshot` analysis: file in, report text or JSON out. The work is all
//! in `memwatch_core::snapshot`.

use std::path::Path;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use memwatch_core::snapshot::{load, progress::{Progress, Stop}, report::analyze_with};
use napi::bindgen_prelude::*;
use napi_derive::napi;

#[napi(object)]
pub struct AnalyzeOptions {
    /// Rows per table.
    pub top: u32,
    /// JSON instead of text.
    pub json: bool,
    /// Phase and percent on stderr while working (the caller decides: a terminal, or asked).
    pub progress: bool,
    /// Phase timings on stderr at the end.
    pub timings: bool,
    /// Locations through the scripts' source maps (default true).
    pub source_maps: Option<bool>,
    /// Give up after this many milliseconds (none: no limit).
    pub timeout_ms: Option<u32>,
}

/// A handle a program holds to cancel an analysis running on the thread pool (its
/// AbortSignal's 'abort' calls `cancel`). The analysis stops at its next check: between phases,
/// or within the next 16 MB read.
#[napi]
pub struct AnalysisCancel {
    flag: Arc<AtomicBool>,
}

#[napi]
impl AnalysisCancel {
    #[napi(constructor)]
    pub fn new() -> Self {
        AnalysisCancel { flag: Arc::new(AtomicBool::new(false)) }
    }

    #[napi]
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }
}

impl Default for AnalysisCancel {
    fn default() -> Self {
        Self::new()
    }
}

/// Reads and analyses a snapshot file; returns the report as JSON or text.
#[napi]
pub fn analyze_snapshot(path: String, options: AnalyzeOptions) -> Result<String> {
    run(&path, &options, None)
}

/// [`analyze_snapshot`] on the libuv thread pool: the event loop keeps running meanwhile.
pub struct AnalyzeTask {
    path: String,
    options: AnalyzeOptions,
    cancel: Option<Arc<AtomicBool>>,
}

impl Task for AnalyzeTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        run(&self.path, &self.options, self.cancel.clone())
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// A promise of the report (JSON or text).
#[napi]
pub fn analyze_snapshot_async(path: String, options: AnalyzeOptions, cancel: Option<&AnalysisCancel>) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask { path, options, cancel: cancel.map(|c| c.flag.clone()) })
}

fn run(path: &str, options: &AnalyzeOptions, cancel: Option<Arc<AtomicBool>>) -> Result<String> {
    let fail = |why: String| Error::from_reason(format!("memwatch-rs: cannot analyze {path}: {why}"));
    let started = std::time::Instant::now();
    let _slot = memwatch_core::snapshot::memory::exclusive();
    let mut progress = Progress::new(options.progress);
    progress.stop = Stop { deadline: None, cancelled: cancel };
    if let Some(ms) = options.timeout_ms {
        // Waiting for the slot counts: the limit runs from the call.
        let limit = std::time::Duration::from_millis(u64::from(ms));
        progress.stop.deadline = Some((started + limit, limit));
    }
    let result = load(Path::new(&path), &mut progress).and_then(|mut graph| {
        graph.set_source_maps(options.source_maps.unwrap_or(true));
        analyze_with(&graph, options.top.max(1) as usize, &mut progress)
    });
    progress.finish();
    let report = result.map_err(fail)?;
    if options.timings {
        eprintln!("memwatch-rs: {}", progress.summary());
    }
    Ok(if options.json { report.to_json() } else { report.to_text() })
}
