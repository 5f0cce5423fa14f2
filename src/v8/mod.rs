//! The V8 boundary: the one `extern "C"` block over `shim.cc`, and safe wrappers around it.
//!
//! Everything `unsafe` in memwatch-rs lives in this module. The wrappers hold the invariants the
//! shim needs (an isolate pointer used only on its own thread, callbacks that never unwind into
//! C++, hook data that outlives the hook) so the rest of the crate is safe Rust.

use std::ffi::{c_char, c_void, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::ptr::NonNull;
use std::rc::Rc;

use memwatch_core::gc::HeapStats;
use memwatch_core::sites::RawNode;

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct HeapStatsRaw {
    total_heap_size: u64,
    total_heap_size_executable: u64,
    total_physical_size: u64,
    total_available_size: u64,
    used_heap_size: u64,
    heap_size_limit: u64,
    malloced_memory: u64,
    peak_malloced_memory: u64,
}

impl From<HeapStatsRaw> for HeapStats {
    fn from(r: HeapStatsRaw) -> Self {
        HeapStats {
            total_heap_size: r.total_heap_size,
            total_heap_size_executable: r.total_heap_size_executable,
            total_physical_size: r.total_physical_size,
            total_available_size: r.total_available_size,
            used_heap_size: r.used_heap_size,
            heap_size_limit: r.heap_size_limit,
            malloced_memory: r.malloced_memory,
            peak_malloced_memory: r.peak_malloced_memory,
        }
    }
}

#[repr(C)]
struct GcInfoRaw {
    phase: u32,
    kinds: u32,
    flags: u32,
    has_heap: u32,
    mono_ns: u64,
    heap: HeapStatsRaw,
}

type GcFn = unsafe extern "C" fn(data: *mut c_void, info: *const GcInfoRaw);
type LimitFn = unsafe extern "C" fn(data: *mut c_void, current: usize, initial: usize) -> usize;
type NodeFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    id: u32,
    node_type: u32,
    shallow_size: u64,
    name: *const c_char,
    name_len: usize,
);

/// Receives each snapshot node: (id, type, shallow size, name).
pub type VisitNode<'a> = &'a mut dyn FnMut(u32, u32, u64, &str);
/// Receives the snapshot's JSON, chunk by chunk; returns `false` to stop.
pub type WriteChunk<'a> = &'a mut dyn FnMut(&[u8]) -> bool;

type WriteFn = unsafe extern "C" fn(ctx: *mut c_void, data: *const c_char, len: usize) -> i32;

type SiteFn = unsafe extern "C" fn(
    ctx: *mut c_void,
    node_id: u32,
    parent_id: u32,
    self_bytes: u64,
    script_id: i32,
    line: i32,
    column: i32,
    name: *const c_char,
    name_len: usize,
    script: *const c_char,
    script_len: usize,
);

type CountFn = unsafe extern "C" fn(ctx: *mut c_void, name: *const c_char, len: usize);

extern "C" {
    fn mw_count_objects(isolate: *mut c_void, f: CountFn, ctx: *mut c_void) -> i64;
    fn mw_isolate_current() -> *mut c_void;
    fn mw_v8_version() -> *const c_char;
    fn mw_gc_hook_add(isolate: *mut c_void, f: GcFn, limit: LimitFn, data: *mut c_void) -> *mut c_void;
    fn mw_gc_hook_remove(handle: *mut c_void);
    fn mw_full_gc(isolate: *mut c_void);
    fn mw_request_incremental_gc(isolate: *mut c_void);
    fn mw_snapshot_floor(isolate: *mut c_void) -> i64;
    fn mw_allocation_tracking(isolate: *mut c_void, on: i32);
    fn mw_sampling_start(isolate: *mut c_void, interval: u64, depth: i32) -> i32;
    fn mw_sampling_stop(isolate: *mut c_void);
    fn mw_sampling_profile(isolate: *mut c_void, cutoff: u64, max_id: *mut u64, f: SiteFn, ctx: *mut c_void) -> i64;
    fn mw_snapshot_walk(
        isolate: *mut c_void,
        name_mask: u32,
        f: Option<NodeFn>,
        ctx: *mut c_void,
        write: Option<WriteFn>,
        write_ctx: *mut c_void,
    ) -> i64;
}

/// Before or after a GC.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcPhase {
    Prologue,
    Epilogue,
}

/// One GC callback, as plain data.
#[derive(Clone, Copy, Debug)]
pub struct GcInfo {
    pub phase: GcPhase,
    /// OR of `memwatch_core::gc::GcKind::bit()`s.
    pub kinds: u32,
    pub monotonic_ns: u64,
    /// Heap statistics: after every GC, and before full (mark-sweep-compact) GCs.
    pub heap: Option<HeapStats>,
}

/// Receives GC callbacks. Runs inside the GC: it must not call into JS or allocate on the JS
/// heap. A panic is caught at the boundary and the GC goes on.
pub trait GcListener {
    fn on_gc(&self, info: &GcInfo);

    /// The heap nears V8's limit: the new limit (`current` to change nothing). Runs inside V8's
    /// allocation path, under the same rules as `on_gc`.
    fn on_near_heap_limit(&self, current: u64, _initial: u64) -> u64 {
        current
    }
}

/// The V8 isolate of the calling thread. Not `Send`: it is only valid on that thread.
#[derive(Clone, Copy)]
pub struct Isolate {
    raw: NonNull<c_void>,
    _not_send: std::marker::PhantomData<*mut ()>,
}

impl Isolate {
    /// The isolate entered on this thread (main thread or a worker), if any.
    pub fn current() -> Option<Isolate> {
        // SAFETY: Isolate::GetCurrent only reads a thread-local; it is callable from any thread.
        let raw = unsafe { mw_isolate_current() };
        NonNull::new(raw).map(|raw| Isolate { raw, _not_send: std::marker::PhantomData })
    }

    /// A full, synchronous GC (V8's low-memory notification); no `--expose-gc` needed.
    pub fn full_gc(&self) {
        // SAFETY: called on the isolate's own thread, outside any GC callback (from JS).
        unsafe { mw_full_gc(self.raw.as_ptr()) }
    }

    /// Asks V8 to start incremental marking now, ending in a full GC soon; a low-pause way to
    /// sample the heap base (V8's moderate memory-pressure path).
    pub fn request_incremental_gc(&self) {
        // SAFETY: called on the isolate's own thread from a JS-thread callback, outside any GC.
        unsafe { mw_request_incremental_gc(self.raw.as_ptr()) }
    }

    /// Starts (`true`) or stops V8's allocation tracker: while it runs, each allocation records
    /// its stack, and snapshots carry the stacks of the objects they hold. Heavy: for tests.
    pub fn allocation_tracking(&self, on: bool) {
        // SAFETY: on the isolate's own thread, from JS (not inside a GC callback).
        unsafe { mw_allocation_tracking(self.raw.as_ptr(), i32::from(on)) }
    }

    /// Starts V8's sampling heap profiler: about one allocation per `interval` bytes records its
    /// stack (`depth` frames), kept while the object lives. Returns whether it runs.
    pub fn sampling_start(&self, interval: u64, depth: i32) -> bool {
        // SAFETY: on the isolate's own thread, from JS (not inside a GC callback).
        unsafe { mw_sampling_start(self.raw.as_ptr(), interval, depth) != 0 }
    }

    /// Stops the sampling heap profiler (its samples and tree are dropped).
    pub fn sampling_stop(&self) {
        // SAFETY: on the isolate's own thread, from JS; a no-op when it does not run.
        unsafe { mw_sampling_stop(self.raw.as_ptr()) }
    }

    /// The sampling heap profiler's call tree of live sampled allocations, parents first, each
    /// node's bytes counting only samples with an id at most `cutoff`; and the newest sample id.
    pub fn sampling_profile(&self, cutoff: u64) -> Result<(Vec<RawNode>, u64), String> {
        unsafe extern "C" fn on_site(
            ctx: *mut c_void,
            id: u32,
            parent: u32,
            self_bytes: u64,
            script_id: i32,
            line: i32,
            column: i32,
            name: *const c_char,
            name_len: usize,
            script: *const c_char,
            script_len: usize,
        ) {
            // SAFETY: `ctx` is the Vec below, alive for the whole call.
            let out = unsafe { &mut *(ctx as *mut Vec<RawNode>) };
            let text = |p: *const c_char, len: usize| -> String {
                if p.is_null() || len == 0 {
                    return String::new();
                }
                // SAFETY: the shim passes `len` initialised bytes, valid during this call.
                String::from_utf8_lossy(unsafe { std::slice::from_raw_parts(p as *const u8, len) }).into_owned()
            };
            let node = RawNode { id, parent, self_bytes, script_id, line, column, name: text(name, name_len), script: text(script, script_len) };
            // Pushing cannot unwind except on allocation failure, which aborts anyway.
            out.push(node);
        }
        let mut nodes: Vec<RawNode> = Vec::new();
        let mut max_id: u64 = 0;
        // SAFETY: on the isolate's thread, from JS (not inside a GC); `on_site` never unwinds;
        // `nodes` and `max_id` outlive the call.
        let count = unsafe { mw_sampling_profile(self.raw.as_ptr(), cutoff, &mut max_id, on_site, &mut nodes as *mut Vec<RawNode> as *mut c_void) };
        if count < 0 {
            return Err("V8's sampling heap profiler is not running".into());
        }
        Ok((nodes, max_id))
    }

    /// Live objects by constructor name, `(name, count)`, and the total: a census that keeps no
    /// object and no snapshot (V8's QueryObjects, which runs a full GC first). Memory is bounded
    /// by the number of distinct names; names longer than 255 bytes are cut.
    pub fn count_objects(&self) -> Result<(Vec<(String, u64)>, u64), String> {
        type Counts = std::collections::HashMap<Box<[u8]>, u64>;
        unsafe extern "C" fn on_object(ctx: *mut c_void, name: *const c_char, len: usize) {
            // SAFETY: `ctx` is the map below, alive for the whole call.
            let counts = unsafe { &mut *(ctx as *mut Counts) };
            let bytes: &[u8] = if name.is_null() || len == 0 {
                &[]
            } else {
                // SAFETY: the shim passes `len` initialised bytes, valid during this call.
                unsafe { std::slice::from_raw_parts(name as *const u8, len) }
            };
            match counts.get_mut(bytes) {
                Some(n) => *n += 1,
                None => {
                    counts.insert(bytes.into(), 1);
                }
            }
        }
        let mut counts = Counts::new();
        // SAFETY: on the isolate's thread, from JS (not inside a GC); `on_object` never unwinds
        // (a failed allocation aborts); `counts` outlives the call.
        let total = unsafe { mw_count_objects(self.raw.as_ptr(), on_object, &mut counts as *mut Counts as *mut c_void) };
        let total = u64::try_from(total).map_err(|_| "no JavaScript context to count objects in".to_string())?;
        let named = counts.into_iter().map(|(k, v)| (String::from_utf8_lossy(&k).into_owned(), v)).collect();
        Ok((named, total))
    }

    /// Takes a heap snapshot and deletes it unread: the floor HeapDiff is benchmarked against.
    pub fn bare_heap_snapshot(&self) -> Result<u64, String> {
        // SAFETY: on the isolate's thread, from JS (not inside a GC).
        let count = unsafe { mw_snapshot_floor(self.raw.as_ptr()) };
        u64::try_from(count).map_err(|_| "V8 could not take a heap snapshot".to_string())
    }

    /// Takes a heap snapshot; walks it with `visit(id, type, shallow_size, name)` (if given; `name`
    /// is filled only for node types whose bit is set in `name_mask`); then streams the same snapshot
    /// as `.heapsnapshot` JSON to `write` (if given), which returns `false` to stop; deletes it.
    pub fn heap_snapshot(
        &self,
        name_mask: u32,
        visit: Option<VisitNode<'_>>,
        write: Option<WriteChunk<'_>>,
    ) -> Result<u64, String> {
        struct Ctx<'a, 'b> {
            visit: Option<VisitNode<'a>>,
            write: Option<WriteChunk<'b>>,
            panicked: bool,
        }
        unsafe extern "C" fn on_node(
            ctx: *mut c_void,
            id: u32,
            node_type: u32,
            size: u64,
            name: *const c_char,
            len: usize,
        ) {
            // SAFETY: `ctx` is the `Ctx` below, alive for the whole walk; the shim passes a
            // buffer of `len` bytes that stays valid during this call.
            let ctx = unsafe { &mut *(ctx as *mut Ctx) };
            if ctx.panicked {
                return;
            }
            let bytes: &[u8] = if len == 0 || name.is_null() {
                &[]
            } else {
                // SAFETY: see above: `name` points to `len` initialised bytes.
                unsafe { std::slice::from_raw_parts(name as *const u8, len) }
            };
            let name = String::from_utf8_lossy(bytes);
            if let Some(visit) = ctx.visit.as_mut() {
                if catch_unwind(AssertUnwindSafe(|| visit(id, node_type, size, &name))).is_err() {
                    ctx.panicked = true;
                }
            }
        }
        unsafe extern "C" fn on_chunk(ctx: *mut c_void, data: *const c_char, len: usize) -> i32 {
            // SAFETY: `ctx` is the `Ctx` below, alive for the whole call; V8 passes `len`
            // initialised bytes valid during this call.
            let ctx = unsafe { &mut *(ctx as *mut Ctx) };
            if ctx.panicked || data.is_null() {
                return 1;
            }
            // SAFETY: see above.
            let bytes = unsafe { std::slice::from_raw_parts(data as *const u8, len) };
            let Some(write) = ctx.write.as_mut() else { return 1 };
            match catch_unwind(AssertUnwindSafe(|| write(bytes))) {
                Ok(true) => 0,
                Ok(false) => 1,
                Err(_) => {
                    ctx.panicked = true;
                    1
                }
            }
        }
        let has_visit = visit.is_some();
        let has_write = write.is_some();
        let mut ctx = Ctx { visit, write, panicked: false };
        let ctx_ptr = &mut ctx as *mut Ctx as *mut c_void;
        // SAFETY: on the isolate's thread, from JS (not inside a GC); the callbacks never unwind
        // and `ctx` outlives the call.
        let count = unsafe {
            mw_snapshot_walk(
                self.raw.as_ptr(),
                name_mask,
                if has_visit { Some(on_node) } else { None },
                ctx_ptr,
                if has_write { Some(on_chunk) } else { None },
                ctx_ptr,
            )
        };
        if ctx.panicked {
            return Err("internal error while processing the heap snapshot".into());
        }
        match count {
            -1 => Err("V8 could not take a heap snapshot".into()),
            -2 => Err("writing the heap snapshot stopped".into()),
            c if c < 0 => Err("V8 could not take a heap snapshot".into()),
            c => Ok(c as u64),
        }
    }
}

/// The V8 version the addon was compiled against (e.g. "11.3.244.8-node.33").
pub fn v8_version() -> String {
    // SAFETY: V8::GetVersion returns a static NUL-terminated string.
    unsafe { CStr::from_ptr(mw_v8_version()) }.to_string_lossy().into_owned()
}

/// GC prologue/epilogue callbacks installed on one isolate; removed when dropped.
pub struct GcHook {
    handle: NonNull<c_void>,
    listener: *mut Rc<dyn GcListener>,
}

impl GcHook {
    pub fn install(isolate: Isolate, listener: Rc<dyn GcListener>) -> Result<GcHook, String> {
        unsafe extern "C" fn trampoline(data: *mut c_void, info: *const GcInfoRaw) {
            // SAFETY: `data` is the boxed listener owned by the GcHook, which removes the
            // callbacks before freeing it; `info` points to a struct on the shim's stack.
            let (listener, raw) = unsafe { (&*(data as *const Rc<dyn GcListener>), &*info) };
            let info = GcInfo {
                phase: if raw.phase == 0 { GcPhase::Prologue } else { GcPhase::Epilogue },
                kinds: raw.kinds,
                monotonic_ns: raw.mono_ns,
                heap: (raw.has_heap != 0).then(|| raw.heap.into()),
            };
            // Never unwind into V8: a panic here is dropped and the GC goes on.
            let _ = catch_unwind(AssertUnwindSafe(|| listener.on_gc(&info)));
        }
        unsafe extern "C" fn limit_trampoline(data: *mut c_void, current: usize, initial: usize) -> usize {
            // SAFETY: as in `trampoline`: the boxed listener outlives the registered callback.
            let listener = unsafe { &*(data as *const Rc<dyn GcListener>) };
            // Never unwind into V8; never lower the limit, nor overflow it.
            catch_unwind(AssertUnwindSafe(|| listener.on_near_heap_limit(current as u64, initial as u64)))
                .ok()
                .and_then(|l| usize::try_from(l).ok())
                .filter(|&l| l >= current)
                .unwrap_or(current)
        }
        let listener = Box::into_raw(Box::new(listener));
        // SAFETY: on the isolate's thread; `listener` stays allocated until `drop` has removed
        // the callbacks that receive it.
        let handle = unsafe { mw_gc_hook_add(isolate.raw.as_ptr(), trampoline, limit_trampoline, listener as *mut c_void) };
        match NonNull::new(handle) {
            Some(handle) => Ok(GcHook { handle, listener }),
            None => {
                // SAFETY: the shim failed before registering anything; we still own the box.
                drop(unsafe { Box::from_raw(listener) });
                Err("out of memory installing the GC hook".into())
            }
        }
    }
}

impl Drop for GcHook {
    fn drop(&mut self) {
        // SAFETY: removes both callbacks (on the owning thread: GcHook is !Send through the Rc)
        // before the listener they point to is freed.
        unsafe {
            mw_gc_hook_remove(self.handle.as_ptr());
            drop(Box::from_raw(self.listener));
        }
    }
}
