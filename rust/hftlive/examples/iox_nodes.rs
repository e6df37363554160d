//! Lists iceoryx2 nodes as `alive <pid>` / `dead <pid>` lines (used by scripts/test.sh to
//! check that the tests left nothing behind).

use iceoryx2::{
    config::Config,
    node::{Node, NodeState, NodeView},
    prelude::{ipc, CallbackProgression},
};

fn main() {
    let _ = Node::<ipc::Service>::list(Config::global_config(), |s| {
        match &s {
            NodeState::Alive(v) => println!("alive {}", v.id().pid().value()),
            NodeState::Dead(v) => println!("dead {}", v.id().pid().value()),
            NodeState::Inaccessible(_) => println!("inaccessible 0"),
            NodeState::Undefined(_) => println!("undefined 0"),
        }
        CallbackProgression::Continue
    });
}
