//! Host stressors run as real `chaosdeck __stress` children, observed with sysinfo,
//! statvfs and /proc the way a user would see them: CPU burned, memory in use, a
//! filesystem filled, descriptors held; and gone after undo, or with their parent.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use chaosdeck::driver::host::{self, levels, HostFault, HostUndo};
use chaosdeck::driver::{DriverError, Verification};
use sysinfo::{ProcessRefreshKind, ProcessesToUpdate, System};

const EXE: &str = env!("CARGO_BIN_EXE_chaosdeck");
const MIB: u64 = 1 << 20;

/// The tests that load CPU, memory or disk run one at a time, so one does not skew
/// another's readings.
static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[path = "driver_host/observe.rs"]
mod observe;
use observe::*;

#[tokio::test]
async fn cpu_burn_keeps_one_core_busy() {
    let _heavy = HEAVY.lock().await;
    let cores = std::thread::available_parallelism().unwrap().get();
    let fault = HostFault::CpuBurn { cores: 1 };
    let (blast, applied) = start(&fault).await;
    assert_eq!(blast, format!("burn 1 of {cores} cores"));
    let (pid, _) = pid_of(&applied.undo);

    let spid = sysinfo::Pid::from_u32(pid);
    let mut sys = System::new();
    let only = [spid];
    let kind = ProcessRefreshKind::nothing().with_cpu();
    // sysinfo needs a first reading with some CPU time in it to compute usage from.
    tokio::time::sleep(Duration::from_millis(300)).await;
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&only), true, kind);
    // Meanwhile a busy thread of our own shows what one busy thread gets on this host
    // right now (other work may share the cores).
    let reference = std::thread::spawn(|| busy_share(Duration::from_millis(1500)));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&only), true, kind);
    let usage = f64::from(sys.process(spid).unwrap().cpu_usage());
    let reference = reference.join().unwrap();
    eprintln!("cpu burn on 1 core: {usage:.0} % CPU; a busy thread here gets {reference:.0} %");
    assert!(usage <= 140.0, "one core, not more: {usage} %");
    assert!(
        usage >= reference * 0.6 && usage >= 5.0,
        "stressor uses {usage:.0} % CPU, a busy thread gets {reference:.0} %"
    );

    undo_and_verify(&applied.undo).await;
    applied.hold.release().await;
}

#[tokio::test]
async fn memory_pressure_raises_memory_in_use_and_undo_frees_it() {
    let _heavy = HEAVY.lock().await;
    let before = levels::memory().unwrap();
    let target = before.used_percent() + 3.0;
    let expected = before.used_at(target) - before.used();
    let fault = HostFault::MemoryPressure { percent: target };
    let (blast, applied) = start(&fault).await;
    assert!(blast.starts_with("raise memory in use from"), "{blast}");
    assert!(
        applied.ready.starts_with("ready held="),
        "{}",
        applied.ready
    );
    let (pid, _) = pid_of(&applied.undo);

    let spid = sysinfo::Pid::from_u32(pid);
    let mut sys = System::new();
    sys.refresh_memory();
    let used_while = sys.used_memory();
    sys.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[spid]),
        true,
        ProcessRefreshKind::nothing().with_memory(),
    );
    let rss = sys.process(spid).unwrap().memory();
    // The child holds about 3 % of the total, touched; the host's other work moves
    // memory too, so the checks leave room.
    assert!(
        rss as f64 > expected as f64 * 0.5,
        "rss {rss}, expected ~{expected}"
    );
    // It stops at the target: more only if other work freed memory meanwhile.
    assert!(
        rss < expected * 2 + 256 * MIB,
        "rss {rss}, expected ~{expected}"
    );
    assert!(
        used_while as f64 > before.used() as f64 + expected as f64 * 0.5,
        "used {used_while} vs {} before, +{expected} expected",
        before.used()
    );

    // Read right before and right after undo, so other work on the host moves little.
    sys.refresh_memory();
    let used_held = sys.used_memory();
    let anon_held = anon_pages();
    undo_and_verify(&applied.undo).await;
    // The anonymous memory of the host drops by what the child held at once...
    let anon_after = anon_pages();
    assert!(
        (anon_after as f64) < anon_held as f64 - rss as f64 * 0.6,
        "AnonPages {anon_after} after undo, {anon_held} just before (child rss {rss})"
    );
    // ...while memory in use falls as the kernel takes the pages back, which lags
    // (and in a VM that reports free pages to its host, returns only part at first).
    // How much comes back, and when, is the kernel's business (and the host's other
    // work moves it too): require only that it falls.
    let deadline = Instant::now() + Duration::from_secs(3);
    while sys.used_memory() >= used_held && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        sys.refresh_memory();
    }
    let used_after = sys.used_memory();
    assert!(
        used_after < used_held,
        "used {used_after} after undo, {used_held} just before (child rss {rss})"
    );
    eprintln!(
        "memory pressure: child held {} MiB; AnonPages fell {} MiB, used {} MiB",
        rss / MIB,
        (anon_held - anon_after) / MIB,
        (used_held - used_after) / MIB
    );
    applied.hold.release().await;
}

#[tokio::test]
async fn disk_fill_writes_its_file_and_undo_deletes_it() {
    let _heavy = HEAVY.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let before = levels::disk(dir.path()).unwrap();
    let target = disk_target(dir.path(), 200 * MIB);
    let fault = HostFault::FillDisk {
        path: dir.path().to_path_buf(),
        percent: target,
    };
    let plan = host::plan(&fault).unwrap();
    let HostUndo::EndChild { leftover_file, .. } = &plan.undo;
    let file = leftover_file.clone().unwrap();
    assert!(plan.blast_radius.contains(&file.display().to_string()));
    assert!(!file.exists(), "plan is read-only");

    let applied = host::apply(Path::new(EXE), &fault, &plan.undo)
        .await
        .unwrap();
    // The child aims at the filesystem's fill, so what others write or delete on it
    // meanwhile changes how much it writes: about 200 MiB, not exactly.
    let meta = std::fs::metadata(&file).unwrap();
    let size = meta.len();
    assert!((100 * MIB..=300 * MIB).contains(&size), "wrote {size}");
    assert!(
        meta.blocks() * 512 >= size,
        "the file is written out, not sparse"
    );
    let during = levels::disk(dir.path()).unwrap();
    assert!(
        during.used >= before.used + size / 2,
        "{before:?} → {during:?}, target {target} %"
    );

    undo_and_verify(&applied.undo).await;
    assert!(!file.exists());
    // The filesystem gets the space back (read soon after, as other work writes too).
    let deadline = Instant::now() + Duration::from_secs(2);
    let mut after = levels::disk(dir.path()).unwrap();
    while after.used + size / 2 > during.used && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
        after = levels::disk(dir.path()).unwrap();
    }
    assert!(
        after.used + size / 2 <= during.used,
        "{during:?} → {after:?}"
    );
    applied.hold.release().await;
}

#[tokio::test]
async fn releasing_the_hold_ends_the_fill_and_the_child_deletes_its_file() {
    let _heavy = HEAVY.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let fault = HostFault::FillDisk {
        path: dir.path().to_path_buf(),
        percent: disk_target(dir.path(), 32 * MIB),
    };
    let (_, applied) = start(&fault).await;
    let HostUndo::EndChild { leftover_file, .. } = &applied.undo;
    let file = leftover_file.clone().unwrap();
    assert!(file.exists());
    let (pid, _) = pid_of(&applied.undo);

    applied.hold.release().await;
    assert!(gone_within(pid, Duration::from_secs(1)));
    assert!(!file.exists(), "deleted on SIGTERM");
    assert_eq!(host::verify(&applied.undo), Verification::Verified);
}

#[tokio::test]
async fn fd_exhaustion_holds_count_descriptors() {
    let _heavy = HEAVY.lock().await;
    let fault = HostFault::ExhaustFds { count: 1500 };
    let (blast, applied) = start(&fault).await;
    assert!(
        blast.starts_with("hold 1500 open file descriptors"),
        "{blast}"
    );
    let (pid, _) = pid_of(&applied.undo);
    let open = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count();
    assert!((1500..1520).contains(&open), "{open} descriptors open");
    undo_and_verify(&applied.undo).await;
    applied.hold.release().await;
}

#[test]
fn targets_past_the_cap_or_below_the_current_level_are_refused() {
    let tmp = std::env::temp_dir();
    let refused = [
        HostFault::MemoryPressure { percent: 95.0 },
        HostFault::FillDisk {
            path: tmp.clone(),
            percent: 95.0,
        },
    ];
    for fault in refused {
        let err = host::plan(&fault).unwrap_err();
        assert!(matches!(err, DriverError::Precondition { .. }), "{err}");
        assert!(err.to_string().contains("never fills"), "{err}");
        assert!(err.to_string().contains("past 90 %"), "{err}");
    }
    let below = host::plan(&HostFault::FillDisk {
        path: tmp,
        percent: 0.01,
    })
    .unwrap_err();
    assert!(below.to_string().contains("already"), "{below}");
    let cores = HostFault::CpuBurn { cores: 100_000 };
    assert!(host::plan(&cores)
        .unwrap_err()
        .to_string()
        .contains("cores asked for"));
}

#[test]
fn the_stressor_dies_with_its_parent() {
    let _heavy = HEAVY.blocking_lock();
    // An intermediate parent (sh) starts the stressor, then is SIGKILLed.
    let script = "\"$0\" __stress --parent $$ cpu --cores 1 & echo $!; wait";
    let sh = Command::new("sh")
        .args(["-c", script, EXE])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut family = Family { sh, stressor: None };
    let mut out = BufReader::new(family.sh.stdout.take().unwrap());
    // The pid sh echoes and the stressor's `ready`, in either order.
    let mut ready = false;
    for _ in 0..2 {
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        match line.trim().parse::<u32>() {
            Ok(pid) => family.stressor = Some(pid),
            Err(_) => ready = line.starts_with("ready"),
        }
    }
    let stressor = family.stressor.unwrap();
    assert!(ready, "the stressor did not say ready");

    family.sh.kill().unwrap();
    family.sh.wait().unwrap();
    assert!(
        gone_within(stressor, Duration::from_secs(1)),
        "stressor {stressor} outlived its parent"
    );
}

#[test]
fn a_stressor_whose_parent_is_already_gone_does_not_start() {
    let output = Command::new(EXE)
        .args(["__stress", "--parent", "999999999", "cpu", "--cores", "1"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.starts_with("error: the parent chaosdeck"), "{text}");
}

#[test]
fn undo_data_round_trips_through_json() {
    let undo = HostUndo::EndChild {
        pid: Some(42),
        start_time: Some(777),
        leftover_file: Some("/tmp/chaosdeck-fill-1-2.tmp".into()),
    };
    let text = serde_json::to_string(&undo).unwrap();
    assert_eq!(serde_json::from_str::<HostUndo>(&text).unwrap(), undo);
}
