//! iceoryx2 housekeeping: connector liveness, hftbacktest's channel configuration, the limits of
//! its IPC as specific errors, plus the directory preparation and dead-node cleanup every
//! process needs, whose one home is [`hftlive_sim::iox`] (the sim binary needs them without this
//! crate; this crate depends on the sim for its in-process ABI anyway).

use hftbacktest::live::ipc::iceoryx::CustomHeader;
use iceoryx2::{
    config::Config,
    node::Node,
    port::port_identifiers::UniquePublisherId,
    prelude::{ipc, CallbackProgression, NodeBuilder, ServiceName},
    service::port_factory::{publish_subscribe::PortFactory as PubSubFactory, PortFactory},
};
use serde::Deserialize;

use crate::error::{Error, ErrorKind};

pub use hftlive_sim::iox::{cleanup_dead_nodes, prepare_dirs};

/// The environment variable naming hftbacktest's channel configuration file.
pub const CHANNEL_CONFIG_VAR: &str = "HFTBACKTEST_CHANNEL_CONFIG";

/// hftbacktest's IPC channel configuration (`HFTBACKTEST_CHANNEL_CONFIG`, TOML).
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelConfig {
    /// Messages a subscriber's buffer holds (the connector's buffer of requests from one bot).
    pub buffer_size: usize,
    /// Bots per connector.
    pub max_bots: usize,
}

/// hftbacktest's defaults, used when `HFTBACKTEST_CHANNEL_CONFIG` is not set.
pub const DEFAULT_CHANNEL: ChannelConfig = ChannelConfig {
    buffer_size: 10_000,
    max_bots: 200,
};

impl ChannelConfig {
    /// The configuration in effect for this process: the file `HFTBACKTEST_CHANNEL_CONFIG`
    /// names, or `None` when it is not set. hftbacktest silently falls back to its defaults when
    /// that file cannot be read, is not TOML or lacks a key, so the connector and the client
    /// could disagree without a word: here that is a `Config` error.
    pub fn from_env() -> Result<Option<Self>, Error> {
        match std::env::var_os(CHANNEL_CONFIG_VAR) {
            None => Ok(None),
            Some(path) => Self::read(&path.to_string_lossy()).map(Some),
        }
    }

    /// Reads and checks a channel configuration file.
    pub fn read(path: &str) -> Result<Self, Error> {
        let bad = |why: String| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "invalid channel configuration {CHANNEL_CONFIG_VAR}={path:?}: {why} \
                     (hftbacktest would silently use buffer_size = 10000, max_bots = 200, which \
                     the connector may not)"
                ),
            )
        };
        let text =
            std::fs::read_to_string(path).map_err(|e| bad(format!("cannot read it: {e}")))?;
        Self::parse(&text).map_err(bad)
    }

    /// Parses the TOML text of a channel configuration: `buffer_size` and `max_bots`, both
    /// required and positive.
    pub fn parse(text: &str) -> Result<Self, String> {
        let cfg: ChannelConfig = toml::from_str(text).map_err(|e| {
            let msg = e.message().to_string();
            format!("not a TOML table with integer keys buffer_size and max_bots: {msg}")
        })?;
        if cfg.buffer_size == 0 || cfg.max_bots == 0 {
            return Err(format!(
                "buffer_size ({}) and max_bots ({}) must be at least 1",
                cfg.buffer_size, cfg.max_bots
            ));
        }
        Ok(cfg)
    }
}

/// Nodes iceoryx2 lets open one service (its configuration's default, 20).
pub fn max_nodes_per_service() -> usize {
    Config::global_config().defaults.publish_subscribe.max_nodes
}

/// The error of a failure to open connector `name`'s IPC, from iceoryx2's text: a `Limit` for
/// each limit of hftbacktest's IPC (with what to do), `Ipc` for anything else.
pub fn open_error(name: &str, channel: &ChannelConfig, detail: &str) -> Error {
    let (buffer, bots) = (channel.buffer_size, channel.max_bots);
    let same = format!(
        "{CHANNEL_CONFIG_VAR} (buffer_size, max_bots) must be the same for the connector and \
         every client; this process uses buffer_size = {buffer}, max_bots = {bots}"
    );
    let why = if detail.contains("ExceedsMaxNumberOfNodes") {
        let n = max_nodes_per_service();
        format!(
            "its IPC services are full: iceoryx2 allows {n} nodes per service; the connector \
             takes 1, an hftbacktest bot 1 and an hftlive client 2 (its channel and its liveness \
             check), so at most {} hftlive clients can use one connector at once. Close another \
             client of this connector",
            (n.saturating_sub(1)) / 2
        )
    } else if detail.contains("DoesNotSupportRequestedMinBufferSize")
        || detail.contains("BufferSizeExceedsMaxSupportedBufferSizeOfService")
    {
        format!("the connector's channel buffer is smaller than this process's: {same}")
    } else if detail.contains("DoesNotSupportRequestedAmountOfPublishers")
        || detail.contains("DoesNotSupportRequestedAmountOfSubscribers")
    {
        format!("the connector was started with a smaller max_bots than this process's: {same}")
    } else if detail.contains("ExceedsMaxSupportedPublishers")
        || detail.contains("ExceedsMaxSupportedSubscribers")
    {
        format!(
            "{bots} bots (max_bots) already use this connector; close one, or raise max_bots in \
             {CHANNEL_CONFIG_VAR} for the connector and every client"
        )
    } else {
        return Error::new(
            ErrorKind::Ipc,
            format!("cannot open the IPC channel of connector \"{name}\": {detail}"),
        );
    };
    Error::new(
        ErrorKind::Limit,
        format!("Cannot open connector \"{name}\": {why} (iceoryx2: {detail})"),
    )
}

type Factory = PubSubFactory<ipc::Service, [u8], CustomHeader>;

/// Watches a connector's services: its publisher on `{name}/ToBot` and its subscriber on
/// `{name}/FromBot`.
pub struct Liveness {
    _node: Node<ipc::Service>,
    to_bot: Factory,
    from_bot: Factory,
}

/// The connector as seen now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peer {
    Down,
    Up(UniquePublisherId),
}

impl Liveness {
    /// Opens both services (the client's own channel created them, so they exist) on a node of
    /// its own. Fails with `Limit` when iceoryx2's nodes per service are taken.
    pub fn open(connector: &str, channel: &ChannelConfig) -> Result<Self, Error> {
        let node = NodeBuilder::new()
            .signal_handling_mode(iceoryx2::prelude::SignalHandlingMode::Disabled)
            .create::<ipc::Service>()
            .map_err(|e| {
                Error::new(
                    ErrorKind::Ipc,
                    format!("cannot create iceoryx2 node: {e:?}"),
                )
            })?;
        let open = |suffix: &str| -> Result<Factory, Error> {
            let service = format!("{connector}/{suffix}");
            let name = ServiceName::new(&service).map_err(|e| {
                Error::new(
                    ErrorKind::Config,
                    format!("invalid service name {service:?}: {e:?}"),
                )
            })?;
            node.service_builder(&name)
                .publish_subscribe::<[u8]>()
                .user_header::<CustomHeader>()
                .open()
                .map_err(|e| open_error(connector, channel, &format!("{service}: {e}")))
        };
        let to_bot = open("ToBot")?;
        let from_bot = open("FromBot")?;
        Ok(Self {
            _node: node,
            to_bot,
            from_bot,
        })
    }

    /// Up (with its publisher's id) when the connector publishes on ToBot and subscribes to
    /// FromBot; Down otherwise (nothing sent would reach it). With the id of the process that
    /// owns the publisher.
    pub fn peer(&self) -> (Peer, Option<i32>) {
        if !self.subscribed() {
            return (Peer::Down, None);
        }
        let mut peer = (Peer::Down, None);
        self.to_bot.dynamic_config().list_publishers(|d| {
            peer = (Peer::Up(d.publisher_id), Some(d.node_id.pid().value()));
            CallbackProgression::Stop
        });
        peer
    }

    /// Whether the connector subscribes to FromBot (a request sent now reaches it).
    pub fn subscribed(&self) -> bool {
        self.from_bot.dynamic_config().number_of_subscribers() > 0
    }

    /// The buffer size of the connector's FromBot subscriber: how many requests of this bot it
    /// holds before iceoryx2's safe overflow replaces the oldest.
    pub fn connector_buffer(&self) -> Option<usize> {
        let mut size = None;
        self.from_bot.dynamic_config().list_subscribers(|d| {
            size = Some(d.buffer_size);
            CallbackProgression::Stop
        });
        size
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_configs_need_both_keys_as_positive_integers() {
        assert_eq!(
            ChannelConfig::parse("buffer_size = 4096\nmax_bots = 16\n"),
            Ok(ChannelConfig {
                buffer_size: 4096,
                max_bots: 16
            })
        );
        for (text, needle) in [
            ("buffer_size = 4096\n", "max_bots"),
            ("max_bots = 4\n", "buffer_size"),
            ("buffer_size = \"big\"\nmax_bots = 4", "buffer_size"),
            ("buffer_size = [", "TOML"),
            ("buffer_size = 0\nmax_bots = 4", "at least 1"),
        ] {
            let e = ChannelConfig::parse(text).unwrap_err();
            assert!(e.contains(needle), "{text:?}: {e}");
        }
        let e = ChannelConfig::read("/nonexistent/channel.toml").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::Config);
        assert!(e.to_string().contains("cannot read it"), "{e}");
    }

    #[test]
    fn ipc_limits_become_limit_errors_that_say_what_to_do() {
        let ch = DEFAULT_CHANNEL;
        for (detail, needle) in [
            ("X(ExceedsMaxNumberOfNodes)", "at most 9 hftlive clients"),
            (
                "X(DoesNotSupportRequestedMinBufferSize)",
                "buffer is smaller",
            ),
            (
                "X(DoesNotSupportRequestedAmountOfPublishers)",
                "smaller max_bots",
            ),
            (
                "PublisherCreateError::ExceedsMaxSupportedPublishers",
                "200 bots",
            ),
        ] {
            let e = open_error("bf", &ch, detail);
            assert_eq!(e.kind(), ErrorKind::Limit, "{detail}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(e.to_string().contains(detail), "{e}");
        }
        assert_eq!(open_error("bf", &ch, "boom").kind(), ErrorKind::Ipc);
    }
}

/// Whether process `pid` exists as this process sees it (`/proc/<pid>`). A process in another
/// pid namespace may look gone (or another process may have its number): callers only use this
/// to decide to run the full dead-node cleanup earlier, which decides for itself.
pub fn process_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod pid_tests {
    #[test]
    fn process_exists_sees_this_process_and_not_a_free_number() {
        assert!(super::process_exists(std::process::id() as i32));
        // Above Linux's pid_max limit (2^22): never a process.
        assert!(!super::process_exists(5_000_000));
    }
}
