//! The test producer (feature `fault-injection`, `hl_client_fault` 3 starts it, 4 stops it): the
//! engine fills the ring with pre-built TRADE records as fast as the consumer makes room, so
//! benchmarks measure the decode and delivery ceiling of the caller rather than a connector's
//! rate. Only free slots are filled: nothing is dropped or backlogged, so a consumer that sees
//! the numbers (the price field: 0, 1, 2, …) without a gap lost nothing.

use super::{now_ns, Engine};
use crate::record::{self, K_TRADE};

/// Most records pushed per engine step (commands and IPC stay responsive).
const CHUNK: usize = 4096;

impl Engine {
    /// Pushes the next records of the test producer, if it runs; returns whether it pushed any.
    pub(super) fn flood_step(&mut self) -> bool {
        let Some(next) = self.flood else {
            return false;
        };
        let n = self.out.free().min(CHUNK);
        if n == 0 {
            return false;
        }
        let ts = now_ns();
        let template = record::RecBuilder::new(K_TRADE, 1, 0, 0)
            .f(2, 1.0)
            .i(3, ts)
            .i(4, ts)
            .i(record::ENGINE_TS_SLOT, ts);
        for k in 0..n as u64 {
            self.out.stage(template.f(1, (next + k) as f64).build());
        }
        self.flood = Some(next + n as u64);
        self.out.flush(self.shared.signal());
        true
    }
}
