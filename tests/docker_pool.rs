//! The lab's Docker client keeps one connection to the engine across requests, and
//! bollard's stock Unix client (pooling off) does not: the second test shows the check
//! can tell the two apart.
//!
//! Sockets are counted in `/proc/self/fd`, so this binary holds only these tests, and
//! they run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed step fails the test

mod support;

use std::collections::BTreeSet;

use bollard::Docker;
use tokio::sync::Mutex;

/// How many requests each client makes.
const PINGS: usize = 10;

/// Keeps the two tests from opening sockets while the other counts them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// The inodes of the sockets this process holds open.
fn open_sockets() -> BTreeSet<u64> {
    let mut inodes = BTreeSet::new();
    for entry in std::fs::read_dir("/proc/self/fd").unwrap() {
        // The fd of the directory listing itself is gone by the time it is read.
        let Ok(target) = std::fs::read_link(entry.unwrap().path()) else {
            continue;
        };
        let target = target.to_string_lossy();
        if let Some(inode) = target
            .strip_prefix("socket:[")
            .and_then(|rest| rest.strip_suffix(']'))
        {
            inodes.insert(inode.parse().unwrap());
        }
    }
    inodes
}

/// Pings `docker` [`PINGS`] times; after each ping, the sockets open that were not
/// open in `before`.
async fn sockets_after_each_ping(docker: &Docker, before: &BTreeSet<u64>) -> Vec<BTreeSet<u64>> {
    let mut seen = Vec::with_capacity(PINGS);
    for _ in 0..PINGS {
        docker.ping().await.unwrap();
        seen.push(open_sockets().difference(before).copied().collect());
    }
    seen
}

#[tokio::test]
async fn the_lab_client_keeps_one_connection() {
    let _alone = ONE_AT_A_TIME.lock().await;
    let before = open_sockets();
    let Some(docker) = support::docker().await else {
        return;
    };
    let seen = sockets_after_each_ping(&docker, &before).await;
    eprintln!("lab client, new sockets after each ping: {seen:?}");
    let distinct: BTreeSet<u64> = seen.iter().flatten().copied().collect();
    assert_eq!(
        distinct.len(),
        1,
        "the lab client must use one socket for all {PINGS} pings: {seen:?}"
    );
    for (n, open) in seen.iter().enumerate() {
        assert_eq!(open, &distinct, "after ping {}: {seen:?}", n + 1);
    }
}

#[tokio::test]
async fn the_stock_client_opens_a_connection_per_request() {
    let _alone = ONE_AT_A_TIME.lock().await;
    // The lab client fails or skips with the usual message when Docker is missing;
    // its socket is open before the count starts, so it is not counted.
    let Some(_lab_client) = support::docker().await else {
        return;
    };
    let before = open_sockets();
    let docker = Docker::connect_with_unix_defaults().unwrap();
    let seen = sockets_after_each_ping(&docker, &before).await;
    eprintln!("stock client, new sockets after each ping: {seen:?}");
    // Each connection serves one request: no socket is still in use a ping later.
    for (n, pair) in seen.windows(2).enumerate() {
        assert!(
            pair[0].is_disjoint(&pair[1]),
            "pings {} and {} shared a socket: {seen:?}",
            n + 1,
            n + 2
        );
    }
    let distinct: BTreeSet<u64> = seen.iter().flatten().copied().collect();
    assert!(
        distinct.len() > 1,
        "the stock client was expected to open a socket per ping: {seen:?}"
    );
}
