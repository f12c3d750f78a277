//! The lab's `targets.yaml` and sample game-day plan, written into the lab's folder
//! from what was started, so the console and `chaosdeck gameday` read the lab like
//! any other system.

use std::net::SocketAddr;

/// What the lab runs, as the files need it.
#[derive(Debug, Clone)]
pub struct LabParts {
    /// The cluster's connection string (password included: the file is private).
    pub pg_conn: Option<String>,
    /// The cluster's port and the fault proxy in front of it.
    pub pg_port: Option<u16>,
    pub proxy: Option<SocketAddr>,
    /// The demo service's address.
    pub service: Option<SocketAddr>,
    /// The container with a restart policy and the one without.
    pub web_container: Option<String>,
    pub worker_container: Option<String>,
}

/// The lab's `targets.yaml`.
pub fn targets_yaml(parts: &LabParts) -> String {
    let mut shop = String::new();
    let mut probes = String::new();
    let mut steady = Vec::new();
    if let Some(conn) = &parts.pg_conn {
        shop.push_str(&format!("    postgres: {{ conn: \"{conn}\" }}\n"));
        probes
            .push_str("      - { name: db-query, sql: SELECT 1, postgres: shop, expect: \"1\" }\n");
        probes.push_str(
            "      - { name: db-connect, sql: SELECT 1, postgres: shop, fresh_connection: true, interval: 1s }\n",
        );
        steady.push("db-query");
    }
    if let (Some(proxy), Some(port)) = (parts.proxy, parts.pg_port) {
        shop.push_str(&format!(
            "    proxy: {{ listen: \"{proxy}\", upstream: \"127.0.0.1:{port}\" }}\n"
        ));
    }
    if let Some(service) = parts.service {
        shop.push_str(&format!("    process: {{ port: {} }}\n", service.port()));
        probes.push_str(&format!(
            "      - {{ name: app-health, http: \"http://{service}/health\", timeout: 2s }}\n"
        ));
        probes.push_str(&format!(
            "      - {{ name: process-alive, process: {{ port: {} }} }}\n",
            service.port()
        ));
        steady.push("app-health");
        steady.push("process-alive");
    }
    let mut containers = String::new();
    if let Some(web) = &parts.web_container {
        shop.push_str(&format!("    container: {web}\n"));
        containers.push_str(&format!(
            "      - {{ name: container-health, container: {web} }}\n"
        ));
        steady.push("container-health");
    }
    let mut out = String::from(
        "# The lab chaosdeck started: a throwaway PostgreSQL cluster, the demo service\n\
         # (reaching the database through the fault proxy), and demo containers.\n\
         targets:\n",
    );
    if !shop.is_empty() {
        out.push_str("  shop:\n");
        out.push_str(&shop);
    }
    if let Some(worker) = &parts.worker_container {
        out.push_str(&format!("  worker:\n    container: {worker}\n"));
    }
    if !probes.is_empty() || !containers.is_empty() {
        out.push_str("services:\n");
    }
    if !probes.is_empty() {
        out.push_str("  shop:\n    probes:\n");
        out.push_str(&probes);
    }
    if !containers.is_empty() {
        out.push_str("  containers:\n    probes:\n");
        out.push_str(&containers);
    }
    if !steady.is_empty() {
        out.push_str(&format!("steady_state: [{}]\n", steady.join(", ")));
    }
    out.push_str("observe:\n  interval: 250ms\n  sample_interval: 250ms\n  stable_for: 3\n");
    out
}

/// A sample game-day plan over what the lab has.
pub fn gameday_yaml(parts: &LabParts) -> String {
    let mut out =
        String::from("name: Lab game day\nconfig: targets.yaml\npause: 10s\nexperiments:\n");
    if parts.pg_conn.is_some() {
        out.push_str("  - { fault: db-max-connections, target: shop, duration: 20s }\n");
    }
    if parts.service.is_some() {
        out.push_str("  - { fault: process-kill, target: shop, duration: 15s }\n");
    }
    if parts.web_container.is_some() {
        out.push_str("  - { fault: container-pause, target: shop, duration: 15s }\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn full() -> LabParts {
        LabParts {
            pg_conn: Some(
                "host=127.0.0.1 port=5999 dbname=testdb user=postgres password=pw".into(),
            ),
            pg_port: Some(5999),
            proxy: Some("127.0.0.1:6000".parse().unwrap()),
            service: Some("127.0.0.1:6001".parse().unwrap()),
            web_container: Some("chaosdeck-lab-x-web".into()),
            worker_container: Some("chaosdeck-lab-x-worker".into()),
        }
    }

    #[test]
    fn the_lab_config_is_a_valid_targets_file() {
        let config = Config::parse(Path::new("lab/targets.yaml"), &targets_yaml(&full())).unwrap();
        assert_eq!(
            config.steady_state,
            [
                "db-query",
                "app-health",
                "process-alive",
                "container-health"
            ]
        );
        assert!(config.targets.contains_key("shop") && config.targets.contains_key("worker"));
    }

    #[test]
    fn a_lab_without_docker_or_postgres_still_has_a_valid_config() {
        let parts = LabParts {
            pg_conn: None,
            pg_port: None,
            proxy: None,
            web_container: None,
            worker_container: None,
            ..full()
        };
        let config = Config::parse(Path::new("lab/targets.yaml"), &targets_yaml(&parts)).unwrap();
        assert_eq!(config.steady_state, ["app-health", "process-alive"]);
        let plan = gameday_yaml(&parts);
        assert!(plan.contains("process-kill") && !plan.contains("container-pause"));
    }
}
