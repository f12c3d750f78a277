//! The loop: messages in (keys, engine events, ticks), `update`, commands out, and a
//! redraw only when something changed. Generic over the backend, so tests drive the
//! whole console on ratatui's `TestBackend`.

use std::time::Duration;

use ratatui::backend::Backend;
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::app::{App, Quit};
use super::draw::draw;
use super::engine_link::Link;
use super::msg::Msg;
use super::update::update;

/// News from the engine (a probe going down, a phase, a timeline line) closer
/// together than this shares one frame; keys never wait. Plain readings (chart
/// points, latencies) do not ask for a frame: the live clock's tick draws them once a
/// second, as `bottom` refreshes, so the console draws no more than it must
/// (BENCHMARKS.md, "The console").
pub const FRAME: Duration = Duration::from_millis(250);

/// How many messages one wake-up folds in before drawing.
const BATCH: usize = 256;

/// Runs until the app quits or every sender of `msgs` is gone.
pub async fn run<B: Backend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    link: &mut Link,
    msgs: &mut mpsc::Receiver<Msg>,
) -> std::io::Result<()> {
    let mut last_frame: Option<Instant> = None;
    let mut batch: Vec<Msg> = Vec::with_capacity(BATCH);
    let mut terminal_lost = false;
    loop {
        app.now = Instant::now();
        if app.dirty && !terminal_lost {
            let drawn = terminal.draw(|frame| {
                let area = frame.area();
                draw(app, area, frame.buffer_mut());
            });
            if let Err(e) = drawn {
                // The terminal is gone: stop drawing, tear down what is on, quit.
                tracing::warn!("cannot draw ({e}); tearing down and quitting");
                terminal_lost = true;
                batch.push(Msg::Signal(crate::engine::StopReason::Terminate));
                fold(app, link, &mut batch);
            }
            app.dirty = false;
            last_frame = Some(app.now);
        }
        if app.quit == Quit::Now {
            return Ok(());
        }
        let wake = app.next_wake();
        tokio::select! {
            n = msgs.recv_many(&mut batch, BATCH) => if n == 0 { return Ok(()) },
            _ = sleep_until(wake), if wake.is_some() => batch.push(Msg::Tick),
        }
        let keyed = batch
            .iter()
            .any(|m| matches!(m, Msg::Key(_) | Msg::Mouse(_)));
        fold(app, link, &mut batch);
        // Engine events arrive many times a second: let them gather into one frame.
        if let (false, true, Some(last)) = (keyed, app.dirty, last_frame) {
            let due = last + FRAME;
            if due > Instant::now() {
                tokio::time::sleep_until(due).await;
                while let Ok(msg) = msgs.try_recv() {
                    batch.push(msg);
                    if batch.len() >= BATCH {
                        break;
                    }
                }
                fold(app, link, &mut batch);
            }
        }
    }
}

fn fold(app: &mut App, link: &mut Link, batch: &mut Vec<Msg>) {
    app.now = Instant::now();
    for msg in batch.drain(..) {
        for command in update(app, msg) {
            link.execute(command, app);
        }
    }
}

async fn sleep_until(wake: Option<Instant>) {
    match wake {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
