//! hftlive's native core: an engine thread per client that drives hftbacktest's live IPC and
//! hands every event to JavaScript as fixed-size records, plus the C ABI (`rust/ABI.md`).

pub mod book;
pub mod config;
pub mod engine;
pub mod ffi;
pub mod iox;
pub mod record;
pub mod ring;
