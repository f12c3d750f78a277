//! The confirmation gate, sized to the fault's severity (DESIGN.md, "Risk gates"):
//! low — Enter; medium — `y`; high — type the fault id; critical — type the target's
//! name, and Enter only counts once a visible 3-second arming countdown is over.
//! A wrong word, Esc, or any other key cancels. Pure: keys and time in, outcome out.

use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use tokio::time::Instant;

use crate::catalog::Severity;
use crate::tui::keymap::{gate_action, Action};

/// How long a critical gate arms before Enter counts.
pub const ARMING: Duration = Duration::from_secs(3);

/// What the operator must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateKind {
    Enter,
    Yes,
    TypeFaultId(String),
    TypeTargetName(String),
}

/// An open gate.
#[derive(Debug, Clone)]
pub struct GateState {
    pub kind: GateKind,
    pub severity: Severity,
    /// What has been typed so far (typing gates only).
    pub typed: String,
    pub opened: Instant,
}

/// What a key did to the gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GateOutcome {
    /// Still open (typing, or Enter while a critical gate arms).
    Open,
    /// Passed; the words say how, for the journal and the report.
    Approved(String),
    /// Closed without injecting; the words say why.
    Cancelled(String),
}

impl GateState {
    /// The gate for a fault of `severity`, with its id and the target's short name.
    pub fn open(severity: Severity, fault_id: &str, target_name: &str, now: Instant) -> GateState {
        let kind = match severity {
            Severity::Low => GateKind::Enter,
            Severity::Medium => GateKind::Yes,
            Severity::High => GateKind::TypeFaultId(fault_id.to_string()),
            Severity::Critical => GateKind::TypeTargetName(target_name.to_string()),
        };
        GateState {
            kind,
            severity,
            typed: String::new(),
            opened: now,
        }
    }

    /// Time left before Enter counts; zero once armed (and for every other gate).
    pub fn arming_left(&self, now: Instant) -> Duration {
        match self.kind {
            GateKind::TypeTargetName(_) => ARMING.saturating_sub(now - self.opened),
            _ => Duration::ZERO,
        }
    }

    /// The instant the countdown ends, while it runs, so the loop redraws then.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        let left = self.arming_left(now);
        (!left.is_zero()).then(|| now + left.min(Duration::from_millis(100)))
    }

    /// Applies one key, as the gate's keys in the key table say.
    pub fn key(&mut self, event: KeyEvent, now: Instant) -> GateOutcome {
        let action = gate_action(self.severity, event);
        if action == Some(Action::Back) {
            return GateOutcome::Cancelled("Esc at the gate".into());
        }
        match (&self.kind, action) {
            (GateKind::Enter, Some(Action::Open)) => {
                GateOutcome::Approved("console: Enter at the low gate".into())
            }
            (GateKind::Yes, Some(Action::Open)) => {
                GateOutcome::Approved("console: y at the medium gate".into())
            }
            (GateKind::Enter | GateKind::Yes, _) => cancelled_by(event),
            (GateKind::TypeFaultId(word) | GateKind::TypeTargetName(word), _) => {
                let word = word.clone();
                self.typing_key(event, action, &word, now)
            }
        }
    }

    /// Whether what is typed is the word the gate asks for.
    pub fn word_matches(&self) -> bool {
        match &self.kind {
            GateKind::TypeFaultId(word) | GateKind::TypeTargetName(word) => self.typed == *word,
            GateKind::Enter | GateKind::Yes => false,
        }
    }

    fn typing_key(
        &mut self,
        event: KeyEvent,
        action: Option<Action>,
        word: &str,
        now: Instant,
    ) -> GateOutcome {
        let plain = !event
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match (action, event.code) {
            (Some(Action::Erase), _) => {
                self.typed.pop();
                GateOutcome::Open
            }
            (Some(Action::Open), _) if self.typed != word => {
                GateOutcome::Cancelled(format!("typed \"{}\", not \"{word}\"", self.typed))
            }
            (Some(Action::Open), _) if !self.arming_left(now).is_zero() => GateOutcome::Open,
            (Some(Action::Open), _) => GateOutcome::Approved(match self.kind {
                GateKind::TypeTargetName(_) => {
                    format!("console: typed the target name \"{word}\" after arming")
                }
                _ => format!("console: typed the fault id \"{word}\""),
            }),
            (_, KeyCode::Char(c)) if plain => {
                self.typed.push(c);
                GateOutcome::Open
            }
            _ => cancelled_by(event),
        }
    }
}

fn cancelled_by(event: KeyEvent) -> GateOutcome {
    let key = match event.code {
        KeyCode::Char(c) => format!("'{c}'"),
        other => format!("{other:?}"),
    };
    GateOutcome::Cancelled(format!("{key} pressed at the gate"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    fn typed(gate: &mut GateState, text: &str, now: Instant) {
        for c in text.chars() {
            assert_eq!(gate.key(press(KeyCode::Char(c)), now), GateOutcome::Open);
        }
    }

    #[test]
    fn low_opens_on_enter_and_any_other_key_cancels() {
        let now = Instant::now();
        let mut gate = GateState::open(Severity::Low, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Enter), now),
            GateOutcome::Approved(_)
        ));
        let mut gate = GateState::open(Severity::Low, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Char('y')), now),
            GateOutcome::Cancelled(_)
        ));
    }

    #[test]
    fn medium_needs_y_and_enter_cancels() {
        let now = Instant::now();
        let mut gate = GateState::open(Severity::Medium, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Enter), now),
            GateOutcome::Cancelled(_)
        ));
        let mut gate = GateState::open(Severity::Medium, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Char('y')), now),
            GateOutcome::Approved(_)
        ));
    }

    #[test]
    fn high_needs_the_exact_fault_id() {
        let now = Instant::now();
        let mut gate = GateState::open(Severity::High, "db-max-connections", "t", now);
        typed(&mut gate, "db-max-connection", now);
        let outcome = gate.key(press(KeyCode::Enter), now);
        assert_eq!(
            outcome,
            GateOutcome::Cancelled(
                "typed \"db-max-connection\", not \"db-max-connections\"".into()
            )
        );
        let mut gate = GateState::open(Severity::High, "db-max-connections", "t", now);
        typed(&mut gate, "db-max-connectionx", now);
        gate.key(press(KeyCode::Backspace), now);
        typed(&mut gate, "s", now);
        assert!(matches!(
            gate.key(press(KeyCode::Enter), now),
            GateOutcome::Approved(_)
        ));
    }

    #[test]
    fn high_cancels_on_esc_and_on_arrows() {
        let now = Instant::now();
        let mut gate = GateState::open(Severity::High, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Esc), now),
            GateOutcome::Cancelled(_)
        ));
        let mut gate = GateState::open(Severity::High, "f", "t", now);
        assert!(matches!(
            gate.key(press(KeyCode::Up), now),
            GateOutcome::Cancelled(_)
        ));
    }

    #[test]
    fn critical_waits_out_the_arming_countdown() {
        let opened = Instant::now();
        let mut gate = GateState::open(Severity::Critical, "f", "primary", opened);
        assert_eq!(gate.arming_left(opened), ARMING);
        typed(&mut gate, "primary", opened);
        let early = opened + Duration::from_millis(2900);
        assert_eq!(gate.key(press(KeyCode::Enter), early), GateOutcome::Open);
        assert!(gate.next_wake(early).is_some());
        let armed = opened + ARMING;
        assert_eq!(gate.arming_left(armed), Duration::ZERO);
        assert_eq!(gate.next_wake(armed), None);
        assert!(matches!(
            gate.key(press(KeyCode::Enter), armed),
            GateOutcome::Approved(_)
        ));
    }

    #[test]
    fn critical_with_the_wrong_name_cancels_even_when_armed() {
        let opened = Instant::now();
        let mut gate = GateState::open(Severity::Critical, "f", "primary", opened);
        typed(&mut gate, "replica", opened);
        let outcome = gate.key(press(KeyCode::Enter), opened + ARMING);
        assert!(matches!(outcome, GateOutcome::Cancelled(_)));
    }
}
