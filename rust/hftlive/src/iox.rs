//! iceoryx2 housekeeping: directories, dead-node cleanup, connector liveness.

use hftbacktest::live::ipc::iceoryx::CustomHeader;
use iceoryx2::{
    config::Config,
    node::{Node, NodeState},
    port::port_identifiers::UniquePublisherId,
    prelude::{ipc, CallbackProgression, NodeBuilder, ServiceName},
    service::port_factory::{publish_subscribe::PortFactory as PubSubFactory, PortFactory},
};

/// Creates the directories iceoryx2 uses before any node is created (creating them
/// concurrently from several processes races; DESIGN.md point 6).
pub fn prepare_dirs() {
    let global = &Config::global_config().global;
    for dir in [global.service_dir(), global.node_dir()] {
        let _ = std::fs::create_dir_all(dir.to_string());
    }
}

/// Removes the resources of dead iceoryx2 nodes (processes killed without cleanup).
/// Returns how many were removed.
pub fn cleanup_dead_nodes() -> usize {
    let mut removed = 0;
    let _ = Node::<ipc::Service>::list(Config::global_config(), |state| {
        if let NodeState::Dead(view) = state {
            if let Ok(true) = view.remove_stale_resources() {
                removed += 1;
            }
        }
        CallbackProgression::Continue
    });
    removed
}

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

    pub fn peer(&mut self) -> Peer {
        if self.factory.is_none() {
            let Ok(name) = ServiceName::new(&self.service) else {
                return Peer::Down;
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
            return Peer::Down;
        };
        let mut peer = Peer::Down;
        f.dynamic_config().list_publishers(|d| {
            peer = Peer::Up(d.publisher_id);
            CallbackProgression::Stop
        });
        peer
    }
}
