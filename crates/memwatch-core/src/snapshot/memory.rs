//! Room to analyse a snapshot, checked before the work starts: Rust aborts the process when an
//! allocation fails, and containers with memory limits are where people analyse snapshots. So
//! once the header says how many nodes and edges a snapshot has, the memory the reader and the
//! passes will need is estimated and reserved (address space only: no page is touched) and given
//! back at once. When that fails, the analysis is refused with an error that says how much it
//! needs and how much there is, instead of dying halfway through.
//! The estimate is only the early answer. Every input-sized allocation of the reader and of the
//! passes goes through the helpers below (`try_reserve` underneath), so running short at any
//! later point, or in one of several analyses at once, ends in the same kind of error naming
//! what needed the memory, never in Rust's abort.

use std::collections::HashMap;
use std::hash::Hash;

/// What an analysis returns when it ran short of memory (or anything else went wrong).
pub type Fallible<T> = Result<T, String>;

/// The error for an allocation of `bytes` for `what` that could not be had.
#[cold]
#[inline(never)]
pub fn out_of_memory(what: &str, bytes: usize) -> String {
    let available = match available_bytes() {
        Some(a) => format!("about {} is available to this process", mib(a)),
        None => "that much could not be had".to_string(),
    };
    format!(
        "not enough memory: {what} needed {} more, and {available} (a memory limit: ulimit -v, a container's limit, or the machine's free memory); raise it or analyse on a bigger machine",
        mib_up(bytes as u64)
    )
}

/// A vector of `n` copies of `value`, or the error.
pub fn filled<T: Clone>(n: usize, value: T, what: &str) -> Fallible<Vec<T>> {
    let mut v = with_capacity(n, what)?;
    v.resize(n, value);
    Ok(v)
}

/// An empty vector with room for exactly `n`, or the error.
pub fn with_capacity<T>(n: usize, what: &str) -> Fallible<Vec<T>> {
    let mut v = Vec::new();
    reserve(&mut v, n, what)?;
    Ok(v)
}

/// Room for exactly `additional` more, or the error. Also makes sure [`MARGIN`] is left after
/// it: the small allocations that follow (a class's name, a map entry) are never checked, and
/// one of them failing would abort.
pub fn reserve<T>(v: &mut Vec<T>, additional: usize, what: &str) -> Fallible<()> {
    let bytes = additional.saturating_mul(std::mem::size_of::<T>());
    v.try_reserve_exact(additional).map_err(|_| out_of_memory(what, bytes))?;
    margin(what, bytes)
}

/// What each checked allocation leaves free for the unchecked small ones after it, and for
/// what the rest of the process allocates meanwhile (the report's conversion to JavaScript,
/// node's own threads): 4 MB was too little once, four analyses under a 160-MB address-space
/// budget on node 22 aborting on a 4-byte allocation in CI.
pub const MARGIN: usize = 16 << 20;

/// `Ok` when [`MARGIN`] is left: for loops whose small allocations add up.
pub fn check_margin(what: &str) -> Fallible<()> {
    margin(what, 0)
}

fn margin(what: &str, bytes: usize) -> Fallible<()> {
    if can_have(MARGIN) {
        Ok(())
    } else {
        Err(out_of_memory(what, bytes.saturating_add(MARGIN)))
    }
}

/// Whether `bytes` of address space can be had now: reserved and given back at once, no page
/// touched. The one probe behind the estimate, the margin and the slack.
fn can_have(bytes: usize) -> bool {
    let mut probe: Vec<u8> = Vec::new();
    probe.try_reserve_exact(bytes).is_ok()
}

/// `v.push(x)`, growing (doubling) fallibly.
#[inline(always)]
pub fn push<T>(v: &mut Vec<T>, x: T, what: &str) -> Fallible<()> {
    if v.len() == v.capacity() {
        grow(v, what)?;
    }
    v.push(x);
    Ok(())
}

/// Room for one more, growing (doubling) fallibly. For vectors of things that own memory
/// (names): every [`EVERY`] entries it also checks that [`MARGIN`] is left for them.
#[inline(always)]
pub fn room_for_one<T>(v: &mut Vec<T>, what: &str) -> Fallible<()> {
    if v.len() == v.capacity() {
        grow(v, what)?;
    } else if v.len() % EVERY == 0 {
        margin(what, 0)?;
    }
    Ok(())
}

/// How many entries that own memory (a String key, say) may be added between two checks of
/// [`MARGIN`]: 1,024 entries of even 1 KB each stay within it.
pub const EVERY: usize = 1024;

#[cold]
#[inline(never)]
fn grow<T>(v: &mut Vec<T>, what: &str) -> Fallible<()> {
    let extra = v.capacity().max(64);
    let bytes = extra.saturating_mul(std::mem::size_of::<T>());
    v.try_reserve(extra).map_err(|_| out_of_memory(what, bytes))?;
    margin(what, bytes)
}

/// Collects an iterator fallibly (room for its lower size bound first, then doubling).
pub fn collect<T>(items: impl Iterator<Item = T>, what: &str) -> Fallible<Vec<T>> {
    let mut v = with_capacity(items.size_hint().0, what)?;
    for x in items {
        push(&mut v, x, what)?;
    }
    Ok(v)
}

/// Room for one more entry in a map (call before inserting a new key); every [`EVERY`]
/// entries, also [`MARGIN`] for what the keys and values own.
#[inline(always)]
pub fn map_room<K: Eq + Hash, V>(m: &mut HashMap<K, V>, what: &str) -> Fallible<()> {
    if m.len() < m.capacity() {
        if m.len() % EVERY == 0 && m.len() > 0 {
            return margin(what, 0);
        }
        return Ok(());
    }
    let bytes = m.capacity().max(16).saturating_mul(std::mem::size_of::<(K, V)>() + 1);
    m.try_reserve(m.capacity().max(16)).map_err(|_| out_of_memory(what, bytes))?;
    margin(what, bytes)
}

/// Headroom for the small allocations between two checked ones (names, table rows, the
/// report's text): reserved and given back at once, before a phase that makes many of them.
pub const SLACK: usize = 8 << 20;

/// `Ok` when [`SLACK`] bytes can be had now.
pub fn slack(what: &str) -> Fallible<()> {
    if can_have(SLACK) {
        Ok(())
    } else {
        Err(out_of_memory(what, SLACK))
    }
}

/// Bytes per node and per edge at the analysis's peak (reader columns, retainers, dominators,
/// retained sizes, paths), from measured runs: 953 MB file, 12.4M nodes, ~1.25 GB peak.
const PER_NODE: u64 = 60;
const PER_EDGE: u64 = 10;
/// And whatever the size: the second core's thread stack, read buffers, small tables (a 100 MB
/// snapshot under `prlimit --as` aborted with 4 MB above the per-object estimate, not with 19).
const FIXED: u64 = 24 << 20;

/// What reading and analysing a snapshot of this size needs, bytes.
pub fn estimated_need(nodes: u64, edges: u64, file_size: Option<u64>) -> u64 {
    // Strings: a fraction of the file, when its size is known.
    nodes.saturating_mul(PER_NODE).saturating_add(edges.saturating_mul(PER_EDGE)).saturating_add(file_size.unwrap_or(0) / 8).saturating_add(FIXED)
}

/// Analyses in one process run one after another. Each checks its room (the estimate, the
/// margins) against what is free now, and two at once would each count the other's next
/// allocations as free: under a limit one of them fits in, four at once could run every margin
/// down together and an unchecked small allocation would abort. Taken by the addon around each
/// analysis, diff and leak search; waiting counts towards a time limit.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The process's analysis slot, held for the length of one analysis.
pub fn exclusive() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Tests that sweep memory limits turn the estimate off, so every later allocation is reached.
#[cfg(test)]
pub(crate) static SKIP_ESTIMATE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// `Ok` when the memory for a snapshot of `nodes` and `edges` can be reserved now.
pub fn ensure_room(nodes: u64, edges: u64, file_size: Option<u64>) -> Result<(), String> {
    #[cfg(test)]
    if SKIP_ESTIMATE.load(std::sync::atomic::Ordering::Relaxed) {
        return Ok(());
    }
    let need = estimated_need(nodes, edges, file_size);
    let Ok(bytes) = usize::try_from(need) else {
        return Err(refusal(nodes, edges, need));
    };
    if can_have(bytes) {
        Ok(())
    } else {
        Err(refusal(nodes, edges, need))
    }
}

fn refusal(nodes: u64, edges: u64, need: u64) -> String {
    let available = match available_bytes() {
        Some(a) => format!("about {} is available to this process", mib(a)),
        None => "that much could not be reserved".to_string(),
    };
    format!(
        "not enough memory: this snapshot ({nodes} nodes, {edges} edges) needs about {} to analyse, and {available} (a memory limit: ulimit -v, a container's limit, or the machine's free memory); raise it or analyse on a bigger machine",
        mib(need)
    )
}

fn mib(bytes: u64) -> String {
    format!("{} MB", bytes / (1 << 20))
}

/// Rounded up, so a small need never reads "0 MB".
fn mib_up(bytes: u64) -> String {
    format!("{} MB", bytes.div_ceil(1 << 20).max(1))
}

/// The least of what the address-space limit, the cgroup limit and the machine leave, where known.
pub fn available_bytes() -> Option<u64> {
    let read = |p: &str| std::fs::read_to_string(p).ok();
    let field = |text: &str, key: &str| -> Option<u64> {
        text.lines().find(|l| l.starts_with(key))?.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    let mut best: Option<u64> = None;
    let mut take = |v: u64| best = Some(best.map_or(v, |b: u64| b.min(v)));
    // RLIMIT_AS (what `ulimit -v` / `prlimit --as` set) less the address space in use.
    if let (Some(limits), Some(status)) = (read("/proc/self/limits"), read("/proc/self/status")) {
        let soft = limits.lines().find(|l| l.starts_with("Max address space")).and_then(|l| l.split_whitespace().nth(3)).and_then(|v| v.parse::<u64>().ok());
        if let (Some(limit), Some(vm_kb)) = (soft, field(&status, "VmSize:")) {
            take(limit.saturating_sub(vm_kb * 1024));
        }
    }
    // A cgroup v2 memory limit less what the group uses.
    if let (Some(max), Some(cur)) = (read("/sys/fs/cgroup/memory.max"), read("/sys/fs/cgroup/memory.current")) {
        if let (Ok(max), Ok(cur)) = (max.trim().parse::<u64>(), cur.trim().parse::<u64>()) {
            take(max.saturating_sub(cur));
        }
    }
    if let Some(kb) = read("/proc/meminfo").and_then(|m| field(&m, "MemAvailable:")) {
        take(kb * 1024);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_absurd_header_is_refused_with_what_it_needs() {
        // 4 billion nodes would need ~240 GB: no machine here has it, and nothing is touched.
        let e = ensure_room(4_000_000_000, 16_000_000_000, None).unwrap_err();
        assert!(e.starts_with("not enough memory: this snapshot (4000000000 nodes, 16000000000 edges) needs about 381493 MB"), "{e}");
        assert!(e.contains("is available") || e.contains("could not be reserved"), "{e}");
        assert!(ensure_room(1_000_000, 4_000_000, Some(100 << 20)).is_ok());
    }
}
