//! Client configuration, parsed from JSON (`rust/ABI.md`).

use serde::Deserialize;

/// How an instrument's book is kept.
#[derive(Deserialize, Debug, Clone, PartialEq)]
#[serde(untagged)]
pub enum DepthKind {
    /// `"hashmap"`: hftbacktest's `HashMapMarketDepth`.
    Named(String),
    /// `{ "roi": [lower, upper] }`: hftbacktest's `ROIVectorMarketDepth`.
    Roi { roi: [f64; 2] },
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct InstrumentConfig {
    pub connector: String,
    pub symbol: String,
    pub tick_size: f64,
    pub lot_size: f64,
    #[serde(default)]
    pub depth: Option<DepthKind>,
}

/// What the engine thread does when there is nothing to read.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum EngineWait {
    /// Busy-poll with a CPU spin hint: lowest latency, a whole core.
    Spin,
    /// Busy-poll with `sched_yield`: low latency, a whole core unless others need it.
    Yield,
    /// `nanosleep` of `engine_sleep_ns` (Linux stretches short sleeps to the timer slack, ≈50 µs).
    Sleep,
    /// What hftbacktest's `IceoryxUnifiedChannel` does: `node.wait(1 ns)` on every poll.
    NodeWait,
    /// Yield for `engine_spin_us` after the last activity, then sleep: the default.
    #[default]
    Adaptive,
}

/// Where the engine runs.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// A dedicated engine thread per client (stream mode; any thread may drain).
    #[default]
    Thread,
    /// No engine thread: `hl_client_poll` runs the engine on the thread that opened the client
    /// (hot-loop mode, the lowest latency: no hand-off between threads).
    Inline,
}

fn default_ring() -> usize {
    65536
}
fn default_spin_us() -> u64 {
    50
}
fn default_engine_spin_us() -> u64 {
    200
}
fn default_sleep_ns() -> u64 {
    1
}
fn default_register_ms() -> u64 {
    500
}
fn default_liveness_ms() -> u64 {
    100
}
fn default_cleanup_ms() -> u64 {
    5000
}
fn default_max_queued() -> usize {
    1_000_000
}
fn default_request_timeout_ms() -> u64 {
    10_000
}
fn default_exit_timeout_ms() -> u64 {
    5_000
}

/// The largest ring a client may ask for (2^24 records of 64 bytes, 1 GiB): a larger one
/// aborted the process allocating.
pub const MAX_RING_CAPACITY: usize = 1 << 24;

/// The longest connector name: hftbacktest's service names are `{name}/FromBot` and
/// `{name}/ToBot`, and iceoryx2 allows 255 bytes.
pub const MAX_CONNECTOR_NAME: usize = 247;

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ClientConfig {
    pub instruments: Vec<InstrumentConfig>,
    #[serde(default)]
    pub depth: Option<DepthKind>,
    #[serde(default = "default_ring")]
    pub ring_capacity: usize,
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub engine_wait: EngineWait,
    #[serde(default = "default_engine_spin_us")]
    pub engine_spin_us: u64,
    #[serde(default = "default_sleep_ns")]
    pub engine_sleep_ns: u64,
    #[serde(default = "default_spin_us")]
    pub poll_spin_us: u64,
    #[serde(default = "default_register_ms")]
    pub register_interval_ms: u64,
    #[serde(default = "default_liveness_ms")]
    pub liveness_interval_ms: u64,
    /// Period of the full iceoryx2 dead-node cleanup (it lists every node on the machine); it
    /// also runs at once when a connector's publisher belongs to a process that is gone. 0: at
    /// every liveness check (what earlier versions did).
    #[serde(default = "default_cleanup_ms")]
    pub liveness_cleanup_ms: u64,
    #[serde(default)]
    pub bot_id: Option<u64>,
    /// Timer slack of the engine's thread in ns (for an inline client: of the thread that polls
    /// it); unset: the thread's own (Linux: 50 µs, which stretches the adaptive wait's sleeps
    /// to ~55 µs).
    #[serde(default)]
    pub engine_timer_slack_ns: Option<u64>,
    /// Requests (submits, cancels) awaiting the connector's answer at most, per connector;
    /// default half the connector's IPC buffer (`rust/ABI.md`, "The order path").
    #[serde(default)]
    pub max_in_flight: Option<usize>,
    /// Requests waiting in the core to be sent at most; one more is refused (`Backpressure`).
    #[serde(default = "default_max_queued")]
    pub max_queued_requests: usize,
    /// A request the connector has not answered after this long frees its place in the window
    /// and is reported.
    #[serde(default = "default_request_timeout_ms")]
    pub request_timeout_ms: u64,
    /// Orders a connector reports in this client's registration answer that the client does not
    /// know become this client's (the orders a dead client left).
    #[serde(default = "default_true")]
    pub adopt_orders: bool,
    /// Cancel every active order when the client closes, its engine fails, the thread that
    /// guards it ends, or the process exits.
    #[serde(default)]
    pub cancel_on_exit: bool,
    /// How long cancel on exit waits for the answers at most.
    #[serde(default = "default_exit_timeout_ms")]
    pub exit_timeout_ms: u64,
}

fn default_true() -> bool {
    true
}

impl ClientConfig {
    /// Parses and validates a configuration.
    pub fn parse(json: &str) -> Result<Self, String> {
        let cfg: ClientConfig =
            serde_json::from_str(json).map_err(|e| format!("invalid client configuration: {e}"))?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), String> {
        if self.instruments.is_empty() {
            return Err("invalid client configuration: instruments is empty".into());
        }
        if self.instruments.len() >= 0xFFFF {
            return Err("invalid client configuration: too many instruments".into());
        }
        if !self.ring_capacity.is_power_of_two()
            || !(64..=MAX_RING_CAPACITY).contains(&self.ring_capacity)
        {
            return Err(format!(
                "invalid client configuration: ring_capacity {} is not a power of two in \
                 [64, 2^24]",
                self.ring_capacity
            ));
        }
        if self.max_in_flight == Some(0) {
            return Err("invalid client configuration: max_in_flight 0 would never send".into());
        }
        if self.max_queued_requests == 0 {
            return Err(
                "invalid client configuration: max_queued_requests 0 would refuse every order"
                    .into(),
            );
        }
        if self.request_timeout_ms == 0 {
            return Err("invalid client configuration: request_timeout_ms must be >= 1".into());
        }
        if self.bot_id == Some(0) {
            return Err("invalid client configuration: bot_id 0 is reserved (TO_ALL)".into());
        }
        for (i, inst) in self.instruments.iter().enumerate() {
            let what = format!("instrument {i} ({}/{})", inst.connector, inst.symbol);
            if inst.connector.is_empty() || inst.symbol.is_empty() {
                return Err(format!(
                    "invalid {what}: connector and symbol must not be empty"
                ));
            }
            if inst.connector.len() > MAX_CONNECTOR_NAME {
                return Err(format!(
                    "invalid instrument {i}: connector name of {} bytes is longer than \
                     {MAX_CONNECTOR_NAME} (its IPC service \"{{name}}/FromBot\" would pass \
                     iceoryx2's 255 bytes)",
                    inst.connector.len()
                ));
            }
            if !(inst.tick_size.is_finite() && inst.tick_size > 0.0) {
                return Err(format!(
                    "invalid {what}: tick_size {} is not a positive number",
                    inst.tick_size
                ));
            }
            if !(inst.lot_size.is_finite() && inst.lot_size > 0.0) {
                return Err(format!(
                    "invalid {what}: lot_size {} is not a positive number",
                    inst.lot_size
                ));
            }
            if self.instruments[..i]
                .iter()
                .any(|o| o.connector == inst.connector && o.symbol == inst.symbol)
            {
                return Err(format!("invalid {what}: listed twice"));
            }
            match self.depth_of(i) {
                DepthKind::Named(n) if n == "hashmap" => {}
                DepthKind::Named(n) => {
                    return Err(format!(
                        "invalid {what}: depth \"{n}\" is not \"hashmap\" or {{\"roi\": [lower, upper]}}"
                    ))
                }
                DepthKind::Roi { roi: [lo, hi] } => {
                    if !(lo.is_finite() && hi.is_finite() && lo >= 0.0 && lo < hi) {
                        return Err(format!("invalid {what}: roi [{lo}, {hi}] is not a range 0 <= lower < upper"));
                    }
                    if (hi - lo) / inst.tick_size > 50_000_000.0 {
                        return Err(format!("invalid {what}: roi [{lo}, {hi}] spans more than 50M ticks"));
                    }
                }
            }
        }
        Ok(())
    }

    /// The depth kind for instrument `i` (its own, else the client's, else hashmap).
    pub fn depth_of(&self, i: usize) -> DepthKind {
        self.instruments[i]
            .depth
            .clone()
            .or_else(|| self.depth.clone())
            .unwrap_or(DepthKind::Named("hashmap".into()))
    }
}
