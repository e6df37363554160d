//! hftlive's native core: an engine per client that drives hftbacktest's live IPC and hands
//! every event to the caller as fixed-size records ([`record`]), with a safe Rust API
//! ([`Client`]) and the C ABI over it ([`abi`], `rust/ABI.md`). Only [`abi`] may handle raw
//! pointers: Cargo.toml's lints deny it everywhere else.
//!
//! Layout, dependencies pointing down:
//! - [`abi`]: the `hl_*` functions over [`Client`] and [`hftlive_sim::Sim`], handle tables;
//! - [`Client`] (`client`): open/close/poll/wait/drain, orders, queries; `inline`: engines
//!   kept on the thread that opened their client;
//! - `commands`: [`NewOrder`] / [`CancelOrder`], decoded and checked at the edge;
//! - `engine`: the loop, registration, market data, orders; `shared`: what a client shares
//!   with its engine;
//! - `ring` + `signal` + `doorbell`: records to the caller and its wake-ups;
//! - [`book`], [`config`], [`record`], [`iox`].

pub mod abi;
pub mod book;
mod client;
mod clock;
mod commands;
pub mod config;
mod doorbell;
mod engine;
mod error;
mod handles;
mod inline;
pub mod iox;
pub mod record;
pub mod recorder;
mod ring;
mod shared;
mod signal;
mod slack;
mod sync;

pub use abi::release_freed_memory;
pub use client::Client;
pub use clock::now_ns;
pub use commands::{CancelOrder, NewOrder, RawCancelOrder, RawNewOrder, MAX_ORDER_ID};
pub use error::{Error, ErrorKind};
pub use hftbacktest::types::{OrdType, Side, TimeInForce};
