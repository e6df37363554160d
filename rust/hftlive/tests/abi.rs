//! The C ABI itself, called as a C caller would (`extern "C"`, raw pointers): status codes and
//! messages, stale and double-closed handles, wait/wake/close, drains racing a close, the
//! open-with-error-buffer protocol, the sim functions, fault injection, the ABI version. Every
//! other test uses the crate's safe API.
#![allow(unsafe_code)] // calling the C ABI is what this file is for

mod common;

use std::{
    ptr::{null, null_mut},
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use common::{client_cfg, unique_name};
use hftlive::{abi::*, NewOrder, RawNewOrder, Side};

/// A client handle, closed on drop.
struct H(u32);

/// The signature of `hl_client_open` and `hl_sim_start`.
type OpenFn = unsafe extern "C" fn(*const u8, u32, *mut u32, *mut u8, u32) -> i32;

/// Calls an open function as a C caller would; the error is (status, message of the error
/// buffer).
fn open_with(open: OpenFn, json: &str) -> Result<u32, (i32, String)> {
    let mut h = 0u32;
    let mut err = vec![0u8; 1024];
    // SAFETY: valid buffers for the given lengths.
    let rc = unsafe {
        open(
            json.as_ptr(),
            json.len() as u32,
            &mut h,
            err.as_mut_ptr(),
            1024,
        )
    };
    if rc != HL_OK {
        let end = err.iter().position(|b| *b == 0).unwrap_or(err.len());
        return Err((rc, String::from_utf8_lossy(&err[..end]).into_owned()));
    }
    Ok(h)
}

/// Opens a client through `hl_client_open`.
fn open(cfg: &str) -> Result<H, (i32, String)> {
    open_with(hl_client_open, cfg).map(H)
}

/// A valid order of asset 0 to vary field by field.
fn raw() -> RawNewOrder {
    NewOrder::limit(0, 1, Side::Buy, 100.0, 0.001).into()
}

impl H {
    fn last_error(&self) -> String {
        let mut buf = vec![0u8; 1024];
        // SAFETY: valid buffer.
        let n = unsafe { hl_last_error(self.0, buf.as_mut_ptr(), buf.len() as u32) };
        String::from_utf8_lossy(&buf[..n.max(0) as usize]).into_owned()
    }

    fn submit(&self, o: RawNewOrder) -> i32 {
        let RawNewOrder {
            asset,
            order_id,
            side,
            price,
            qty,
            tif,
            ord_type,
        } = o;
        hl_client_submit(self.0, asset, order_id, side, price, qty, tif, ord_type)
    }

    /// `hl_client_poll` into a fresh buffer of `n` records.
    fn poll(&self, n: u32, timeout_us: u32) -> (i32, Vec<u8>) {
        let mut buf = vec![0u8; 64 * n as usize];
        // SAFETY: buf holds n records.
        let rc = unsafe { hl_client_poll(self.0, buf.as_mut_ptr(), n, timeout_us) };
        (rc, buf)
    }

    fn drain(&self, n: u32) -> i32 {
        let mut buf = vec![0u8; 64 * n as usize];
        // SAFETY: buf holds n records.
        unsafe { hl_client_drain(self.0, buf.as_mut_ptr(), n) }
    }

    fn close(&self) -> i32 {
        hl_client_close(self.0)
    }
}

impl Drop for H {
    fn drop(&mut self) {
        hl_client_close(self.0);
    }
}

#[test]
fn abi_error_paths_return_codes_and_messages() {
    for (cfg, needle) in [
        ("not json", "invalid client configuration"),
        (r#"{"instruments":[]}"#, "instruments is empty"),
        (
            r#"{"instruments":[{"connector":"a","symbol":"b","tick_size":0,"lot_size":1}]}"#,
            "tick_size",
        ),
        (
            r#"{"instruments":[{"connector":"a","symbol":"b","tick_size":1,"lot_size":1,"depth":"btree"}]}"#,
            "depth",
        ),
        (
            r#"{"instruments":[{"connector":"a","symbol":"b","tick_size":1,"lot_size":1,"depth":{"roi":[5,1]}}]}"#,
            "roi",
        ),
        (
            r#"{"instruments":[{"connector":"a","symbol":"b","tick_size":1,"lot_size":1}],"ring_capacity":100}"#,
            "power of two",
        ),
    ] {
        let (code, msg) = open(cfg).err().expect(cfg);
        assert_eq!(code, HL_E_CONFIG, "{cfg}");
        assert!(msg.contains(needle), "{msg} should mention {needle}");
    }
    let mut h = 0u32;
    // SAFETY: a null configuration is refused before anything is read; no error buffer.
    let rc = unsafe { hl_client_open(null(), 0, &mut h, null_mut(), 0) };
    assert_eq!(rc, HL_E_ARGUMENT);

    let name = unique_name("abi");
    let c = open(&client_cfg(&name, &["a", "b"], "")).unwrap();
    for (o, code, needle) in [
        (
            RawNewOrder {
                price: f64::NAN,
                qty: 1.0,
                ..raw()
            },
            HL_E_ARGUMENT,
            "price NaN",
        ),
        (
            RawNewOrder {
                qty: 0.0005,
                ..raw()
            },
            HL_E_ARGUMENT,
            "lot size",
        ),
        (
            RawNewOrder {
                price: 0.04,
                ..raw()
            },
            HL_E_ARGUMENT,
            "rounds to 0 ticks",
        ),
        (
            RawNewOrder {
                order_id: 1.5,
                ..raw()
            },
            HL_E_ARGUMENT,
            "order id",
        ),
        (RawNewOrder { side: 2, ..raw() }, HL_E_ARGUMENT, "side 2"),
        (
            RawNewOrder { tif: 9, ..raw() },
            HL_E_ARGUMENT,
            "time in force",
        ),
        (
            RawNewOrder {
                tif: 1,
                ord_type: 1,
                ..raw()
            },
            HL_E_ARGUMENT,
            "post-only",
        ),
        (RawNewOrder { asset: 7, ..raw() }, HL_E_NOT_FOUND, "asset 7"),
    ] {
        let rc = c.submit(o);
        assert_eq!(rc, code, "{needle}: {}", c.last_error());
        assert!(
            c.last_error().contains(needle),
            "{} should mention {needle}",
            c.last_error()
        );
    }
    assert_eq!(hl_client_cancel(c.0, 0, 5.0), HL_E_NOT_FOUND);
    assert!(
        c.last_error().contains("no such order"),
        "{}",
        c.last_error()
    );
    // SAFETY: null buffers are refused before anything is written.
    assert_eq!(
        unsafe { hl_client_drain(c.0, null_mut(), 4) },
        HL_E_ARGUMENT
    );
    assert_eq!(c.last_error(), "hl_client_drain: null buffer");
    let mut out = [0f64; 2 + 4 * 3];
    // SAFETY: out holds 2 + 4*3 f64.
    assert_eq!(
        unsafe { hl_client_depth(c.0, 9, 3, out.as_mut_ptr()) },
        HL_E_NOT_FOUND
    );
    let mut stats = [0f64; 8];
    // SAFETY: stats holds 8 f64.
    assert_eq!(unsafe { hl_client_stats(c.0, stats.as_mut_ptr(), 8) }, 8);
    assert_eq!(stats[6], 65536.0, "ring capacity");

    assert_eq!(
        c.submit(RawNewOrder { asset: 1, ..raw() }),
        HL_OK,
        "valid on asset 1"
    );
    assert_eq!(c.submit(RawNewOrder { asset: 1, ..raw() }), HL_E_DUPLICATE);
    assert_eq!(c.submit(raw()), HL_OK, "ids are per asset in the core");
    let mut orders = vec![0u8; 64];
    // SAFETY: orders holds one record.
    assert_eq!(
        unsafe { hl_client_orders(c.0, 0, orders.as_mut_ptr(), 1) },
        1
    );
    // SAFETY: as above; a buffer of 0 records is too small for the active order.
    assert_eq!(
        unsafe { hl_client_orders(c.0, 0, orders.as_mut_ptr(), 0) },
        HL_E_BUFFER
    );

    // A pending wait is woken, then close makes later waits fail, and handles go stale.
    let h = c.0;
    let waiter = std::thread::spawn(move || hl_client_wait(h, 60_000));
    std::thread::sleep(Duration::from_millis(20)); // let it park (it returns either way)
    assert_eq!(hl_client_wake(h), HL_OK);
    assert!(waiter.join().unwrap() >= 0);
    assert_eq!(c.close(), HL_OK);
    assert_eq!(
        c.close(),
        HL_E_HANDLE,
        "double close is an error code, not UB"
    );
    assert_eq!(hl_client_wait(h, 1), HL_E_HANDLE);
    assert_eq!(c.submit(raw()), HL_E_HANDLE);
    assert_eq!(c.drain(1), HL_E_HANDLE);
    assert_eq!(hl_abi_version(), ABI_VERSION);
}

#[test]
fn close_wakes_a_pending_wait_with_closed() {
    let name = unique_name("close");
    let c = open(&client_cfg(&name, &["a"], "")).unwrap();
    let h = c.0;
    let waiter = std::thread::spawn(move || {
        // Loop until the wait reports the client gone (records may be ready first).
        loop {
            let rc = hl_client_wait(h, 60_000);
            if rc < 0 {
                return rc;
            }
            std::mem::ManuallyDrop::new(H(h)).drain(64);
        }
    });
    std::thread::sleep(Duration::from_millis(30));
    let start = Instant::now();
    assert_eq!(c.close(), HL_OK);
    let rc = waiter.join().unwrap();
    assert!(rc == HL_E_CLOSED || rc == HL_E_HANDLE, "{rc}");
    assert!(start.elapsed() < Duration::from_secs(2));
}

#[test]
fn stale_handles_stay_stale_and_calls_racing_a_close_are_safe() {
    let name = unique_name("stale");
    let cfg = client_cfg(&name, &["a"], "");
    let mut old = Vec::new();
    for _ in 0..5 {
        let c = open(&cfg).unwrap();
        assert!(!old.contains(&c.0), "a handle is never issued twice");
        old.push(c.0);
        assert_eq!(c.close(), HL_OK);
    }
    let live = open(&cfg).unwrap();
    for h in &old {
        assert_eq!(hl_client_wake(*h), HL_E_HANDLE);
        assert_eq!(std::mem::ManuallyDrop::new(H(*h)).drain(1), HL_E_HANDLE);
    }
    assert_eq!(hl_client_wake(live.0), HL_OK, "the live one is untouched");
    // Threads drain, arm and wait while another closes: each call sees the client or a stale
    // handle, never freed memory.
    let h = live.0;
    let stop = Arc::new(AtomicBool::new(false));
    let racers: Vec<_> = (0..3)
        .map(|k| {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let c = std::mem::ManuallyDrop::new(H(h));
                let mut after_close = 0;
                while after_close < 100 && !stop.load(Ordering::Relaxed) {
                    let rc = match k {
                        0 => c.drain(64),
                        1 => hl_client_arm(h),
                        _ => hl_client_wait(h, 1),
                    };
                    assert!(rc >= 0 || rc == HL_E_HANDLE || rc == HL_E_CLOSED, "{rc}");
                    if rc == HL_E_HANDLE {
                        after_close += 1;
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(live.close(), HL_OK);
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, Ordering::Relaxed);
    for r in racers {
        r.join().unwrap();
    }
}

/// Starts a sim through `hl_sim_start`.
fn sim_start(json: &str) -> Result<u32, (i32, String)> {
    open_with(hl_sim_start, json)
}

#[test]
fn the_sim_and_an_inline_client_through_the_abi() {
    let (rc, msg) = sim_start(r#"{"name":"","instruments":[]}"#).unwrap_err();
    assert_eq!(rc, HL_E_CONFIG);
    assert!(msg.contains("name"), "{msg}");
    let name = unique_name("abisim");
    let sim = sim_start(&format!(
        r#"{{"name":"{name}","seed":3,"rate":2000,"instruments":[{{"symbol":"btcusdt","tick_size":0.1,"lot_size":0.001,"start_price":50000}}]}}"#
    ))
    .unwrap();
    let c = open(&client_cfg(&name, &["btcusdt"], r#","mode":"inline""#)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut trades = 0;
    while trades == 0 && Instant::now() < deadline {
        let (n, buf) = c.poll(256, 20_000);
        assert!(n >= 0, "{n}: {}", c.last_error());
        trades += buf[..n as usize * 64]
            .chunks_exact(64)
            .filter(|r| r[0] == 1)
            .count();
    }
    assert!(trades > 0, "trades inline");
    assert_eq!(
        hl_client_wait(c.0, 1),
        HL_E_STATE,
        "no engine thread to wait for"
    );
    let path = "/tmp/hlt-abi-bell-unused";
    // SAFETY: path is valid for its length.
    let rc = unsafe { hl_client_bell_listen(c.0, path.as_ptr(), path.len() as u32) };
    assert_eq!(rc, HL_E_ARGUMENT, "an inline client has no doorbell");
    let h = c.0;
    let other = std::thread::spawn(move || {
        let c = std::mem::ManuallyDrop::new(H(h));
        let rc = c.poll(4, 1000).0;
        (rc, c.last_error())
    });
    let (rc, msg) = other.join().unwrap();
    assert_eq!(rc, HL_E_STATE, "another thread may not run the engine");
    assert!(msg.contains("thread that opened it"), "{msg}");

    let mut stats = [0f64; 12];
    // SAFETY: stats holds 12 f64.
    assert_eq!(unsafe { hl_sim_stats(sim, stats.as_mut_ptr(), 12) }, 12);
    assert!(
        stats[0] > 0.0 && stats[11] == 1.0,
        "market events, running: {stats:?}"
    );
    let mut book = [0f64; 2 + 4 * 5];
    // SAFETY: book holds 2 + 4*5 f64.
    assert_eq!(unsafe { hl_sim_book(sim, 0, 5, book.as_mut_ptr()) }, HL_OK);
    assert_eq!((book[0], book[1]), (5.0, 5.0));
    // SAFETY: as above.
    assert_eq!(
        unsafe { hl_sim_book(sim, 1, 5, book.as_mut_ptr()) },
        HL_E_NOT_FOUND
    );
    assert_eq!(hl_sim_fault(sim, 99, 0.0), HL_E_ARGUMENT);
    assert_eq!(hl_sim_fault(sim, 1, 1.0), HL_OK);

    // Closed from another thread: the owner thread's handle is stale at once.
    std::thread::spawn(move || assert_eq!(hl_client_close(h), HL_OK))
        .join()
        .unwrap();
    assert_eq!(c.poll(4, 1000).0, HL_E_HANDLE);
    assert_eq!(hl_sim_stop(sim), HL_OK);
    assert_eq!(hl_sim_stop(sim), HL_E_HANDLE);
    // SAFETY: as above.
    assert_eq!(
        unsafe { hl_sim_stats(sim, stats.as_mut_ptr(), 12) },
        HL_E_HANDLE
    );
}

#[cfg(feature = "fault-injection")]
#[test]
fn an_engine_panic_fails_waits_and_polls_with_the_reason_and_refuses_orders() {
    for extra in ["", r#","mode":"inline""#] {
        let name = unique_name("panic");
        let c = open(&client_cfg(&name, &["a"], extra)).unwrap();
        assert_eq!(hl_client_fault(c.0, 7), HL_E_ARGUMENT);
        assert!(c.last_error().contains("kind 7"), "{}", c.last_error());
        // A record of a kind v1 readers do not know, then the panic.
        assert_eq!(hl_client_fault(c.0, 2), HL_OK);
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut unknown = false;
        while !unknown && Instant::now() < deadline {
            let (n, buf) = c.poll(64, 100_000);
            assert!(n >= 0, "{n}");
            unknown = buf[..n as usize * 64]
                .chunks_exact(64)
                .any(|r| r[0] == 0xEE);
        }
        assert!(unknown, "mode {extra:?}: the unknown record arrives");
        assert_eq!(hl_client_fault(c.0, 1), HL_OK);
        // Drain whatever was pushed before the panic, then the failure itself.
        let rc = loop {
            let rc = c.poll(64, 100_000).0;
            if rc < 0 || Instant::now() > deadline {
                break rc;
            }
        };
        assert_eq!(rc, HL_E_ENGINE, "mode {extra:?}: {}", c.last_error());
        assert!(
            c.last_error().contains("panicked: fault injected"),
            "{}",
            c.last_error()
        );
        // It stays failed, and nothing more is sent.
        assert_eq!(c.poll(64, 0).0, HL_E_ENGINE);
        if extra.is_empty() {
            assert_eq!(hl_client_wait(c.0, 1000), HL_E_ENGINE);
        }
        assert_eq!(c.submit(raw()), HL_E_CLOSED);
        assert_eq!(c.close(), HL_OK);
    }
}

#[cfg(not(feature = "fault-injection"))]
#[test]
fn without_the_feature_fault_injection_is_refused_with_a_message() {
    let name = unique_name("nofault");
    let c = open(&client_cfg(&name, &["a"], "")).unwrap();
    assert_eq!(hl_client_fault(c.0, 1), HL_E_STATE);
    assert!(
        c.last_error().contains("without fault injection"),
        "{}",
        c.last_error()
    );
    let (rc, _) = c.poll(16, 0);
    assert!(rc >= 0, "the engine runs on: {rc}");
}

/// Submits resting buys `ids` through the ABI and polls until each is acknowledged.
fn rest_through_abi(c: &H, ids: std::ops::RangeInclusive<u64>) {
    for id in ids.clone() {
        assert_eq!(
            c.submit(common::resting_buy(id).into()),
            HL_OK,
            "{}",
            c.last_error()
        );
    }
    let mut acked = std::collections::HashSet::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while acked.len() < ids.clone().count() {
        assert!(Instant::now() < deadline, "{} acknowledged", acked.len());
        let (n, buf) = c.poll(1024, 20_000);
        assert!(n >= 0, "{n}");
        for r in buf[..n as usize * 64].chunks_exact(64) {
            if common::is_ack(&hftlive::record::RecView(r)) {
                acked.insert(hftlive::record::RecView(r).u(1));
            }
        }
    }
}

const ON_EXIT: &str = r#","cancel_on_exit":true"#;

#[test]
fn a_guarded_client_is_closed_with_its_orders_cancelled_when_its_thread_ends() {
    assert_eq!(hl_client_guard(0xDEAD_BEEF), HL_E_HANDLE);
    let name = unique_name("guard");
    let sim = common::order_sim(&name);
    let cfg = client_cfg(&name, &["btcusdt"], ON_EXIT);
    let h = std::thread::spawn(move || {
        let c = open(&cfg).unwrap();
        assert_eq!(hl_client_guard(c.0), HL_OK);
        assert_eq!(hl_client_guard(c.0), HL_OK, "twice is once");
        rest_through_abi(&c, 1..=20);
        // Left open: the thread ends (a Deno Worker terminated).
        std::mem::ManuallyDrop::new(c).0
    })
    .join()
    .unwrap();
    assert_eq!(
        hl_client_close(h),
        HL_E_HANDLE,
        "closed by the thread's guard"
    );
    assert_eq!(common::sim_resting(&sim, 0, Duration::from_secs(1)), 0);
}

/// Runs in a child process: rests orders through the ABI, then exits without closing.
#[test]
#[ignore = "helper for a_process_exiting_without_close_cancels_through_atexit"]
fn child_exits_without_closing() {
    let Ok(name) = std::env::var("HLT_CHILD_CONNECTOR") else {
        return;
    };
    let c = open(&client_cfg(&name, &["btcusdt"], ON_EXIT)).unwrap();
    rest_through_abi(&c, 1..=20);
    println!("acked");
    std::process::exit(0); // no destructor runs; the atexit handler does
}

#[test]
fn a_process_exiting_without_close_cancels_through_atexit() {
    let name = unique_name("atexit");
    let sim = common::order_sim(&name);
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_exits_without_closing",
            "--ignored",
            "--nocapture",
        ])
        .env("HLT_CHILD_CONNECTOR", &name)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && stdout.contains("acked"), "{stdout}");
    assert_eq!(sim.stats().acks, 20);
    assert_eq!(common::sim_resting(&sim, 0, Duration::from_secs(1)), 0);
    assert_eq!(sim.stats().cancels, 20);
}

#[test]
fn a_full_request_queue_is_backpressure_with_the_bound_in_the_message() {
    let name = unique_name("abibp");
    let sim = common::order_sim(&name);
    sim.fault(hftlive_sim::Fault::DelayMs(2_000));
    sim.book("btcusdt").unwrap(); // behind the fault in the sim's queue: it was applied
    let extra = r#","max_in_flight":1,"max_queued_requests":1"#;
    let c = open(&client_cfg(&name, &["btcusdt"], extra)).unwrap();
    let statuses: Vec<i32> = (1..=3)
        .map(|id| c.submit(common::resting_buy(id).into()))
        .collect();
    assert!(statuses.contains(&HL_E_BACKPRESSURE), "{statuses:?}");
    assert!(
        c.last_error().contains("max_queued_requests"),
        "{}",
        c.last_error()
    );
    let mut stats = [0f64; 16];
    // SAFETY: stats holds 16 f64.
    let n = unsafe { hl_client_stats(c.0, stats.as_mut_ptr(), 16) };
    assert_eq!(n, 16);
    assert!(stats[12] >= 1.0, "refused counted: {stats:?}");
}
