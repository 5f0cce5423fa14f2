//! Allocation sampling for 'leak' (`setOptions({ allocationSamplingBytes })`): V8's sampling
//! heap profiler runs on this isolate, the monitor's JS side captures its live tree now and then
//! (`samplingCapture`), and a 'leak' asks which stacks grew over the episode (`samplingSites`).
//! The policy (captures, growth, naming) is `memwatch_core::sites`; this is its napi face, one
//! state per isolate (thread).

use std::cell::RefCell;

use memwatch_core::sites::{base_ms, frame_text, Frame, SiteHistory};
use memwatch_core::srcmap::SourceMaps;
use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::monitor::{current_isolate, Monitor};

/// Frames V8 records per sample (its default): deep enough to reach the program's own code
/// from inside node's internals.
const STACK_DEPTH: i32 = 16;
/// Captures kept (log-spaced over the run).
const CAPTURES: usize = 24;
/// Frames per site in the event.
const FRAMES: usize = 8;

thread_local! {
    /// The sampling interval in force on this thread's isolate and its captures; None when off.
    static SAMPLING: RefCell<Option<(u64, SiteHistory)>> = const { RefCell::new(None) };
    /// Source maps of the scripts sites were found in (read once per script).
    static MAPS: RefCell<SourceMaps> = RefCell::new(SourceMaps::new());
}

/// A frame through its script's source map: the original source, line and column (and, for
/// minified code, the function's original name), with the generated position kept.
fn through_map(f: &Frame) -> (Frame, Option<SiteLocation>) {
    MAPS.with(|m| {
        let mut m = m.borrow_mut();
        let Some(o) = m.lookup(&f.script, f.line, f.column) else {
            return (f.clone(), None);
        };
        let name = m.original_name(&f.script, f.line, f.column, &f.function).unwrap_or_else(|| f.function.clone());
        let generated = SiteLocation { script: f.script.clone(), line: f.line, column: f.column };
        (Frame { function: name, script: o.source, line: o.line, column: o.column }, Some(generated))
    })
}

/// Starts sampling about one allocation per `interval_bytes` (0 stops it). Changing the interval
/// restarts the profiler, and the captures start over.
#[napi]
pub fn sampling_configure(interval_bytes: f64) -> Result<bool> {
    let isolate = current_isolate()?;
    if !interval_bytes.is_finite() || interval_bytes < 0.0 {
        return Err(Error::from_reason("memwatch-rs: the sampling interval must be a non-negative number of bytes"));
    }
    let interval = interval_bytes as u64;
    SAMPLING.with(|s| {
        let mut s = s.borrow_mut();
        if s.as_ref().map(|(i, _)| *i) == Some(interval) {
            return Ok(true);
        }
        if s.take().is_some() {
            isolate.sampling_stop();
        }
        if interval == 0 {
            return Ok(false);
        }
        if !isolate.sampling_start(interval, STACK_DEPTH) {
            return Err(Error::from_reason("memwatch-rs: V8's sampling heap profiler did not start (another one already runs on this isolate, e.g. an inspector session's)"));
        }
        *s = Some((interval, SiteHistory::new(CAPTURES)));
        Ok(true)
    })
}

/// Records the live sampled tree at `now_ms` (ms since the epoch, as 'leak' dates are).
#[napi]
pub fn sampling_capture(env: Env, now_ms: f64) -> Result<bool> {
    let isolate = current_isolate()?;
    let gc = Monitor::of(&env)?.full_gcs();
    SAMPLING.with(|s| {
        let mut s = s.borrow_mut();
        let Some((_, history)) = s.as_mut() else { return Ok(false) };
        let cutoff = history.cutoff(gc);
        let (nodes, max_id) = read(&isolate, history, gc, cutoff)?;
        history.capture(nodes, now_ms, max_id);
        Ok(true)
    })
}

/// Reads the live tree after full GC number `gc`, counting only samples no newer than `cutoff`;
/// returns it and the newest sample id alive.
fn read(isolate: &crate::v8::Isolate, history: &mut SiteHistory, gc: u64, cutoff: u64) -> Result<(Vec<memwatch_core::sites::RawNode>, u64)> {
    let (nodes, max_id) = isolate.sampling_profile(cutoff).map_err(|e| Error::from_reason(format!("memwatch-rs: {e}")))?;
    history.note_read(gc, max_id);
    Ok((nodes, max_id))
}

#[napi(object)]
pub struct SiteLocation {
    pub script: String,
    pub line: u32,
    pub column: u32,
}

#[napi(object)]
pub struct SiteFrame {
    pub function: String,
    pub script: String,
    pub line: u32,
    pub column: u32,
    /// Where the frame is in the generated JavaScript, when its source map moved it.
    pub generated: Option<SiteLocation>,
}

/// One entry of a 'leak' event's `sites`.
#[napi(object)]
pub struct AllocationSite {
    pub function: String,
    pub script: String,
    pub line: u32,
    pub column: u32,
    /// The innermost frame's generated location, when its source map moved it.
    pub generated: Option<SiteLocation>,
    /// Growth of the live bytes V8 estimates this stack allocated, over the episode.
    pub bytes: f64,
    /// Of `bytes`, those V8 sampled in a caller's frame: code inlined into it (see
    /// `memwatch_core::sites`); 0 when none.
    pub caller_bytes: f64,
    pub frames: Vec<SiteFrame>,
    /// `fn (script:line:col) <- caller (...)`, innermost first.
    pub text: String,
}

fn site_frame((f, generated): (Frame, Option<SiteLocation>)) -> SiteFrame {
    SiteFrame { function: f.function, script: f.script, line: f.line, column: f.column, generated }
}

/// The `top` stacks whose sampled live bytes grew most over the leak episode from `start_ms` to
/// `end_ms` (two minutes at least: `memwatch_core::sites::base_ms`); empty when sampling is off.
#[napi]
pub fn sampling_sites(env: Env, start_ms: f64, end_ms: f64, top: u32) -> Result<Vec<AllocationSite>> {
    let isolate = current_isolate()?;
    let gc = Monitor::of(&env)?.full_gcs();
    SAMPLING.with(|s| {
        let mut s = s.borrow_mut();
        let Some((_, history)) = s.as_mut() else { return Ok(Vec::new()) };
        let cutoff = history.episode_cutoff(start_ms, end_ms, gc);
        let (nodes, _) = read(&isolate, history, gc, cutoff)?;
        let sites = history.growth(nodes, base_ms(start_ms, end_ms), top as usize, FRAMES);
        Ok(sites
            .into_iter()
            .map(|site| {
                let (frame, generated) = through_map(&site.frame);
                let frames: Vec<(Frame, Option<SiteLocation>)> = site.frames.iter().map(through_map).collect();
                AllocationSite {
                    function: frame.function,
                    script: frame.script,
                    line: frame.line,
                    column: frame.column,
                    generated,
                    bytes: site.bytes as f64,
                    caller_bytes: site.caller_bytes as f64,
                    text: frames.iter().map(|(f, _)| frame_text(f)).collect::<Vec<_>>().join(" <- "),
                    frames: frames.into_iter().map(site_frame).collect(),
                }
            })
            .collect())
    })
}
