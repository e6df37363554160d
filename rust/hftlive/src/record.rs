//! Fixed-size 64-byte event records handed to JavaScript (layout: `rust/ABI.md`): the kinds,
//! one constructor per kind (the only code that knows where a field goes), and a reader.

use hftbacktest::types::{Event, Order};

use crate::book::tick_price;

/// One record as it crosses into JavaScript.
pub type Rec = [u8; 64];

/// Record size in bytes.
pub const REC_SIZE: usize = 64;

pub const K_TRADE: u8 = 1;
pub const K_DEPTH: u8 = 2;
pub const K_DEPTH_CLEAR: u8 = 3;
pub const K_BBO: u8 = 4;
pub const K_ORDER: u8 = 5;
pub const K_POSITION: u8 = 6;
pub const K_ERROR: u8 = 7;
pub const K_CONNECTOR: u8 = 8;
pub const K_INSTRUMENT: u8 = 9;
pub const K_DROPPED: u8 = 10;
/// Never sent in normal operation: `hl_client_fault` kind 2 (feature `fault-injection`) emits
/// it to test readers' handling of record kinds they do not know.
pub const K_UNKNOWN_TEST: u8 = 0xEE;

/// The payload slot of TRADE, DEPTH, DEPTH_CLEAR and BBO records that holds the engine's
/// receive time (ns since the Unix epoch): when the engine took the connector's message that
/// produced the record off IPC (`rust/ABI.md`, "Records").
pub const ENGINE_TS_SLOT: usize = 7;

/// Asset value meaning "no instrument".
pub const NO_ASSET: u16 = 0xFFFF;

/// Error kinds carried in the `aux` field of an ERROR record.
pub const ERR_CONNECTION_INTERRUPTED: u32 = 0;
pub const ERR_CRITICAL_CONNECTION: u32 = 1;
pub const ERR_ORDER: u32 = 2;
pub const ERR_CUSTOM: u32 = 3;
pub const ERR_ENGINE: u32 = 100;

/// Codes (payload s1) of the core's own ERROR records (kind [`ERR_ENGINE`]) about the order
/// path; 0 for any other engine or IPC error.
/// A request was not sent (its connector is down, or the IPC send failed): a new order ends
/// Rejected, a cancel is withdrawn.
pub const NOTICE_NOT_SENT: i64 = 1;
/// A request got no answer (`request_timeout_ms`, or its connector went away first).
pub const NOTICE_UNANSWERED: i64 = 2;
/// An order the restarted connector did not report was marked Expired (ambiguous).
pub const NOTICE_AMBIGUOUS: i64 = 3;
/// What cancel on exit did.
pub const NOTICE_EXIT: i64 = 4;

/// INSTRUMENT record states.
pub const INST_REGISTER_SENT: u32 = 1;
pub const INST_SNAPSHOT_BEGIN: u32 = 2;
pub const INST_REGISTERED: u32 = 3;

/// Order status value the core uses for a connector-side rejection.
pub const STATUS_REJECTED: u8 = 6;

/// Builds one record.
#[derive(Clone, Copy)]
pub struct RecBuilder(Rec);

impl RecBuilder {
    pub fn new(kind: u8, side: i8, asset: u16, aux: u32) -> Self {
        let mut r = [0u8; 64];
        r[0] = kind;
        r[1] = side as u8;
        r[2..4].copy_from_slice(&asset.to_le_bytes());
        r[4..8].copy_from_slice(&aux.to_le_bytes());
        Self(r)
    }

    /// Sets payload slot `i` (1..=7) to an f64.
    pub fn f(mut self, i: usize, v: f64) -> Self {
        let o = i * 8;
        self.0[o..o + 8].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Sets payload slot `i` (1..=7) to an i64.
    pub fn i(mut self, i: usize, v: i64) -> Self {
        let o = i * 8;
        self.0[o..o + 8].copy_from_slice(&v.to_le_bytes());
        self
    }

    /// Sets payload slot `i` (1..=7) to a u64.
    pub fn u(mut self, i: usize, v: u64) -> Self {
        let o = i * 8;
        self.0[o..o + 8].copy_from_slice(&v.to_le_bytes());
        self
    }

    pub fn build(self) -> Rec {
        self.0
    }
}

/// A TRADE or DEPTH record (`kind`) of a connector's feed event: px, qty, exch_ts, local_ts;
/// `aux` is the event's `ev` flags (low 32 bits).
pub fn market(kind: u8, side: i8, asset: u16, e: &Event) -> Rec {
    RecBuilder::new(kind, side, asset, e.ev as u32)
        .f(1, e.px)
        .f(2, e.qty)
        .i(3, e.exch_ts)
        .i(4, e.local_ts)
        .build()
}

/// A DEPTH_CLEAR record: the `side` (0 both) up to price `upto` (NaN: the whole side).
pub fn depth_clear(side: i8, asset: u16, aux: u32, upto: f64, exch_ts: i64, local_ts: i64) -> Rec {
    RecBuilder::new(K_DEPTH_CLEAR, side, asset, aux)
        .f(1, upto)
        .i(3, exch_ts)
        .i(4, local_ts)
        .build()
}

/// A BBO record; `bid`/`ask` are (price, qty), the price NaN for an empty side.
pub fn bbo(asset: u16, bid: (f64, f64), ask: (f64, f64), exch_ts: i64, local_ts: i64) -> Rec {
    RecBuilder::new(K_BBO, 0, asset, 0)
        .f(1, bid.0)
        .f(2, bid.1)
        .f(3, ask.0)
        .f(4, ask.1)
        .i(5, exch_ts)
        .i(6, local_ts)
        .build()
}

/// An ORDER record for `order`, with `status` overriding the order's own.
pub fn order(asset: usize, order: &Order, status: u8) -> Rec {
    let aux = status as u32
        | (order.req as u8 as u32) << 8
        | (order.time_in_force as u8 as u32) << 16
        | ((order.order_type as u8 as u32) | if order.maker { 0x80 } else { 0 }) << 24;
    RecBuilder::new(K_ORDER, order.side as i8, asset as u16, aux)
        .u(1, order.order_id)
        .f(2, tick_price(order.price_tick, order.tick_size))
        .f(3, order.qty)
        .f(4, order.leaves_qty)
        .f(5, order.exec_qty)
        .f(6, tick_price(order.exec_price_tick, order.tick_size))
        .i(7, order.exch_timestamp)
        .build()
}

/// A POSITION record.
pub fn position(asset: u16, qty: f64, exch_ts: i64) -> Rec {
    RecBuilder::new(K_POSITION, 0, asset, 0)
        .f(1, qty)
        .i(2, exch_ts)
        .build()
}

/// An ERROR record of error `kind` (`ERR_*`); its text (`len` bytes) is queued apart.
pub fn error(asset: u16, kind: u32, code: i64, order_id: u64, ts: i64, len: usize) -> Rec {
    RecBuilder::new(K_ERROR, 0, asset, kind)
        .i(1, code)
        .u(2, order_id)
        .i(3, ts)
        .u(4, len as u64)
        .build()
}

/// A CONNECTOR record: connector `index` came up or went down.
pub fn connector(index: usize, up: bool, ts: i64) -> Rec {
    RecBuilder::new(K_CONNECTOR, 0, NO_ASSET, up as u32)
        .u(1, index as u64)
        .i(2, ts)
        .build()
}

/// An INSTRUMENT record: `asset` reached registration `state` (`INST_*`).
pub fn instrument(asset: usize, state: u32, ts: i64) -> Rec {
    RecBuilder::new(K_INSTRUMENT, 0, asset as u16, state)
        .i(2, ts)
        .build()
}

/// A DROPPED record: `count` market-data records were dropped since the previous one.
pub fn dropped(count: u64) -> Rec {
    RecBuilder::new(K_DROPPED, 0, NO_ASSET, 0)
        .u(1, count)
        .build()
}

/// A record of a kind no reader of ABI v1 knows (what a newer core could send).
#[cfg(feature = "fault-injection")]
pub fn unknown_test() -> Rec {
    RecBuilder::new(K_UNKNOWN_TEST, 0, NO_ASSET, 0).build()
}

/// Reads fields back from a record (used by tests and by `hl_client_orders` callers in Rust).
pub struct RecView<'a>(pub &'a [u8]);

impl RecView<'_> {
    pub fn kind(&self) -> u8 {
        self.0[0]
    }
    pub fn side(&self) -> i8 {
        self.0[1] as i8
    }
    pub fn asset(&self) -> u16 {
        u16::from_le_bytes([self.0[2], self.0[3]])
    }
    pub fn aux(&self) -> u32 {
        u32::from_le_bytes(self.0[4..8].try_into().unwrap())
    }
    pub fn f(&self, i: usize) -> f64 {
        f64::from_le_bytes(self.0[i * 8..i * 8 + 8].try_into().unwrap())
    }
    pub fn i(&self, i: usize) -> i64 {
        i64::from_le_bytes(self.0[i * 8..i * 8 + 8].try_into().unwrap())
    }
    pub fn u(&self, i: usize) -> u64 {
        u64::from_le_bytes(self.0[i * 8..i * 8 + 8].try_into().unwrap())
    }
}

/// True for records that may be dropped when the ring is full (market data only).
pub fn is_market(kind: u8) -> bool {
    matches!(kind, K_TRADE | K_DEPTH | K_DEPTH_CLEAR | K_BBO)
}

/// Stamps a market record (see [`is_market`]) with the engine's receive time `ts` in
/// [`ENGINE_TS_SLOT`]; other records are left as they are.
#[inline]
pub fn stamp_engine_ts(rec: &mut Rec, ts: i64) {
    if is_market(rec[0]) {
        let o = ENGINE_TS_SLOT * 8;
        rec[o..o + 8].copy_from_slice(&ts.to_le_bytes());
    }
}
