//! Fixed-size 64-byte event records handed to JavaScript (layout: `rust/ABI.md`).

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
/// Never sent in normal operation: `hl_client_fault` kind 2 emits it to test readers'
/// handling of record kinds they do not know.
pub const K_UNKNOWN_TEST: u8 = 0xEE;

/// Asset value meaning "no instrument".
pub const NO_ASSET: u16 = 0xFFFF;

/// Error kinds carried in the `aux` field of an ERROR record.
pub const ERR_CONNECTION_INTERRUPTED: u32 = 0;
pub const ERR_CRITICAL_CONNECTION: u32 = 1;
pub const ERR_ORDER: u32 = 2;
pub const ERR_CUSTOM: u32 = 3;
pub const ERR_ENGINE: u32 = 100;

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
