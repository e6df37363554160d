//! iceoryx2 housekeeping shared by every process that speaks hftbacktest's IPC (DESIGN.md
//! point 6): the sim here, and the client core (`hftlive`, which depends on this crate and
//! re-exports these).

use iceoryx2::prelude::{ipc, Config, Node};

/// Creates iceoryx2's directories (its root, `nodes` and `services` under it) before any node
/// is created: creating them concurrently from several processes races (12 of 40 connector
/// starts failed).
pub fn prepare_dirs() {
    let global = &Config::global_config().global;
    for dir in [
        global.root_path().to_string(),
        global.node_dir().to_string(),
        global.service_dir().to_string(),
    ] {
        let _ = std::fs::create_dir_all(dir);
    }
}

/// Removes the stale resources (files in the iceoryx2 root, shared memory in `/dev/shm`) of dead
/// nodes, processes killed without cleanup, with iceoryx2's own `Node::cleanup_dead_nodes`;
/// returns how many nodes it cleaned up.
pub fn cleanup_dead_nodes() -> usize {
    Node::<ipc::Service>::cleanup_dead_nodes(Config::global_config()).cleanups
}
