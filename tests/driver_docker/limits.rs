//! Memory limit (down to an OOM kill) and CPU throttle, restored exactly.

use std::time::Duration;

use bollard::models::{HostConfig, RestartPolicyNameEnum};
use chaosdeck::driver::docker;
use chaosdeck::driver::Verification;

use crate::support::ContainerGuard;
use crate::*;

#[tokio::test]
async fn memory_limit_is_lowered_and_restored_exactly() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let limited = HostConfig {
        memory: Some(64 * MIB),
        memory_swap: Some(128 * MIB),
        ..Default::default()
    };
    let unlimited = ContainerGuard::start(&docker, &image, None, None).await;
    let limited = ContainerGuard::start(&docker, &image, None, Some(limited)).await;
    let lower = action("docker.memory_limit: { limit: 8MiB }");
    for (ctr, was) in [
        (&unlimited, "unlimited"),
        (&limited, "64MiB (memory+swap 128MiB)"),
    ] {
        let plan = docker::plan(&docker, &lower, &target(ctr)).await.unwrap();
        let blast = format!(
            "lower memory limit of {} from {was} to 8MiB (using ",
            ctr.name
        );
        assert!(
            plan.blast_radius.starts_with(&blast),
            "{}",
            plan.blast_radius
        );
        docker::apply(&docker, &lower, &plan.undo).await.unwrap();
        let host = host_config(&docker, &ctr.id).await;
        assert_eq!(
            (host.memory, host.memory_swap),
            (Some(8 * MIB), Some(8 * MIB))
        );
        let cgroup = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
        assert_eq!(
            exec(&docker, &ctr.id, &["cat", cgroup]).await,
            (8 * MIB).to_string()
        );
        let err = docker::plan(&docker, &lower, &target(ctr))
            .await
            .unwrap_err();
        assert!(err.to_string().contains("already 8MiB"), "{err}");
        let residual = docker::verify(&docker, &plan.undo).await.unwrap();
        let expected = format!(
            "memory limit is 8MiB, expected {}",
            &was[..was.find(' ').unwrap_or(was.len())]
        );
        assert_eq!(residual, Verification::Residual(expected));
        undo_and_verify(&docker, &plan.undo).await;
        let limit: i64 = exec(&docker, &ctr.id, &["cat", cgroup])
            .await
            .parse()
            .unwrap();
        if ctr.id == limited.id {
            let host = host_config(&docker, &ctr.id).await;
            assert_eq!(
                (host.memory, host.memory_swap),
                (Some(64 * MIB), Some(128 * MIB))
            );
            assert_eq!(limit, 64 * MIB);
        } else {
            assert!(
                limit > 1 << 62,
                "cgroup limit {limit} should be the kernel's maximum"
            );
        }
    }
}

/// A service that grows by 32 MiB every 0.1 s once /tmp/load exists. (cgroup v1 cannot
/// lower a limit below the current usage, so the growth has to come after the limit.)
async fn start_hog(docker: &bollard::Docker, image: &str, retries: i64) -> ContainerGuard {
    let hog = "trap 'exit 0' TERM; while true; do if [ -e /tmp/load ]; then \
               dd if=/dev/zero of=/dev/null bs=32M count=1 2>/dev/null || exit 137; fi; \
               sleep 0.1; done";
    let policy = restart_policy(RestartPolicyNameEnum::ON_FAILURE, retries);
    ContainerGuard::start(docker, image, Some(vec!["sh", "-c", hog]), Some(policy)).await
}

const CGROUP_MEMORY_LIMIT: &str = "/sys/fs/cgroup/memory/memory.limit_in_bytes";

/// Under `on-failure:1` the hog is OOM-killed, restarted once, killed again and left
/// exited; undo restores the limit and starts it, and it keeps running.
#[tokio::test]
async fn memory_limit_until_oom_then_undo_starts_it_again() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let ctr = start_hog(&docker, &image, 1).await;
    let lower = action("docker.memory_limit: { limit: 8MiB }");
    let plan = docker::plan(&docker, &lower, &target(&ctr)).await.unwrap();
    docker::apply(&docker, &lower, &plan.undo).await.unwrap();
    exec(&docker, &ctr.id, &["touch", "/tmp/load"]).await;
    let dead = wait_status(&docker, &ctr.name, 20, |s| {
        !s.running && !s.restarting && s.restart_count == 1
    })
    .await;
    // The kernel kills the hog (137). Docker's OOMKilled flag follows the cgroup's OOM
    // event, which now and then lands after the exit is recorded, so the message is
    // checked for what Docker reported.
    assert_eq!(dead.exit_code, Some(137), "{dead:?}");
    let Verification::Residual(why) = docker::verify(&docker, &plan.undo).await.unwrap() else {
        panic!("verified while OOM-killed")
    };
    let how = match dead.oom_killed {
        true => "code 137, OOM-killed",
        false => "code 137",
    };
    let expected = format!(
        "memory limit is 8MiB, expected unlimited; {} is exited ({how}), expected running",
        ctr.name
    );
    assert_eq!(why, expected);
    undo_and_verify(&docker, &plan.undo).await;
    let started = docker::status(&docker, &ctr.name).await.unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await; // a few rounds of growth
    let alive = docker::status(&docker, &ctr.name).await.unwrap();
    // Docker keeps OOMKilled from the last exit, and a manual start resets RestartCount.
    assert!(
        alive.running && alive.oom_killed == dead.oom_killed,
        "{alive:?}"
    );
    assert_eq!(
        (alive.started_at, alive.restart_count),
        (started.started_at, 0)
    );
    let limit = exec(&docker, &ctr.id, &["cat", CGROUP_MEMORY_LIMIT]).await;
    assert!(limit.parse::<i64>().unwrap() > 1 << 62, "{limit}");
}

/// Under `on-failure` without a retry limit the hog loops through OOM kills; undo
/// restores the limit while the policy is backing off, and the policy's next restart
/// brings it back for good (its restart count kept: undo did not start it).
#[tokio::test]
async fn memory_limit_oom_loop_ends_when_undo_restores_the_limit() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let ctr = start_hog(&docker, &image, 0).await;
    let lower = action("docker.memory_limit: { limit: 8MiB }");
    let plan = docker::plan(&docker, &lower, &target(&ctr)).await.unwrap();
    docker::apply(&docker, &lower, &plan.undo).await.unwrap();
    exec(&docker, &ctr.id, &["touch", "/tmp/load"]).await;
    let looping = wait_status(&docker, &ctr.name, 20, |s| {
        s.restart_count >= 2 && s.oom_killed && s.exit_code == Some(137)
    })
    .await;
    undo_and_verify(&docker, &plan.undo).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let back = docker::status(&docker, &ctr.name).await.unwrap();
    assert!(back.running && !back.restarting, "{back:?}");
    assert!(back.restart_count >= looping.restart_count, "{back:?}");
    let verified = docker::verify(&docker, &plan.undo).await.unwrap();
    assert_eq!(verified, Verification::Verified);
}

#[tokio::test]
async fn cpu_throttle_caps_a_busy_loop_and_is_restored() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let busy = vec!["sh", "-c", "trap 'exit 0' TERM; while :; do :; done"];
    let nano = HostConfig {
        nano_cpus: Some(1_500_000_000),
        ..Default::default()
    };
    let plain = ContainerGuard::start(&docker, &image, Some(busy.clone()), None).await;
    let with_nano = ContainerGuard::start(&docker, &image, Some(busy), Some(nano)).await;
    let throttle = action("docker.cpu_throttle: { cpus: 0.2 }");

    let plan = docker::plan(&docker, &throttle, &target(&plain))
        .await
        .unwrap();
    assert_eq!(
        plan.blast_radius,
        format!("cap CPU of {} from unlimited to 0.2 CPUs", plain.name)
    );
    docker::apply(&docker, &throttle, &plan.undo).await.unwrap();
    let host = host_config(&docker, &plain.id).await;
    assert_eq!(
        (host.cpu_quota, host.cpu_period),
        (Some(20_000), Some(100_000))
    );
    // CPU time used by the container's cgroup over one second stays near the cap.
    let usage = "a=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); sleep 1; \
                 b=$(cat /sys/fs/cgroup/cpuacct/cpuacct.usage); echo $((b - a))";
    let used_ns: i64 = exec(&docker, &plain.id, &["sh", "-c", usage])
        .await
        .parse()
        .unwrap();
    assert!(
        used_ns < 350_000_000,
        "used {used_ns} ns of CPU in 1 s under a 0.2 CPU cap"
    );
    undo_and_verify(&docker, &plan.undo).await;
    let quota = exec(
        &docker,
        &plain.id,
        &["cat", "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"],
    )
    .await;
    assert_eq!(quota, "-1");

    let plan = docker::plan(&docker, &throttle, &target(&with_nano))
        .await
        .unwrap();
    assert!(
        plan.blast_radius.contains("from 1.5 CPUs to 0.2 CPUs"),
        "{}",
        plan.blast_radius
    );
    docker::apply(&docker, &throttle, &plan.undo).await.unwrap();
    assert_eq!(
        host_config(&docker, &with_nano.id).await.nano_cpus,
        Some(200_000_000)
    );
    undo_and_verify(&docker, &plan.undo).await;
    assert_eq!(
        host_config(&docker, &with_nano.id).await.nano_cpus,
        Some(1_500_000_000)
    );
}
