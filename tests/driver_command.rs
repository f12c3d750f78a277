//! Command faults run real programs without a shell; parameters stay inert.
//! Kubernetes entries are checked for the exact kubectl commands they would run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use chaosdeck::catalog::{Action, Catalog};
use chaosdeck::driver::command;
use chaosdeck::driver::Verification;

fn command_action(action: &Action) -> &chaosdeck::catalog::action_params::CommandAction {
    match action {
        Action::Command(c) => c,
        other => panic!("not a command: {other:?}"),
    }
}

#[tokio::test]
async fn a_parameter_holding_shell_syntax_stays_a_plain_argument() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let canary = dir.path().join("pwned");
    let yaml = format!(
        r#"
- id: cmd-echo
  name: Echo
  category: host
  severity: low
  target: command
  description: Writes its note to a file.
  params:
    note: {{ default: "; touch {canary} #", help: note }}
  actions:
    - command:
        run: [/bin/sh, -c, 'printf "%s|%s" "$1" "$NOTE" > "$2"', sh, "{{{{note}}}}", "{out}"]
        undo: [/bin/rm, -f, "{out}"]
        verify: [/bin/sh, -c, 'test ! -e "$1"', sh, "{out}"]
        env: {{ NOTE: "{{{{note}}}} $(touch {canary})" }}
        timeout: 10s
  expect: {{ recover_within: 10s }}
  ttl: 1m
"#,
        canary = canary.display(),
        out = out.display()
    );
    let file = dir.path().join("cmd.yaml");
    std::fs::write(&file, yaml).unwrap();
    let faults = chaosdeck::catalog::load::read_file(&file).unwrap();
    let spec = &faults[0].spec;
    let values = spec.param_values(&BTreeMap::new()).unwrap();
    let actions = spec.resolve_actions(&values, &BTreeMap::new()).unwrap();
    let action = command_action(&actions[0]);

    let plan = command::plan(action).unwrap();
    command::apply(action, &plan.undo).await.unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    let note = format!("; touch {} #", canary.display());
    assert_eq!(
        written,
        format!("{note}|{note} $(touch {})", canary.display())
    );
    assert!(!canary.exists(), "a parameter was run as shell code");

    assert_eq!(
        command::verify(&plan.undo).await.unwrap(),
        Verification::Residual(format!(
            "`/bin/sh -c 'test ! -e \"$1\"' sh {}` exited with exit status: 1: ",
            out.display()
        ),)
    );
    command::undo(&plan.undo).await.unwrap();
    assert!(!out.exists());
    assert_eq!(
        command::verify(&plan.undo).await.unwrap(),
        Verification::Verified
    );
    command::undo(&plan.undo).await.unwrap();
}

#[tokio::test]
async fn a_command_that_hangs_is_stopped_at_its_timeout() {
    let argv = vec!["/bin/sleep".to_string(), "30".to_string()];
    let started = std::time::Instant::now();
    let err = command::run(
        &argv,
        &BTreeMap::new(),
        std::time::Duration::from_millis(300),
    )
    .await
    .unwrap_err();
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert!(
        err.to_string().contains("did not finish within 300ms"),
        "{err}"
    );
}

#[test]
fn a_missing_program_is_a_precondition_not_a_failure_at_run_time() {
    let action: Action = serde_yaml::from_str(
        "command: { run: [no-such-kubectl-here, get, pods], undo: [true], timeout: 5s }",
    )
    .unwrap();
    let err = command::plan(command_action(&action)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "this host: cannot run command: program \"no-such-kubectl-here\" is not on PATH"
    );
}

/// A `kubectl` stand-in that records each argv (one argument per line, `--` after
/// each call), so the test sees exactly what chaosdeck would run on a cluster.
fn recording_kubectl(dir: &Path) -> std::path::PathBuf {
    let log = dir.join("calls.log");
    let script = dir.join("kubectl");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> {}; done\necho -- >> {}\n",
            log.display(),
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    log
}

#[tokio::test]
async fn kubernetes_faults_run_exactly_their_kubectl_commands() {
    let dir = tempfile::tempdir().unwrap();
    let log = recording_kubectl(dir.path());
    let catalog = Catalog::builtin().unwrap();
    let kube: Vec<_> = catalog
        .faults()
        .filter(|f| f.id.starts_with("k8s-"))
        .collect();
    assert_eq!(kube.len(), 6);
    for spec in kube {
        let overrides = BTreeMap::new();
        let values = spec.param_values(&overrides).unwrap();
        let actions = spec.resolve_actions(&values, &BTreeMap::new()).unwrap();
        for action in &actions {
            let mut c = command_action(action).clone();
            assert_eq!(c.run[0], "kubectl", "{}", spec.id);
            assert!(
                spec.render_text("{{namespace}}", &values, &BTreeMap::new()) != "{{namespace}}",
                "{} has a namespace param",
                spec.id
            );
            for argv in [&mut c.run, &mut c.undo, &mut c.verify] {
                if let Some(first) = argv.first_mut() {
                    *first = dir.path().join("kubectl").display().to_string();
                }
            }
            std::fs::write(&log, "").unwrap();
            let plan = command::plan(&c).unwrap();
            command::apply(&c, &plan.undo).await.unwrap();
            command::undo(&plan.undo).await.unwrap();
            assert_eq!(
                command::verify(&plan.undo).await.unwrap(),
                Verification::Verified
            );
            let calls = std::fs::read_to_string(&log).unwrap();
            let mut expected = String::new();
            for argv in [&c.run, &c.undo, &c.verify] {
                if argv.is_empty() {
                    continue;
                }
                for arg in &argv[1..] {
                    expected.push_str(arg);
                    expected.push('\n');
                }
                expected.push_str("--\n");
            }
            assert_eq!(calls, expected, "{}", spec.id);
            assert!(
                calls
                    .lines()
                    .any(|l| l == "--namespace" || l.starts_with("--namespace=") || l == "-n"),
                "{}: {calls}",
                spec.id
            );
        }
    }
}
