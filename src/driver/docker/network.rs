//! `docker.disconnect`: which endpoint to cut, how to reconnect it exactly (aliases,
//! static addresses), and how to check that it is back.

use bollard::models::{ContainerInspectResponse, EndpointIpamConfig, EndpointSettings};
use bollard::network::ConnectNetworkOptions;
use bollard::Docker;

use super::engine::engine_error;
use super::DockerUndo;
use crate::driver::{DriverError, Verification};

fn endpoints(
    info: &ContainerInspectResponse,
) -> std::collections::HashMap<String, EndpointSettings> {
    info.network_settings
        .as_ref()
        .and_then(|s| s.networks.clone())
        .unwrap_or_default()
}

/// Aliases the user gave; Docker adds the short id on user-defined networks by itself.
fn user_aliases(endpoint: &EndpointSettings, id: &str) -> Vec<String> {
    let short_id: String = id.chars().take(12).collect();
    let mut aliases: Vec<String> = endpoint
        .aliases
        .clone()
        .unwrap_or_default()
        .into_iter()
        .filter(|a| *a != short_id)
        .collect();
    aliases.sort();
    aliases.dedup();
    aliases
}

fn static_addresses(endpoint: &EndpointSettings) -> (Option<String>, Option<String>) {
    let ipam = endpoint.ipam_config.clone().unwrap_or_default();
    let nonempty = |s: Option<String>| s.filter(|s| !s.is_empty());
    (nonempty(ipam.ipv4_address), nonempty(ipam.ipv6_address))
}

/// The endpoint on `network` (a name, an id or an id prefix) and its undo data; the
/// error names the networks the container is on instead.
pub(super) fn plan_disconnect(
    info: &ContainerInspectResponse,
    name: &str,
    id: &str,
    network: &str,
) -> Result<(DockerUndo, String), String> {
    let networks = endpoints(info);
    let found = networks.iter().find(|(net, ep)| {
        net.as_str() == network
            || ep.network_id.as_deref().is_some_and(|nid| {
                nid == network || (network.len() >= 12 && nid.starts_with(network))
            })
    });
    let Some((net, endpoint)) = found else {
        let mut on: Vec<&str> = networks.keys().map(String::as_str).collect();
        on.sort_unstable();
        let on = if on.is_empty() {
            "it is on no network".to_string()
        } else {
            format!("it is on: {}", on.join(", "))
        };
        return Err(format!("not attached to network \"{network}\"; {on}"));
    };
    let aliases = user_aliases(endpoint, id);
    let (ipv4_address, ipv6_address) = static_addresses(endpoint);
    let mut about = if aliases.is_empty() {
        "no aliases".to_string()
    } else {
        format!("aliases: {}", aliases.join(", "))
    };
    if networks.len() == 1 {
        about.push_str("; its only network");
    }
    let blast = format!("disconnect {name} from network {net} ({about})");
    let undo = DockerUndo::Reconnect {
        container: name.to_string(),
        id: id.to_string(),
        network: net.clone(),
        aliases,
        ipv4_address,
        ipv6_address,
    };
    Ok((undo, blast))
}

/// Connects the container again unless it is attached already.
pub(super) async fn reconnect(
    docker: &Docker,
    info: &ContainerInspectResponse,
    (name, id): (&str, &str),
    (network, aliases): (&str, &[String]),
    (ipv4_address, ipv6_address): (&Option<String>, &Option<String>),
    what: &str,
) -> Result<(), DriverError> {
    if endpoints(info).contains_key(network) {
        return Ok(());
    }
    let ipam = (ipv4_address.is_some() || ipv6_address.is_some()).then(|| EndpointIpamConfig {
        ipv4_address: ipv4_address.clone(),
        ipv6_address: ipv6_address.clone(),
        ..Default::default()
    });
    let options = ConnectNetworkOptions {
        container: id.to_string(),
        endpoint_config: EndpointSettings {
            aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
            ipam_config: ipam,
            ..Default::default()
        },
    };
    docker
        .connect_network(network, options)
        .await
        .map_err(|e| engine_error(name, what, e))
}

/// Attached to `network` with the same aliases and static addresses.
pub(super) fn check(
    info: &ContainerInspectResponse,
    id: &str,
    network: &str,
    aliases: &[String],
    (ipv4, ipv6): (&Option<String>, &Option<String>),
) -> Verification {
    let networks = endpoints(info);
    let Some(endpoint) = networks.get(network) else {
        return Verification::Residual(format!("not attached to network {network}"));
    };
    let now = user_aliases(endpoint, id);
    let mut want = aliases.to_vec();
    want.sort();
    want.dedup();
    let mut checks = Vec::new();
    if now != want {
        checks.push(Verification::Residual(format!(
            "aliases on network {network} are [{}], expected [{}]",
            now.join(", "),
            want.join(", ")
        )));
    }
    let (now4, now6) = static_addresses(endpoint);
    for (family, now, want) in [("IPv4", now4, ipv4), ("IPv6", now6, ipv6)] {
        if want.is_some() && now != *want {
            checks.push(Verification::Residual(format!(
                "static {family} address on network {network} is {}, expected {}",
                now.as_deref().unwrap_or("none"),
                want.as_deref().unwrap_or("none")
            )));
        }
    }
    Verification::all(checks)
}
