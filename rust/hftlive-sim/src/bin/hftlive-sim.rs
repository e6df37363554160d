//! `hftlive-sim`: the sim connector as a process.
//!
//! ```text
//! hftlive-sim <name> [--seed N] [--rate R] [--levels L] [--trade-ratio X] [--fuse-deletions]
//!             [--poll-us U] [--arrivals periodic|poisson] [--burst N]
//!             [--symbol S --tick T --lot L --price P [--replay FILE]...]...
//!             [--replay FILE]... [--replay-speed X]
//! hftlive-sim <name> --config sim.json      (JSON as SimConfig; <name> overrides its name)
//!
//! `--replay FILE` (repeatable, in order) replays recorded `.npz` files for the instrument of the
//! `--symbol` before it (or the only one) at `--replay-speed` times the recorded speed (default
//! 1; 0 = as fast as possible) instead of the random walk.
//! ```
//!
//! Prints `ready <name>` on stdout once its IPC ports exist, runs until SIGINT/SIGTERM, then
//! drops its ports and exits 0.

use std::{collections::HashMap, io::Write, process::ExitCode, time::Duration};

use hftlive_sim::{
    iox::{cleanup_dead_nodes, prepare_dirs},
    ReplayConfig, ReplayFiles, Sim, SimConfig, SimInstrument,
};
use iceoryx2::prelude::{ipc, NodeBuilder};

const USAGE: &str = "usage: hftlive-sim <name> [--seed N] [--rate R] [--levels L] \
[--trade-ratio X] [--fuse-deletions] [--poll-us U] [--arrivals periodic|poisson] [--burst N] \
[--symbol S --tick T --lot L --price P [--replay FILE]...]... [--replay FILE]... \
[--replay-speed X]\n       \
hftlive-sim <name> --config sim.json";

fn parse_args(args: &[String]) -> Result<SimConfig, String> {
    let mut it = args.iter();
    let name = match it.next() {
        Some(n) if !n.starts_with("--") => n.clone(),
        _ => return Err("missing connector name".into()),
    };
    let mut config = SimConfig::new(&name, Vec::new());
    let mut from_file: Option<SimConfig> = None;
    let mut instruments: Vec<SimInstrument> = Vec::new();
    // (symbol it follows, if any; file), in order.
    let mut replay: Vec<(Option<String>, String)> = Vec::new();
    let mut speed: f64 = 1.0;
    fn value<'a>(
        it: &mut impl Iterator<Item = &'a String>,
        flag: &str,
    ) -> Result<&'a String, String> {
        it.next().ok_or_else(|| format!("{flag} needs a value"))
    }
    fn num<T: std::str::FromStr>(s: &str, flag: &str) -> Result<T, String> {
        s.parse()
            .map_err(|_| format!("{flag}: invalid number {s:?}"))
    }
    fn current<'a>(
        instruments: &'a mut [SimInstrument],
        flag: &str,
    ) -> Result<&'a mut SimInstrument, String> {
        instruments
            .last_mut()
            .ok_or_else(|| format!("{flag} must follow --symbol"))
    }
    while let Some(flag) = it.next() {
        match flag.as_str() {
            "--config" => {
                let path = value(&mut it, flag)?;
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {path}: {e}"))?;
                from_file = Some(SimConfig::from_json(&text)?);
            }
            "--seed" => config.seed = num(value(&mut it, flag)?, flag)?,
            "--rate" => config.rate = num(value(&mut it, flag)?, flag)?,
            "--levels" => config.levels = num(value(&mut it, flag)?, flag)?,
            "--trade-ratio" => config.trade_ratio = num(value(&mut it, flag)?, flag)?,
            "--poll-us" => config.poll_us = num(value(&mut it, flag)?, flag)?,
            "--stale-after-ms" => config.stale_after_ms = num(value(&mut it, flag)?, flag)?,
            "--fuse-deletions" => config.fuse_deletions = true,
            "--no-depth-batches" => config.depth_batches = false,
            "--arrivals" => config.arrivals = value(&mut it, flag)?.parse()?,
            "--burst" => config.burst = num(value(&mut it, flag)?, flag)?,
            "--symbol" => instruments.push(SimInstrument {
                symbol: value(&mut it, flag)?.clone(),
                tick_size: 0.1,
                lot_size: 0.001,
                start_price: 50_000.0,
            }),
            "--tick" => {
                let v = num(value(&mut it, flag)?, flag)?;
                current(&mut instruments, flag)?.tick_size = v;
            }
            "--lot" => {
                let v = num(value(&mut it, flag)?, flag)?;
                current(&mut instruments, flag)?.lot_size = v;
            }
            "--price" => {
                let v = num(value(&mut it, flag)?, flag)?;
                current(&mut instruments, flag)?.start_price = v;
            }
            "--replay" => {
                let file = value(&mut it, flag)?.clone();
                replay.push((instruments.last().map(|i| i.symbol.clone()), file));
            }
            "--replay-speed" => speed = num(value(&mut it, flag)?, flag)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if let Some(mut file) = from_file {
        file.name = name;
        file.instruments.extend(instruments);
        return Ok(file);
    }
    if !replay.is_empty() {
        let files = if replay.iter().all(|(s, _)| s.is_none()) {
            ReplayFiles::List(replay.into_iter().map(|(_, f)| f).collect())
        } else {
            let mut by: HashMap<String, Vec<String>> = HashMap::new();
            for (s, f) in replay {
                let s = s.ok_or("--replay before the first --symbol: put it after one")?;
                by.entry(s).or_default().push(f);
            }
            ReplayFiles::BySymbol(by)
        };
        config.replay = Some(ReplayConfig { files, speed });
    }
    if instruments.is_empty() {
        instruments.push(SimInstrument {
            symbol: "btcusdt".into(),
            tick_size: 0.1,
            lot_size: 0.001,
            start_price: 50_000.0,
        });
    }
    config.instruments = instruments;
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse_args(&args) {
        Ok(c) => c,
        Err(msg) => {
            if !msg.is_empty() {
                eprintln!("hftlive-sim: {msg}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    prepare_dirs();
    let cleaned = cleanup_dead_nodes();
    if cleaned > 0 {
        eprintln!("hftlive-sim: removed the stale resources of {cleaned} dead iceoryx2 node(s)");
    }
    // A node whose only job is to turn SIGINT/SIGTERM into a clean shutdown (iceoryx2 installs
    // the handler; `wait` reports the termination request).
    let node = match NodeBuilder::new().create::<ipc::Service>() {
        Ok(n) => n,
        Err(e) => {
            eprintln!("hftlive-sim: cannot create an iceoryx2 node: {e:?}");
            return ExitCode::from(1);
        }
    };
    if node.wait(Duration::ZERO).is_err() {
        return ExitCode::SUCCESS;
    }
    let name = config.name.clone();
    let sim = match Sim::start(config) {
        Ok(s) => s,
        Err(msg) => {
            eprintln!("hftlive-sim: {msg}");
            return ExitCode::from(1);
        }
    };
    {
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "ready {name}");
        let _ = stdout.flush();
    }
    while node.wait(Duration::from_millis(50)).is_ok() {
        if !sim.is_running() {
            break;
        }
    }
    sim.stop();
    drop(node);
    ExitCode::SUCCESS
}
