//! The single-producer single-consumer record ring between the engine and the caller. Its
//! counters and wake-up are the [`Signal`](crate::signal::Signal) both ends share.

use std::collections::VecDeque;

use crate::{
    record::{self, is_market, Rec, REC_SIZE},
    signal::Signal,
};

/// Engine side: pushes records, keeps a backlog when the ring is full.
pub struct RingProducer {
    producer: rtrb::Producer<Rec>,
    backlog: VecDeque<Rec>,
    backlog_limit: usize,
    staged: Vec<Rec>,
    dropped_pending: u64,
    pub dropped_total: u64,
    pub pushed_total: u64,
}

/// JavaScript side: drains records into caller buffers.
pub struct RingConsumer {
    consumer: rtrb::Consumer<Rec>,
}

/// Creates a ring of `capacity` records sharing `signal`.
pub fn ring(capacity: usize) -> (RingProducer, RingConsumer) {
    let (producer, consumer) = rtrb::RingBuffer::new(capacity);
    (
        RingProducer {
            producer,
            backlog: VecDeque::new(),
            backlog_limit: capacity,
            staged: Vec::with_capacity(1024),
            dropped_pending: 0,
            dropped_total: 0,
            pushed_total: 0,
        },
        RingConsumer { consumer },
    )
}

impl RingProducer {
    /// Stages a record; it becomes visible at the next [`RingProducer::flush`].
    #[inline]
    pub fn stage(&mut self, rec: Rec) {
        self.staged.push(rec);
    }

    /// Pending records not yet visible to the consumer.
    #[cfg(test)]
    pub fn pending(&self) -> usize {
        self.staged.len() + self.backlog.len()
    }

    /// Makes staged records visible and wakes a parked consumer. Market data beyond the backlog
    /// limit is dropped oldest-first and counted; other records are never dropped.
    pub fn flush(&mut self, signal: &Signal) {
        if self.staged.is_empty() && self.backlog.is_empty() && self.dropped_pending == 0 {
            return;
        }
        let mut n = 0usize;
        // Older backlog first, keeping order.
        while let Some(rec) = self.backlog.front() {
            if self.producer.push(*rec).is_err() {
                break;
            }
            self.backlog.pop_front();
            n += 1;
        }
        if self.backlog.is_empty() {
            let (done, rest) = self.producer.push_partial_slice(&self.staged);
            n += done.len();
            self.backlog.extend(rest.iter().copied());
        } else {
            self.backlog.extend(self.staged.iter().copied());
        }
        self.staged.clear();
        if self.backlog.len() > self.backlog_limit {
            let mut excess = self.backlog.len() - self.backlog_limit;
            let before = self.backlog.len();
            self.backlog.retain(|r| {
                if excess > 0 && is_market(r[0]) {
                    excess -= 1;
                    false
                } else {
                    true
                }
            });
            let dropped = (before - self.backlog.len()) as u64;
            self.dropped_pending += dropped;
            self.dropped_total += dropped;
        }
        if self.dropped_pending > 0 {
            let rec = record::dropped(self.dropped_pending);
            if self.backlog.is_empty() && self.producer.push(rec).is_ok() {
                n += 1;
                self.dropped_pending = 0;
            }
        }
        if n > 0 {
            self.pushed_total += n as u64;
            signal.published(n as u64);
        }
    }
}

impl RingConsumer {
    /// Copies up to `max` records into `out` (which holds at least `max * 64` bytes).
    pub fn drain_into(&mut self, out: &mut [u8], signal: &Signal) -> usize {
        let max = out.len() / REC_SIZE;
        let n = self.consumer.slots().min(max);
        if n == 0 {
            return 0;
        }
        let chunk = match self.consumer.read_chunk(n) {
            Ok(c) => c,
            Err(_) => return 0,
        };
        let (a, b) = chunk.as_slices();
        let mut off = 0;
        for part in [a, b] {
            // Rec is [u8; 64]: a slice of them is contiguous bytes.
            let bytes = part.as_flattened();
            out[off..off + bytes.len()].copy_from_slice(bytes);
            off += bytes.len();
        }
        chunk.commit_all();
        signal.consumed(n as u64);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RecBuilder, RecView, K_DROPPED, K_ORDER, K_TRADE};

    fn rec(kind: u8, i: u64) -> Rec {
        RecBuilder::new(kind, 1, 0, 0).u(1, i).build()
    }

    #[test]
    fn ring_keeps_order_across_wraps_and_backlog() {
        let signal = Signal::default();
        let (mut p, mut c) = ring(8);
        let mut buf = vec![0u8; 64 * 5];
        let mut next = 0u64;
        let mut seen = 0u64;
        for _ in 0..50 {
            for _ in 0..7 {
                p.stage(rec(K_ORDER, next));
                next += 1;
            }
            p.flush(&signal);
            let n = c.drain_into(&mut buf, &signal);
            for i in 0..n {
                let v = RecView(&buf[i * 64..i * 64 + 64]);
                assert_eq!(v.u(1), seen);
                seen += 1;
            }
        }
        // drain the rest
        loop {
            p.flush(&signal);
            let n = c.drain_into(&mut buf, &signal);
            if n == 0 && p.pending() == 0 {
                break;
            }
            for i in 0..n {
                assert_eq!(RecView(&buf[i * 64..i * 64 + 64]).u(1), seen);
                seen += 1;
            }
        }
        assert_eq!(seen, next, "order records are never dropped");
        assert_eq!(signal.ready(), 0);
    }

    #[test]
    fn ring_drops_only_market_data_and_counts_it() {
        let signal = Signal::default();
        let (mut p, mut c) = ring(4);
        for i in 0..20 {
            p.stage(rec(K_TRADE, i));
        }
        p.stage(rec(K_ORDER, 99));
        p.flush(&signal);
        let mut buf = vec![0u8; 64 * 64];
        let mut kinds = Vec::new();
        let mut dropped = 0;
        for _ in 0..10 {
            let n = c.drain_into(&mut buf, &signal);
            for i in 0..n {
                let v = RecView(&buf[i * 64..i * 64 + 64]);
                if v.kind() == K_DROPPED {
                    dropped += v.u(1);
                }
                kinds.push(v.kind());
            }
            p.flush(&signal);
        }
        assert!(kinds.contains(&K_ORDER));
        let trades = kinds.iter().filter(|k| **k == K_TRADE).count() as u64;
        assert_eq!(trades + dropped, 20, "every trade is delivered or counted");
        assert!(dropped > 0);
        assert_eq!(p.dropped_total, dropped);
    }
}
