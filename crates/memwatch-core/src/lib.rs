//! memwatch-core: the pure-Rust half of memwatch-rs.
//!
//! Everything here works on plain numbers and tables: the GC stats engine and leak detector
//! (fed one sample per GC), heap summaries and their diff (fed one row per snapshot node), and
//! memwatch's text formatting. It knows nothing of napi or V8, so it is tested with `cargo test`
//! alone and usable from any Rust program.

pub mod format;
pub mod gc;
pub mod leak;
pub mod output;
pub mod stats;
pub mod snapshot;
pub mod srcmap;
pub mod summary;
pub mod replay;
pub mod sites;
pub mod runway;
pub mod trend;
