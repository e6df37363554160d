//! Every limit of hftbacktest's IPC is a specific error at open, never a silent wait: nodes per
//! service (clients per connector), bots per connector, a buffer size or max_bots different from
//! the connector's (`HL_E_LIMIT`); a channel configuration that cannot be used, a connector name
//! too long, a ring too large (`HL_E_CONFIG`). Cases that need another channel configuration
//! run in a child process with its own environment.

mod common;

use std::{
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
};

use common::*;
use hftlive::{
    abi::{status_of, HL_E_CONFIG, HL_E_LIMIT},
    iox::{ChannelConfig, CHANNEL_CONFIG_VAR, DEFAULT_CHANNEL},
    Client, Error, ErrorKind,
};

fn open_err(cfg: &str) -> Error {
    match Client::open(cfg) {
        Ok(c) => {
            c.close();
            panic!("opened: {cfg}")
        }
        Err(e) => e,
    }
}

#[test]
fn the_tenth_client_of_a_connector_is_a_limit_error_that_names_the_limit() {
    let name = unique_name("nodes");
    let _sim = order_sim(&name);
    let cfg = client_cfg(&name, &["btcusdt"], "");
    let nine: Vec<Client> = (0..9).map(|_| Client::open(&cfg).unwrap()).collect();
    let e = open_err(&cfg);
    assert_eq!((e.kind(), status_of(&e)), (ErrorKind::Limit, HL_E_LIMIT));
    let msg = e.to_string();
    for needle in [
        "20 nodes per service",
        "an hftlive client 2",
        "at most 9 hftlive clients",
    ] {
        assert!(msg.contains(needle), "{msg}");
    }
    // Closing one makes room again.
    nine[0].close();
    Client::open(&cfg).unwrap().close();
    for c in nine {
        c.close();
    }
}

#[test]
fn long_connector_names_and_huge_rings_are_configuration_errors() {
    let long = "n".repeat(248);
    let e = open_err(&client_cfg(&long, &["btcusdt"], ""));
    assert_eq!(status_of(&e), HL_E_CONFIG);
    assert!(e.to_string().contains("longer than 247"), "{e}");
    let ok = format!("{}-{}", unique_name("l"), "n".repeat(247));
    let ok = &ok[..247];
    Client::open(&client_cfg(ok, &["btcusdt"], ""))
        .unwrap()
        .close();
    let e = open_err(&client_cfg(
        ok,
        &["btcusdt"],
        r#","ring_capacity":33554432"#,
    ));
    assert_eq!(status_of(&e), HL_E_CONFIG);
    assert!(e.to_string().contains("[64, 2^24]"), "{e}");
}

/// This process's channel configuration (what a client here asks of a connector).
fn ours() -> ChannelConfig {
    ChannelConfig::from_env()
        .unwrap()
        .unwrap_or(DEFAULT_CHANNEL)
}

/// Runs test `helper` of this binary in a child process with a channel configuration file of
/// `toml`, and the connector name in `HLT_CHILD_CONNECTOR`.
fn child(helper: &str, name: &str, toml: &str) -> Command {
    let path = std::env::temp_dir().join(format!("{name}.toml"));
    std::fs::write(&path, toml).unwrap();
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--exact", helper, "--ignored", "--nocapture"])
        .env(CHANNEL_CONFIG_VAR, &path)
        .env("HLT_CHILD_CONNECTOR", name);
    cmd
}

/// Child: runs a sim under its own channel configuration until its stdin closes.
#[test]
#[ignore = "helper for the mismatch tests"]
fn child_runs_a_sim() {
    let Ok(name) = std::env::var("HLT_CHILD_CONNECTOR") else {
        return;
    };
    let sim = order_sim(&name);
    println!("ready");
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    sim.stop();
}

/// Opens a client on a sim run by a child process with channel configuration `toml`.
fn open_against(tag: &str, toml: &str) -> Error {
    let name = unique_name(tag);
    let mut sim = child("child_runs_a_sim", &name, toml)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(sim.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("ready") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the sim's process ended"
        );
    }
    let e = open_err(&client_cfg(&name, &["btcusdt"], ""));
    let _ = sim.stdin.take().unwrap().write_all(b"stop\n");
    assert!(sim.wait().unwrap().success());
    e
}

#[test]
fn a_connector_with_a_smaller_buffer_is_a_limit_error() {
    let toml = format!("buffer_size = 64\nmax_bots = {}\n", ours().max_bots);
    let e = open_against("buf", &toml);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    let msg = e.to_string();
    assert!(msg.contains("channel buffer is smaller"), "{msg}");
    assert!(msg.contains(CHANNEL_CONFIG_VAR), "{msg}");
}

#[test]
fn a_connector_with_fewer_bots_is_a_limit_error() {
    let toml = format!("buffer_size = {}\nmax_bots = 1\n", ours().buffer_size);
    let e = open_against("bots", &toml);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(e.to_string().contains("smaller max_bots"), "{e}");
}

/// Child: with max_bots = 2, a third client of one connector is refused.
#[test]
#[ignore = "helper for a_bot_beyond_max_bots_is_a_limit_error"]
fn child_opens_three_bots() {
    let Ok(name) = std::env::var("HLT_CHILD_CONNECTOR") else {
        return;
    };
    let _sim = order_sim(&name);
    let cfg = client_cfg(&name, &["btcusdt"], "");
    let two = [Client::open(&cfg).unwrap(), Client::open(&cfg).unwrap()];
    let e = open_err(&cfg);
    assert_eq!(e.kind(), ErrorKind::Limit, "{e}");
    assert!(
        e.to_string().contains("2 bots (max_bots) already use"),
        "{e}"
    );
    for c in two {
        c.close();
    }
    println!("refused");
}

#[test]
fn a_bot_beyond_max_bots_is_a_limit_error() {
    let name = unique_name("max");
    let out = child(
        "child_opens_three_bots",
        &name,
        "buffer_size = 256\nmax_bots = 2\n",
    )
    .output()
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("refused"),
        "{stdout}\n{stderr}"
    );
}

/// Child: every client open fails on this process's channel configuration file.
#[test]
#[ignore = "helper for an_unusable_channel_configuration_is_a_configuration_error"]
fn child_opens_with_a_bad_channel_configuration() {
    let Ok(name) = std::env::var("HLT_CHILD_CONNECTOR") else {
        return;
    };
    let e = open_err(&client_cfg(&name, &["btcusdt"], ""));
    assert_eq!(e.kind(), ErrorKind::Config, "{e}");
    println!("{e}");
}

#[test]
fn an_unusable_channel_configuration_is_a_configuration_error() {
    for (toml, needle) in [
        ("buffer_size = 4096\n", "max_bots"),
        ("buffer_size = 4096\nmax_bots = \"x\"\n", "max_bots"),
        ("not toml at all [", "TOML"),
    ] {
        let name = unique_name("chcfg");
        let out = child("child_opens_with_a_bad_channel_configuration", &name, toml)
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{toml:?}: {stdout}");
        assert!(
            stdout.contains(needle) && stdout.contains(CHANNEL_CONFIG_VAR),
            "{stdout}"
        );
    }
    let name = unique_name("chcfg");
    let out = child("child_opens_with_a_bad_channel_configuration", &name, "")
        .env(CHANNEL_CONFIG_VAR, "/nonexistent/channel.toml")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("cannot read it"),
        "{stdout}"
    );
}
