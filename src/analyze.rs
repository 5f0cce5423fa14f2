//! Glue for offline `.heapsnapshot` analysis: file in, report text or JSON out. The work is all
//! in `memwatch_core::snapshot`.

use std::path::Path;

use memwatch_core::snapshot::{load, progress::Progress, report::analyze_with};
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
}

/// Reads and analyses a snapshot file; returns the report as JSON or text.
#[napi]
pub fn analyze_snapshot(path: String, options: AnalyzeOptions) -> Result<String> {
    run(&path, &options)
}

/// [`analyze_snapshot`] on the libuv thread pool: the event loop keeps running meanwhile.
pub struct AnalyzeTask {
    path: String,
    options: AnalyzeOptions,
}

impl Task for AnalyzeTask {
    type Output = String;
    type JsValue = String;

    fn compute(&mut self) -> Result<String> {
        run(&self.path, &self.options)
    }

    fn resolve(&mut self, _env: Env, output: String) -> Result<String> {
        Ok(output)
    }
}

/// A promise of the report (JSON or text).
#[napi]
pub fn analyze_snapshot_async(path: String, options: AnalyzeOptions) -> AsyncTask<AnalyzeTask> {
    AsyncTask::new(AnalyzeTask { path, options })
}

fn run(path: &str, options: &AnalyzeOptions) -> Result<String> {
    let fail = |why: String| Error::from_reason(format!("memwatch-rs: cannot analyze {path}: {why}"));
    let mut progress = Progress::new(options.progress);
    let result = load(Path::new(&path), &mut progress).map(|mut graph| {
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
