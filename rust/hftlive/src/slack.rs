//! The timer slack of the calling thread (Linux): how much the kernel may stretch its sleeps to
//! batch wake-ups (50 µs by default, which makes a `sleep(1 ns)` last ~55 µs). Set through
//! `/proc/<tid>/timerslack_ns`, which a thread may write for itself without privileges (the same
//! as `prctl(PR_SET_TIMERSLACK)`, with no `unsafe`).

/// Sets the calling thread's timer slack to `ns` (at least 1); `Err` with the reason when the
/// kernel has no such file or refuses.
pub fn set_timer_slack_ns(ns: u64) -> Result<(), String> {
    let link = std::fs::read_link("/proc/thread-self")
        .map_err(|e| format!("cannot find this thread in /proc: {e}"))?;
    let tid = link
        .file_name()
        .and_then(|t| t.to_str())
        .ok_or_else(|| format!("unexpected /proc/thread-self target {}", link.display()))?
        .to_string();
    let path = format!("/proc/{tid}/timerslack_ns");
    std::fs::write(&path, ns.max(1).to_string()).map_err(|e| format!("cannot write {path}: {e}"))
}

/// The calling thread's timer slack in ns, if readable.
#[cfg(test)]
pub fn timer_slack_ns() -> Option<u64> {
    let link = std::fs::read_link("/proc/thread-self").ok()?;
    let tid = link.file_name()?.to_str()?.to_string();
    std::fs::read_to_string(format!("/proc/{tid}/timerslack_ns"))
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_thread_sets_its_own_timer_slack_only() {
        let before = super::timer_slack_ns();
        std::thread::spawn(|| {
            if super::set_timer_slack_ns(10_000).is_ok() {
                assert_eq!(super::timer_slack_ns(), Some(10_000));
            }
        })
        .join()
        .unwrap();
        assert_eq!(
            super::timer_slack_ns(),
            before,
            "the other thread's is untouched"
        );
    }
}
