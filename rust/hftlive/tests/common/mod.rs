//! Test helpers: a client driven through the real C ABI, and a scripted connector speaking
//! hftbacktest's IPC protocol over real iceoryx2 (the connector side of `IceoryxBuilder`).
#![allow(dead_code)]

use std::{
    sync::atomic::{AtomicU32, Ordering},
    time::{Duration, Instant},
};

use hftbacktest::{
    live::ipc::{
        iceoryx::{IceoryxBuilder, IceoryxReceiver, IceoryxSender},
        TO_ALL,
    },
    prelude::*,
};
use hftlive::{ffi::*, record::*};

/// A connector name no other test (or test process) uses.
pub fn unique_name(tag: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "hlt-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// A decoded record.
#[derive(Clone, Debug)]
pub struct R(pub Vec<u8>);

impl R {
    pub fn v(&self) -> RecView<'_> {
        RecView(&self.0)
    }
    pub fn kind(&self) -> u8 {
        self.0[0]
    }
}

pub struct TestClient {
    pub h: u32,
    pub seen: Vec<R>,
}

pub fn open(cfg: &str) -> Result<TestClient, (i32, String)> {
    let mut h = 0u32;
    let mut err = vec![0u8; 1024];
    // SAFETY: valid buffers for the given lengths.
    let rc = unsafe {
        hl_client_open(
            cfg.as_ptr(),
            cfg.len() as u32,
            &mut h,
            err.as_mut_ptr(),
            err.len() as u32,
        )
    };
    if rc != HL_OK {
        let end = err.iter().position(|b| *b == 0).unwrap_or(err.len());
        return Err((rc, String::from_utf8_lossy(&err[..end]).into_owned()));
    }
    Ok(TestClient {
        h,
        seen: Vec::new(),
    })
}

pub fn client_cfg(connector: &str, symbols: &[&str], extra: &str) -> String {
    let inst: Vec<String> = symbols
        .iter()
        .map(|s| {
            format!(
                r#"{{"connector":"{connector}","symbol":"{s}","tick_size":0.1,"lot_size":0.001}}"#
            )
        })
        .collect();
    format!(
        r#"{{"instruments":[{}],"liveness_interval_ms":20,"register_interval_ms":50{extra}}}"#,
        inst.join(",")
    )
}

impl TestClient {
    pub fn last_error(&self) -> String {
        let mut buf = vec![0u8; 1024];
        // SAFETY: valid buffer.
        let n = unsafe { hl_last_error(self.h, buf.as_mut_ptr(), buf.len() as u32) };
        String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned()
    }

    pub fn take_message(&self) -> String {
        let mut buf = vec![0u8; 4096];
        // SAFETY: valid buffer.
        let n = unsafe { hl_client_take_message(self.h, buf.as_mut_ptr(), buf.len() as u32) };
        String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned()
    }

    /// Polls records until `pred` holds for one of them (returns it) or the timeout passes.
    pub fn wait_for(&mut self, timeout: Duration, mut pred: impl FnMut(&R) -> bool) -> Option<R> {
        let start = Instant::now();
        let mut buf = vec![0u8; 64 * 256];
        while start.elapsed() < timeout {
            // SAFETY: buf holds 256 records.
            let n = unsafe { hl_client_poll(self.h, buf.as_mut_ptr(), 256, 20_000) };
            assert!(n >= 0, "poll failed: {n}");
            // Keep the whole batch (later records matter to later checks), return the first match.
            let mut found = None;
            for i in 0..n as usize {
                let r = R(buf[i * 64..i * 64 + 64].to_vec());
                self.seen.push(r.clone());
                if found.is_none() && pred(&r) {
                    found = Some(r);
                }
            }
            if found.is_some() {
                return found;
            }
        }
        None
    }

    pub fn depth(
        &self,
        asset: u32,
        levels: usize,
    ) -> (hftlive::book::Levels, hftlive::book::Levels) {
        let mut out = vec![0f64; 2 + 4 * levels];
        // SAFETY: out holds 2 + 4*levels f64.
        let rc = unsafe { hl_client_depth(self.h, asset, levels as u32, out.as_mut_ptr()) };
        assert_eq!(rc, HL_OK, "{}", self.last_error());
        let (nb, na) = (out[0] as usize, out[1] as usize);
        let bids = (0..nb).map(|i| (out[2 + 2 * i], out[3 + 2 * i])).collect();
        let base = 2 + 2 * levels;
        let asks = (0..na)
            .map(|i| (out[base + 2 * i], out[base + 1 + 2 * i]))
            .collect();
        (bids, asks)
    }

    #[allow(clippy::too_many_arguments)]
    pub fn submit(
        &self,
        asset: u32,
        id: f64,
        side: i32,
        price: f64,
        qty: f64,
        tif: u32,
        ty: u32,
    ) -> i32 {
        hl_client_submit(self.h, asset, id, side, price, qty, tif, ty)
    }

    pub fn close(&self) -> i32 {
        hl_client_close(self.h)
    }
}

impl Drop for TestClient {
    fn drop(&mut self) {
        hl_client_close(self.h);
    }
}

/// The connector side of hftbacktest's IPC, scripted by the test.
pub struct Connector {
    pub tx: IceoryxSender<LiveEvent>,
    pub rx: IceoryxReceiver<LiveRequest>,
}

impl Connector {
    pub fn new(name: &str) -> Self {
        hftlive::iox::prepare_dirs();
        Connector {
            tx: IceoryxBuilder::new(name).bot(false).sender().unwrap(),
            rx: IceoryxBuilder::new(name).bot(false).receiver().unwrap(),
        }
    }

    /// Waits for the next request matching `pred`.
    pub fn recv(
        &self,
        timeout: Duration,
        mut pred: impl FnMut(&LiveRequest) -> bool,
    ) -> Option<(u64, LiveRequest)> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            match self.rx.receive().unwrap() {
                Some((id, req)) if pred(&req) => return Some((id, req)),
                Some(_) => {}
                None => std::thread::yield_now(),
            }
        }
        None
    }

    pub fn send(&self, dst: u64, ev: LiveEvent) {
        self.tx.send(dst, &ev).unwrap();
    }

    pub fn feed(&self, symbol: &str, ev: u64, px: f64, qty: f64, ts: i64) {
        self.send(
            TO_ALL,
            LiveEvent::Feed {
                symbol: symbol.into(),
                event: Event {
                    ev,
                    exch_ts: ts,
                    local_ts: ts + 1000,
                    px,
                    qty,
                    order_id: 0,
                    ival: 0,
                    fval: 0.0,
                },
            },
        );
    }

    /// Answers a registration the way hftbacktest's connector does: BatchStart, the book as
    /// DEPTH_SNAPSHOT events, BatchEnd.
    pub fn answer_registration(
        &self,
        id: u64,
        symbol: &str,
        bids: &[(f64, f64)],
        asks: &[(f64, f64)],
    ) {
        self.send(id, LiveEvent::BatchStart);
        for (px, qty) in bids {
            self.send(
                id,
                LiveEvent::Feed {
                    symbol: symbol.into(),
                    event: Event {
                        ev: EXCH_EVENT | LOCAL_EVENT | BUY_EVENT | DEPTH_SNAPSHOT_EVENT,
                        exch_ts: 1,
                        local_ts: 0,
                        px: *px,
                        qty: *qty,
                        order_id: 0,
                        ival: 0,
                        fval: 0.0,
                    },
                },
            );
        }
        for (px, qty) in asks {
            self.send(
                id,
                LiveEvent::Feed {
                    symbol: symbol.into(),
                    event: Event {
                        ev: EXCH_EVENT | LOCAL_EVENT | SELL_EVENT | DEPTH_SNAPSHOT_EVENT,
                        exch_ts: 1,
                        local_ts: 0,
                        px: *px,
                        qty: *qty,
                        order_id: 0,
                        ival: 0,
                        fval: 0.0,
                    },
                },
            );
        }
        self.send(id, LiveEvent::BatchEnd);
    }
}

pub fn registered(r: &R, asset: u16) -> bool {
    r.kind() == K_INSTRUMENT && r.v().aux() == INST_REGISTERED && r.v().asset() == asset
}

pub const T: Duration = Duration::from_secs(10);
