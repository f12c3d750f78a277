//! `targets.yaml` as an operator writes it: the valid fixtures load into the types
//! the engine uses, and every invalid fixture gives exactly the one-line message in
//! its `.expected` file (`{file}` stands for the fixture's path).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use chaosdeck::catalog::Severity;
use chaosdeck::config::{Config, ConfigError, ObserveConfig};
use chaosdeck::driver::process::ProcessSelector;
use chaosdeck::observe::ProbeCheck;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(rel)
}

fn load(rel: &str) -> Config {
    let path = fixture(rel);
    Config::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("fixture folder")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn each_invalid_fixture_gives_its_message() {
    let mut failures = Vec::new();
    let files = yaml_files(&fixture("invalid"));
    for path in &files {
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path)
            .unwrap_or_else(|_| panic!("missing {}", expected_path.display()));
        let expected = expected
            .trim_end()
            .replace("{file}", &path.display().to_string());
        let got = match Config::load(path) {
            Ok(_) => "loaded without error".to_string(),
            Err(e) => e.to_string(),
        };
        if got != expected {
            failures.push(format!(
                "{}:\n  expected: {expected}\n  got:      {got}",
                path.display()
            ));
        }
        assert!(
            !got.contains("secret"),
            "{}: a password leaked: {got}",
            path.display()
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 16, "only {} invalid fixtures", files.len());
}

#[test]
fn each_valid_fixture_loads() {
    let files = yaml_files(&fixture("valid"));
    assert!(files.len() >= 2);
    for path in files {
        Config::load(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn the_full_fixture_loads_every_key() {
    let config = load("valid/full.yaml");
    assert_eq!(config.path, fixture("valid/full.yaml"));
    assert_eq!(
        config.targets.keys().collect::<Vec<_>>(),
        ["reports", "shop"]
    );
    let shop = &config.targets["shop"];
    let pg = shop.postgres.as_ref().expect("shop has postgres");
    assert_eq!(
        pg.conn.masked(),
        "host=127.0.0.1 port=15432 dbname=shop user=postgres password=***"
    );
    // The other fields of a target are checked through `targets_named` below.
    assert_eq!(
        config.targets["reports"].process,
        Some(ProcessSelector::Pid(1234))
    );

    assert_eq!(config.steady_state, ["app-health", "db-query"]);
    assert_eq!(config.guards, ["api-port"]);
    assert_eq!(config.policy.max_severity, Severity::High);
    assert_eq!(
        config.observe,
        ObserveConfig {
            interval: Duration::from_millis(500),
            timeout: Duration::from_secs(2),
            stable_for: 5,
            sample_interval: Duration::from_secs(2),
        }
    );
    assert_eq!(config.theme.as_deref(), Some("dark"));
}

#[test]
fn probes_come_in_file_order_with_their_roles_and_checks() {
    let config = load("valid/full.yaml");
    let probes = config.probes();
    let lines: Vec<String> = probes
        .iter()
        .map(|p| {
            let role = match (p.steady_state, p.guard) {
                (true, true) => "steady+guard",
                (true, false) => "steady",
                (false, true) => "guard",
                (false, false) => "-",
            };
            format!(
                "{} ({}) {role} every {:?} within {:?}: {}",
                p.spec.name,
                p.service,
                p.spec.interval,
                p.spec.timeout,
                p.spec.check.describe()
            )
        })
        .collect();
    assert_eq!(
        lines,
        [
            "app-health (shop) steady every 500ms within 2s: GET http://127.0.0.1:8080/health → 200, body has \"ok\"",
            "db-query (shop) steady every 500ms within 2s: SQL SELECT 1 = 1 on host=127.0.0.1 port=15432 dbname=shop user=postgres",
            "api-port (shop) guard every 500ms within 2s: TCP connect 127.0.0.1:8080",
            "web-running (platform) - every 500ms within 2s: container shop-web running and healthy",
            "api-alive (platform) - every 500ms within 2s: process listener on TCP port 8080 alive",
            "rollout (platform) - every 2s within 5s: kubectl rollout status deploy/shop exits 0",
        ]
    );
}

#[test]
fn the_minimal_fixture_takes_every_default() {
    let config = load("valid/minimal.yaml");
    assert_eq!(config.observe, ObserveConfig::default());
    assert_eq!(config.observe.interval, Duration::from_millis(250));
    assert_eq!(config.observe.timeout, Duration::from_secs(1));
    assert_eq!(config.observe.stable_for, 3);
    assert_eq!(config.observe.sample_interval, Duration::from_secs(1));
    assert_eq!(config.policy.max_severity, Severity::Critical);
    assert_eq!(config.theme, None);
    assert!(config.guards.is_empty());
    assert_eq!(config.steady_state, ["db-query"]);
    let probes = config.probes();
    assert_eq!(probes.len(), 1);
    assert!(probes[0].steady_state && !probes[0].guard);
    // The only target with postgres is the sql probe's connection.
    let ProbeCheck::Sql { conn, .. } = &probes[0].spec.check else {
        panic!("{:?}", probes[0].spec);
    };
    assert_eq!(conn.dbname(), Some("testdb"));
}

#[test]
fn steady_state_defaults_to_every_probe_that_is_not_a_guard() {
    let text = "\
services:
  shop:
    probes:
      - { name: app-health, http: http://127.0.0.1:8080/health }
      - { name: api-port, tcp: 127.0.0.1:8080 }
      - { name: web-running, container: shop-web }
guards: [api-port]
";
    let config = Config::parse(Path::new("targets.yaml"), text).unwrap();
    assert_eq!(config.steady_state, ["app-health", "web-running"]);
    let roles: Vec<(bool, bool)> = config
        .probes()
        .iter()
        .map(|p| (p.steady_state, p.guard))
        .collect();
    assert_eq!(roles, [(true, false), (false, true), (true, false)]);
}

#[test]
fn targets_named_builds_driver_targets() {
    let config = load("valid/full.yaml");
    let exe = PathBuf::from("/usr/local/bin/chaosdeck");
    let targets = config.targets_named("shop", exe.clone()).unwrap();
    let pg = targets.postgres.as_ref().expect("postgres");
    assert_eq!(
        pg.conn.without_password(),
        "host=127.0.0.1 port=15432 dbname=shop user=postgres"
    );
    assert_eq!(
        pg.data_dir.as_deref(),
        Some(Path::new("/var/lib/postgresql/16/main"))
    );
    assert_eq!(pg.bin_dir, None);
    assert_eq!(
        targets.container.as_ref().map(|c| c.container.as_str()),
        Some("shop-web")
    );
    assert_eq!(
        targets.process.as_ref().map(|p| &p.selector),
        Some(&ProcessSelector::Name("shop-api".to_string()))
    );
    let proxy = targets.proxy.as_ref().expect("proxy");
    assert_eq!(proxy.listen.to_string(), "127.0.0.1:15433");
    assert_eq!(proxy.upstream, "127.0.0.1:15432");
    assert_eq!(targets.exe, exe);

    let reports = config.targets_named("reports", exe).unwrap();
    assert!(reports.container.is_none() && reports.proxy.is_none());
    assert_eq!(
        reports.postgres.as_ref().map(|p| p.conn.masked()),
        Some("postgres://reporter:***@127.0.0.1:15432/reports")
    );
}

#[test]
fn an_unknown_target_name_suggests_the_near_one() {
    let config = load("valid/full.yaml");
    let err = config.targets_named("shops", PathBuf::new()).unwrap_err();
    let file = fixture("valid/full.yaml");
    assert_eq!(
        err.to_string(),
        format!(
            "{}: unknown target \"shops\"; did you mean \"shop\"?",
            file.display()
        )
    );
    assert!(matches!(err, ConfigError::UnknownTarget { ref name, .. } if name == "shops"));
    let err = config.targets_named("staging", PathBuf::new()).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: unknown target \"staging\"; expected one of \"reports\", \"shop\"",
            file.display()
        )
    );
}

#[test]
fn debug_output_never_shows_a_password() {
    let config = load("valid/full.yaml");
    let debug = format!("{config:?} {:?}", config.probes());
    assert!(debug.contains("shop-web"), "Debug should show the config");
    assert!(!debug.contains("secret"), "a password leaked: {debug}");
}

#[test]
fn a_missing_file_is_named() {
    let err = Config::load(Path::new("targets.yaml")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot read targets.yaml: No such file or directory"
    );
}

#[test]
fn a_file_over_one_mebibyte_is_refused_before_parsing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.yaml");
    let mut text = String::from("targets:\n  shop: { container: shop-web }\n#");
    text.push_str(&"=".repeat(2 * 1024 * 1024 - text.len() - 1));
    text.push('\n');
    std::fs::write(&path, &text).unwrap();
    let err = Config::load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: file is 2.0 MiB; config files are limited to 1 MiB",
            path.display()
        )
    );
    let err = Config::parse(&path, &text).unwrap_err();
    assert!(err.to_string().contains("limited to 1 MiB"), "{err}");
}

#[test]
fn a_file_that_is_not_utf8_is_placed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("targets.yaml");
    std::fs::write(&path, b"targets:\n  sh\xffop: { container: web }\n").unwrap();
    let err = Config::load(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}:2:5: file is not UTF-8 text; save it as UTF-8",
            path.display()
        )
    );
}
