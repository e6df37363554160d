//! The consumer's wake-up for the record ring, eventcount style: the producer only touches the
//! mutex/condvar when a consumer is parked, so an undisturbed engine never blocks or makes a
//! syscall. Also the client's closed/failed state and its [`Doorbell`].

use std::{
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
        Condvar, Mutex,
    },
    time::{Duration, Instant},
};

use crate::{doorbell::Doorbell, sync::LockExt};

/// State shared by the ring's producer and consumer.
pub struct Signal {
    pushed: AtomicU64,
    popped: AtomicU64,
    waiters: AtomicUsize,
    wake_gen: AtomicU64,
    closed: AtomicBool,
    failed: AtomicBool,
    bell: Doorbell,
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
            bell: Doorbell::default(),
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

    pub fn is_failed(&self) -> bool {
        self.failed.load(Ordering::SeqCst)
    }

    /// The doorbell (installed by the caller, rung by the producer).
    pub fn bell(&self) -> &Doorbell {
        &self.bell
    }

    /// The producer made `n` more records visible: wakes a parked consumer and rings an armed
    /// doorbell.
    pub(crate) fn published(&self, n: u64) {
        self.pushed.fetch_add(n, Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            let _g = self.lock.lock_or_recover();
            self.cv.notify_all();
        }
        // Only when the consumer armed it (it found nothing ready and is about to sleep): one
        // byte per arming, no syscall while it is busy draining.
        self.bell.ring_if_armed();
    }

    /// The consumer took `n` records.
    pub(crate) fn consumed(&self, n: u64) {
        self.popped.fetch_add(n, Ordering::SeqCst);
    }

    /// Arms the doorbell and returns the records ready now; when some are, it is disarmed
    /// again (the caller drains instead of sleeping).
    pub fn arm(&self) -> usize {
        self.bell.arm();
        let n = self.ready();
        if n > 0 {
            self.bell.disarm();
        }
        n
    }

    /// Wakes every parked waiter and rings the doorbell whether or not it is armed.
    fn wake_everyone(&self) {
        {
            let _g = self.lock.lock_or_recover();
            self.cv.notify_all();
        }
        self.bell.ring();
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
            while start.elapsed() < spin {
                for _ in 0..64 {
                    std::hint::spin_loop();
                }
                if let Some(r) = check() {
                    return r;
                }
            }
        }
        let mut guard = self.lock.lock_or_recover();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Waits on `signal` from another thread; returns once that thread is parked.
    fn parked(signal: &Arc<Signal>) -> std::thread::JoinHandle<WaitResult> {
        let s2 = signal.clone();
        let t = std::thread::spawn(move || s2.wait(Duration::from_secs(10), Duration::ZERO));
        while signal.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        t
    }

    #[test]
    fn wait_returns_on_push_wake_close_and_timeout() {
        let signal = Arc::new(Signal::default());
        assert_eq!(
            signal.wait(Duration::from_millis(5), Duration::ZERO),
            WaitResult::Timeout
        );
        assert_eq!(
            signal.wait(Duration::from_millis(1), Duration::from_micros(100)),
            WaitResult::Timeout,
            "spin, then park"
        );
        let t = parked(&signal);
        signal.published(1);
        assert_eq!(t.join().unwrap(), WaitResult::Ready(1));

        let fresh = Arc::new(Signal::default());
        let t = parked(&fresh);
        fresh.wake_all();
        assert_eq!(t.join().unwrap(), WaitResult::Woken);

        let t = parked(&fresh);
        fresh.close();
        assert_eq!(t.join().unwrap(), WaitResult::Closed);
    }

    #[test]
    fn a_failed_producer_delivers_what_it_pushed_first() {
        let signal = Signal::default();
        signal.published(2);
        signal.fail();
        assert_eq!(
            signal.wait(Duration::ZERO, Duration::ZERO),
            WaitResult::Ready(2)
        );
        signal.consumed(2);
        assert_eq!(
            signal.wait(Duration::ZERO, Duration::ZERO),
            WaitResult::Failed
        );
    }
}
