//! Faults and helpers shared by the catalog browser's tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chaosdeck::catalog::FaultSpec;
use chaosdeck::tui::screens::catalog::{render, CatalogState};
use chaosdeck::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::buffer::Buffer;

use crate::screen_support::{draw, find, text};

pub const RUNBOOK: &str = "SELECT state, count(*) FROM pg_stat_activity GROUP BY 1;\n\
  SELECT pid, application_name FROM pg_stat_activity WHERE application_name LIKE 'chaosdeck:%';\n\
  Raise max_connections or add a pooler (pgbouncer) in front of the database.";

pub fn spec(id: &str, name: &str, category: &str, severity: &str, target: &str) -> FaultSpec {
    let yaml = format!(
        "id: {id}\nname: {name}\ncategory: {category}\nseverity: {severity}\ntarget: {target}\n\
         description: Breaks {id} on purpose.\nactions:\n  - docker.pause: {{}}\n\
         expect: {{ impact: [app-health], recover_within: 30s }}\nttl: 5m\n"
    );
    serde_yaml::from_str(&yaml).unwrap()
}

pub fn max_connections() -> FaultSpec {
    let mut fault = spec(
        "db-max-connections",
        "Max connections exhausted",
        "database",
        "high",
        "postgres",
    );
    fault.description =
        "Opens sessions until the server answers \"sorry, too many clients already\".".into();
    fault.params.insert(
        "reserve".into(),
        serde_yaml::from_str(
            "{ default: 1, help: slots left for the console's own monitoring session }",
        )
        .unwrap(),
    );
    fault.prompt = "Users are getting \"too many clients\" errors connecting to {{target}}. \
                    Please investigate."
        .into();
    fault.runbook = RUNBOOK.into();
    fault
}

pub fn typical() -> Vec<FaultSpec> {
    vec![
        spec(
            "container-kill",
            "Container killed",
            "container",
            "medium",
            "docker",
        ),
        max_connections(),
        spec(
            "db-lock-contention",
            "Lock contention on a hot table",
            "database",
            "medium",
            "postgres",
        ),
        spec(
            "db-read-only",
            "Cluster flipped to read-only",
            "database",
            "critical",
            "postgres",
        ),
        spec("host-cpu-burn", "CPU burn", "host", "low", "host"),
        spec(
            "process-freeze",
            "Process frozen (SIGSTOP)",
            "process",
            "high",
            "process",
        ),
        spec(
            "net-latency",
            "Latency and jitter",
            "network",
            "low",
            "proxy",
        ),
        spec(
            "k8s-crashloop",
            "Pod in CrashLoopBackOff",
            "kubernetes",
            "high",
            "kubernetes",
        ),
    ]
}

pub fn typed(state: &mut CatalogState, text: &str) {
    state.start_filter();
    for c in text.chars() {
        state.filter_key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE));
    }
}

pub fn shot(state: &CatalogState, (w, h): (u16, u16)) -> Buffer {
    draw(w, h, |area, buf| render(state, &Theme::dark(), area, buf))
}

pub fn visible_ids(state: &CatalogState) -> Vec<String> {
    let mut ids = Vec::new();
    let mut probe = state.clone();
    for i in 0..probe.visible_count() {
        probe.select_index(i);
        ids.push(probe.selected().unwrap().0.id.clone());
    }
    ids
}

/// The column where `word` starts on row `y`, at or right of column `from`.
pub fn column_of(buf: &Buffer, y: u16, from: u16, word: &str) -> u16 {
    let cells: Vec<&str> = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
    (from..buf.area.width)
        .find(|&x| {
            let mut rest = word;
            for cell in &cells[x as usize..] {
                match rest.strip_prefix(cell) {
                    Some(r) => rest = r,
                    None => break,
                }
                if rest.is_empty() {
                    return true;
                }
            }
            false
        })
        .unwrap_or_else(|| panic!("{word} not on row {y}:\n{}", text(buf)))
}

/// The style of `word` on the row where `id` is listed, right of the id.
pub fn style_on_row(buf: &Buffer, id: &str, word: &str) -> ratatui::style::Style {
    let (x, y) = find(buf, id).unwrap_or_else(|| panic!("{id} not on screen:\n{}", text(buf)));
    buf[(column_of(buf, y, x, word), y)].style()
}
