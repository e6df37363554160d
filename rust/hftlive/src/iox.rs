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
