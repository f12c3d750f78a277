//! `chaosdeck lab up|down|status`: the lab from the command line. `up` runs the lab
//! in the foreground until Ctrl-C or SIGTERM (it owns the fault proxy the demo service
//! talks through); `down` removes what a lab left behind, after a crash too; `status`
//! says what the lab record holds and whether its owner still runs.

use std::path::Path;

use super::args::{LabAction, LabArgs};
use super::Status;
use crate::lab::record::LabRecord;
use crate::lab::teardown::{owner_alive, remove_leftovers};
use crate::lab::up::Lab;

pub fn run(state_dir: &Path, args: &LabArgs) -> Status {
    let runtime = match crate::engine::runner::engine_runtime() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return Status::InputError;
        }
    };
    match args.action {
        LabAction::Up => runtime.block_on(up(state_dir)),
        LabAction::Down => runtime.block_on(down(state_dir)),
        LabAction::Status => status(state_dir),
    }
}

async fn up(state_dir: &Path) -> Status {
    let exe = match std::env::current_exe() {
        Ok(exe) => exe,
        Err(e) => {
            eprintln!("cannot find the chaosdeck binary: {e}");
            return Status::InputError;
        }
    };
    let lab = match Lab::up(state_dir, &exe).await {
        Ok(lab) => lab,
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    println!("Lab {} is up.", lab.record.lab_id);
    for line in &lab.missing {
        println!("  missing: {line}");
    }
    println!("  targets: {}", lab.config_path.display());
    println!("  game day: {}", lab.plan_path.display());
    println!(
        "In another terminal: chaosdeck --config {}  (network faults need the console that started the lab)",
        lab.config_path.display()
    );
    println!("Ctrl-C takes the lab down.");
    let stop = super::execute::listen_for_stops();
    let mut stop = stop;
    let _ = stop.wait_for(Option::is_some).await;
    println!("Taking the lab down…");
    lab.down().await;
    println!("Lab down.");
    Status::Pass
}

async fn down(state_dir: &Path) -> Status {
    let record = match LabRecord::read(state_dir) {
        Ok(Some(record)) => record,
        Ok(None) => {
            println!(
                "No lab is up (no {}).",
                LabRecord::path(state_dir).display()
            );
            return Status::Pass;
        }
        Err(e) => {
            eprintln!("{e}");
            return Status::InputError;
        }
    };
    if owner_alive(&record) {
        println!(
            "Asking the lab's owner (pid {}) to take it down…",
            record.owner_pid
        );
        let pid = nix::unistd::Pid::from_raw(record.owner_pid as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        for _ in 0..300 {
            if !LabRecord::path(state_dir).exists() {
                println!("Lab down.");
                return Status::Pass;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        println!("The owner did not finish within 30 s; removing what is left here.");
    }
    for line in remove_leftovers(state_dir, &record).await {
        println!("  {line}");
    }
    println!("Lab {} down.", record.lab_id);
    Status::Pass
}

fn status(state_dir: &Path) -> Status {
    match LabRecord::read(state_dir) {
        Ok(Some(record)) => {
            let alive = owner_alive(&record) || record.owner_pid == std::process::id();
            let mut out = format!("Lab {}\n", record.lab_id);
            out.push_str(&format!(
                "  owner      pid {} ({})\n",
                record.owner_pid,
                if alive {
                    "running"
                } else {
                    "gone: `chaosdeck lab down` cleans up"
                }
            ));
            out.push_str(&format!("  folder     {}\n", record.dir.display()));
            if let Some(root) = &record.cluster_root {
                out.push_str(&format!("  postgres   {}\n", root.display()));
            }
            out.push_str(&format!("  children   {:?}\n", record.children));
            out.push_str(&format!(
                "  containers {}\n",
                if record.containers { "yes" } else { "no" }
            ));
            super::print_text(&out)
        }
        Ok(None) => super::print_text("No lab is up.\n"),
        Err(e) => {
            eprintln!("{e}");
            Status::InputError
        }
    }
}
