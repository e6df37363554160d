//! The single-producer single-consumer record ring between the engine thread and JavaScript,
//! with an eventcount-style wake-up: the producer only touches the mutex/condvar when a consumer
//! is parked, so an undisturbed engine never blocks or makes a syscall.

use std::{
    collections::VecDeque,
    io::Write,
    os::unix::net::UnixStream,
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Condvar, Mutex,
    },
    time::{Duration, Instant},
};

use crate::record::{is_market, Rec, RecBuilder, K_DROPPED, NO_ASSET, REC_SIZE};

/// State shared by both ends.
pub struct Signal {
    pushed: AtomicU64,
    popped: AtomicU64,
    waiters: AtomicUsize,
    wake_gen: AtomicU64,
    closed: AtomicBool,
    failed: AtomicBool,
    /// The doorbell: a Unix stream socket whose other end JavaScript reads with its own event
    /// loop (no blocking-pool thread in between). Written once per arming.
    bell: Mutex<Option<UnixStream>>,
    armed: AtomicBool,
    lock: Mutex<()>,
    cv: Condvar,
}

/// Why a wait returned.
#[derive(Debug, PartialEq, Eq)]
pub enum WaitResult {
    Ready(usize),
    Timeout,
    Woken,
    Closed,
    /// The producer stopped by itself (the engine thread failed); records pushed before
    /// remain drainable.
    Failed,
}

impl Default for Signal {
    fn default() -> Self {
        Self {
            pushed: AtomicU64::new(0),
            popped: AtomicU64::new(0),
            waiters: AtomicUsize::new(0),
            wake_gen: AtomicU64::new(0),
            closed: AtomicBool::new(false),
            failed: AtomicBool::new(false),
            bell: Mutex::new(None),
            armed: AtomicBool::new(false),
            lock: Mutex::new(()),
            cv: Condvar::new(),
        }
    }
}

impl Signal {
    /// Records ready to drain.
    pub fn ready(&self) -> usize {
        (self.pushed.load(Ordering::SeqCst) - self.popped.load(Ordering::SeqCst)) as usize
    }

    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    fn notify(&self) {
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_all();
        }
        // Only when the consumer armed it (it found nothing ready and is about to sleep): one
        // byte per arming, no syscall while it is busy draining.
        if self.armed.load(Ordering::SeqCst) && self.armed.swap(false, Ordering::SeqCst) {
            self.ring_bell();
        }
    }

    fn ring_bell(&self) {
        if let Some(s) = self.bell.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            // Non-blocking: if the socket buffer is full, bytes are already waiting to be read.
            let _ = s.write(&[1u8]);
        }
    }

    /// Installs the doorbell socket (non-blocking).
    pub fn set_bell(&self, s: UnixStream) -> std::io::Result<()> {
        s.set_nonblocking(true)?;
        *self.bell.lock().unwrap_or_else(|e| e.into_inner()) = Some(s);
        Ok(())
    }

    /// Arms the doorbell and returns the records ready now; when some are, it is disarmed
    /// again (the caller drains instead of sleeping).
    pub fn arm(&self) -> usize {
        self.armed.store(true, Ordering::SeqCst);
        let n = self.ready();
        if n > 0 {
            self.armed.store(false, Ordering::SeqCst);
        }
        n
    }

    /// Wakes every parked waiter and rings the doorbell whether or not it is armed.
    fn wake_everyone(&self) {
        {
            let _g = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.cv.notify_all();
        }
        self.ring_bell();
    }

    /// Marks the ring closed and wakes every waiter.
    pub fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake_everyone();
    }

    /// Marks the ring failed (and closed) and wakes every waiter; waits return
    /// [`WaitResult::Failed`].
    pub fn fail(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.close();
    }

    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// Wakes every current waiter; they return [`WaitResult::Woken`].
    pub fn wake_all(&self) {
        self.wake_gen.fetch_add(1, Ordering::SeqCst);
        self.wake_everyone();
    }

    /// Waits until records are ready, the timeout passes, [`Signal::wake_all`] is called or the
    /// ring is closed. Spins for `spin` first (zero for none), then parks on the condvar.
    pub fn wait(&self, timeout: Duration, spin: Duration) -> WaitResult {
        let gen = self.wake_gen.load(Ordering::SeqCst);
        let start = Instant::now();
        let check = || {
            if self.is_failed() {
                // What the producer pushed before it failed is delivered first.
                let n = self.ready();
                return Some(if n > 0 {
                    WaitResult::Ready(n)
                } else {
                    WaitResult::Failed
                });
            }
            if self.is_closed() {
                return Some(WaitResult::Closed);
            }
            let n = self.ready();
            if n > 0 {
                return Some(WaitResult::Ready(n));
            }
            if self.wake_gen.load(Ordering::SeqCst) != gen {
                return Some(WaitResult::Woken);
            }
            None
        };
        if let Some(r) = check() {
            return r;
        }
        if !spin.is_zero() {
            let spin = spin.min(timeout);
            let mut i = 0u32;
            while start.elapsed() < spin {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                i = i.wrapping_add(1);
                if let Some(r) = check() {
                    return r;
                }
            }
        }
        let mut guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.waiters.fetch_add(1, Ordering::SeqCst);
        let result = loop {
            if let Some(r) = check() {
                break r;
            }
            let elapsed = start.elapsed();
            if elapsed >= timeout {
                break WaitResult::Timeout;
            }
            guard = match self.cv.wait_timeout(guard, timeout - elapsed) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        };
        self.waiters.fetch_sub(1, Ordering::SeqCst);
        drop(guard);
        result
    }
}

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
            let rec = RecBuilder::new(K_DROPPED, 0, NO_ASSET, 0)
                .u(1, self.dropped_pending)
                .build();
            if self.backlog.is_empty() && self.producer.push(rec).is_ok() {
                n += 1;
                self.dropped_pending = 0;
            }
        }
        if n > 0 {
            self.pushed_total += n as u64;
            signal.pushed.fetch_add(n as u64, Ordering::SeqCst);
            signal.notify();
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
        signal.popped.fetch_add(n as u64, Ordering::SeqCst);
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{RecView, K_TRADE};
    use std::sync::Arc;

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
                p.stage(rec(crate::record::K_ORDER, next));
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
        p.stage(rec(crate::record::K_ORDER, 99));
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
        assert!(kinds.contains(&crate::record::K_ORDER));
        let trades = kinds.iter().filter(|k| **k == K_TRADE).count() as u64;
        assert_eq!(trades + dropped, 20, "every trade is delivered or counted");
        assert!(dropped > 0);
        assert_eq!(p.dropped_total, dropped);
    }

    #[test]
    fn wait_returns_on_push_wake_close_and_timeout() {
        let signal = Arc::new(Signal::default());
        assert_eq!(
            signal.wait(Duration::from_millis(5), Duration::ZERO),
            WaitResult::Timeout
        );
        let (mut p, _c) = ring(16);
        let s2 = signal.clone();
        let t = std::thread::spawn(move || s2.wait(Duration::from_secs(10), Duration::ZERO));
        while signal.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        p.stage(rec(K_TRADE, 1));
        p.flush(&signal);
        assert_eq!(t.join().unwrap(), WaitResult::Ready(1));

        let s2 = signal.clone();
        let t = std::thread::spawn(move || {
            // ready() > 0 now, so consume first by waiting on a fresh signal instead
            let fresh = Signal::default();
            let _ = &s2;
            fresh.wait(Duration::from_millis(1), Duration::from_micros(100))
        });
        assert_eq!(t.join().unwrap(), WaitResult::Timeout);

        let fresh = Arc::new(Signal::default());
        let f2 = fresh.clone();
        let t = std::thread::spawn(move || f2.wait(Duration::from_secs(10), Duration::ZERO));
        while fresh.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        fresh.wake_all();
        assert_eq!(t.join().unwrap(), WaitResult::Woken);

        let f2 = fresh.clone();
        let t = std::thread::spawn(move || f2.wait(Duration::from_secs(10), Duration::ZERO));
        while fresh.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        fresh.close();
        assert_eq!(t.join().unwrap(), WaitResult::Closed);
    }
}
