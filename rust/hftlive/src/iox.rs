//! iceoryx2 housekeeping: connector liveness, plus the directory preparation and dead-node
//! cleanup every process needs, whose one home is [`hftlive_sim::iox`] (the sim binary needs
//! them without this crate; this crate depends on the sim for its in-process ABI anyway).

use hftbacktest::live::ipc::iceoryx::CustomHeader;
use iceoryx2::{
    node::Node,
    port::port_identifiers::UniquePublisherId,
    prelude::{ipc, CallbackProgression, NodeBuilder, ServiceName},
    service::port_factory::{publish_subscribe::PortFactory as PubSubFactory, PortFactory},
};

pub use hftlive_sim::iox::{cleanup_dead_nodes, prepare_dirs};

/// Watches the publisher side of a connector's `{name}/ToBot` service.
pub struct Liveness {
    _node: Node<ipc::Service>,
    factory: Option<PubSubFactory<ipc::Service, [u8], CustomHeader>>,
    service: String,
}

/// The connector's publisher as seen now.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Peer {
    Down,
    Up(UniquePublisherId),
}

impl Liveness {
    pub fn new(connector: &str) -> Result<Self, String> {
        let node = NodeBuilder::new()
            .signal_handling_mode(iceoryx2::prelude::SignalHandlingMode::Disabled)
            .create::<ipc::Service>()
            .map_err(|e| format!("cannot create iceoryx2 node: {e:?}"))?;
        Ok(Self {
            _node: node,
            factory: None,
            service: format!("{connector}/ToBot"),
        })
    }

    /// The connector's publisher as seen now, and the id of the process that owns it.
    pub fn peer(&mut self) -> (Peer, Option<i32>) {
        if self.factory.is_none() {
            let Ok(name) = ServiceName::new(&self.service) else {
                return (Peer::Down, None);
            };
            self.factory = self
                ._node
                .service_builder(&name)
                .publish_subscribe::<[u8]>()
                .user_header::<CustomHeader>()
                .open()
                .ok();
        }
        let Some(f) = &self.factory else {
            return (Peer::Down, None);
        };
        let mut peer = (Peer::Down, None);
        f.dynamic_config().list_publishers(|d| {
            peer = (Peer::Up(d.publisher_id), Some(d.node_id.pid().value()));
            CallbackProgression::Stop
        });
        peer
    }
}

/// Whether process `pid` exists as this process sees it (`/proc/<pid>`). A process in another
/// pid namespace may look gone (or another process may have its number): callers only use this
/// to decide to run the full dead-node cleanup earlier, which decides for itself.
pub fn process_exists(pid: i32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(test)]
mod tests {
    #[test]
    fn process_exists_sees_this_process_and_not_a_free_number() {
        assert!(super::process_exists(std::process::id() as i32));
        // Above Linux's pid_max limit (2^22): never a process.
        assert!(!super::process_exists(5_000_000));
    }
}
