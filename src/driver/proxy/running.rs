//! Fault proxies kept running for a whole run, by listen address.
//!
//! Operators point a service at the proxy for a whole game day; a fault then only
//! changes what the running proxy does, and its undo puts it back to passing
//! traffic. The engine starts such a proxy before preflight (so steady state is
//! measured through it) and registers it here; the proxy driver looks here first and
//! starts a proxy of its own only when none runs at that address.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use super::FaultProxy;

static RUNNING: Mutex<Option<HashMap<SocketAddr, Arc<FaultProxy>>>> = Mutex::new(None);

fn with<T>(f: impl FnOnce(&mut HashMap<SocketAddr, Arc<FaultProxy>>) -> T) -> T {
    let mut guard = match RUNNING.lock() {
        Ok(g) => g,
        // A panic elsewhere while holding the lock leaves the map usable.
        Err(poisoned) => poisoned.into_inner(),
    };
    f(guard.get_or_insert_with(HashMap::new))
}

/// The proxy running at `listen`, if one is registered.
pub fn running(listen: SocketAddr) -> Option<Arc<FaultProxy>> {
    with(|map| map.get(&listen).cloned())
}

/// A registered proxy; leaving the registry and stopping the proxy when dropped or
/// shut down.
#[derive(Debug)]
pub struct RunningProxy {
    listen: SocketAddr,
    proxy: Arc<FaultProxy>,
}

impl RunningProxy {
    /// Registers `proxy` under the address it was asked to listen on.
    pub fn register(listen: SocketAddr, proxy: FaultProxy) -> RunningProxy {
        let proxy = Arc::new(proxy);
        with(|map| map.insert(listen, proxy.clone()));
        RunningProxy { listen, proxy }
    }

    pub fn proxy(&self) -> &FaultProxy {
        &self.proxy
    }

    /// Leaves the registry and stops the proxy, waiting for its connections.
    pub async fn shutdown(self) {
        let proxy = self.proxy.clone();
        // Dropping self leaves the registry and its reference.
        drop(self);
        match Arc::try_unwrap(proxy) {
            Ok(proxy) => proxy.shutdown().await,
            // Someone still holds it (a fault's hold): dropping ours is enough, the
            // last one to drop it stops it.
            Err(shared) => drop(shared),
        }
    }
}

impl Drop for RunningProxy {
    fn drop(&mut self) {
        with(|map| {
            if map
                .get(&self.listen)
                .is_some_and(|p| Arc::ptr_eq(p, &self.proxy))
            {
                map.remove(&self.listen);
            }
        });
    }
}
