//! Network disconnect and reconnect with the same aliases.

use bollard::network::ConnectNetworkOptions;
use chaosdeck::driver::docker;
use chaosdeck::driver::{DriverError, Verification};

use crate::support::{ContainerGuard, NetworkGuard};
use crate::*;

#[tokio::test]
async fn disconnect_is_undone_with_the_same_aliases() {
    let Some((docker, image)) = engine().await else {
        return;
    };
    let net = NetworkGuard::create(&docker).await;
    let ctr = ContainerGuard::start(&docker, &image, None, None).await;
    let endpoint = bollard::models::EndpointSettings {
        aliases: Some(vec!["db".to_string(), "primary".to_string()]),
        ..Default::default()
    };
    let connect = ConnectNetworkOptions {
        container: ctr.id.clone(),
        endpoint_config: endpoint,
    };
    docker.connect_network(&net.name, connect).await.unwrap();

    let elsewhere = action("docker.disconnect: { network: chaosdeck-no-such-net }");
    let err = docker::plan(&docker, &elsewhere, &target(&ctr))
        .await
        .unwrap_err();
    let on = format!("it is on: bridge, {}", net.name);
    assert!(
        matches!(err, DriverError::Precondition { .. }) && err.to_string().contains(&on),
        "{err}"
    );

    let disconnect = action(&format!("docker.disconnect: {{ network: {} }}", net.name));
    let plan = docker::plan(&docker, &disconnect, &target(&ctr))
        .await
        .unwrap();
    assert_eq!(
        plan.blast_radius,
        format!(
            "disconnect {} from network {} (aliases: db, primary)",
            ctr.name, net.name
        )
    );
    docker::apply(&docker, &disconnect, &plan.undo)
        .await
        .unwrap();
    let networks = |info: bollard::models::ContainerInspectResponse| {
        info.network_settings.unwrap().networks.unwrap_or_default()
    };
    let after = networks(docker.inspect_container(&ctr.id, None).await.unwrap());
    assert!(!after.contains_key(&net.name), "{after:?}");
    let residual = docker::verify(&docker, &plan.undo).await.unwrap();
    assert_eq!(
        residual,
        Verification::Residual(format!("not attached to network {}", net.name))
    );
    undo_and_verify(&docker, &plan.undo).await;
    let back = networks(docker.inspect_container(&ctr.id, None).await.unwrap());
    let aliases = back[&net.name].aliases.clone().unwrap();
    assert!(aliases.contains(&"db".to_string()) && aliases.contains(&"primary".to_string()));
}
