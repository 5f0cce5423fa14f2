//! Room to analyse a snapshot, checked before the work starts: Rust aborts the process when an
//! allocation fails, and containers with memory limits are where people analyse snapshots. So
//! once the header says how many nodes and edges a snapshot has, the memory the reader and the
//! passes will need is estimated and reserved (address space only: no page is touched) and given
//! back at once. When that fails, the analysis is refused with an error that says how much it
//! needs and how much there is, instead of dying halfway through.
//! Not a guarantee: the estimate is calibrated on real snapshots (peak RSS of `analyze` over
//! nodes and edges), and a limit that lands inside its margin can still be hit.

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

/// `Ok` when the memory for a snapshot of `nodes` and `edges` can be reserved now.
pub fn ensure_room(nodes: u64, edges: u64, file_size: Option<u64>) -> Result<(), String> {
    let need = estimated_need(nodes, edges, file_size);
    let Ok(bytes) = usize::try_from(need) else {
        return Err(refusal(nodes, edges, need));
    };
    let mut probe: Vec<u8> = Vec::new();
    match probe.try_reserve_exact(bytes) {
        Ok(()) => Ok(()),
        Err(_) => Err(refusal(nodes, edges, need)),
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
