//! The console's loop on a backend that counts frames: an idle console draws once and
//! then nothing until something changes; a key answers with one frame; a burst of
//! engine events becomes few frames, not one per event; during a run, new readings
//! wait for the clock's once-a-second tick while a probe going down draws at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "dashboard_support/mod.rs"]
mod dashboard_support;

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chaosdeck::catalog::Catalog;
use chaosdeck::driver::targets::Targets;
use chaosdeck::engine::journal::Journal;
use chaosdeck::engine::runner::EngineEvent;
use chaosdeck::observe::ProbeSample;
use chaosdeck::tui::app::Screen;
use chaosdeck::tui::console::{initial_app, Options, FLAGS_BUNDLE};
use chaosdeck::tui::engine_link::{Link, Setup};
use chaosdeck::tui::event_loop;
use chaosdeck::tui::msg::Msg;
use chaosdeck::tui::theme::Theme;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::backend::{Backend, ClearType, TestBackend, WindowSize};
use ratatui::buffer::Cell;
use ratatui::layout::{Position, Size};
use ratatui::Terminal;
use tokio::sync::mpsc;
use tokio::time::Instant;

/// A `TestBackend` that counts frames (one flush per frame).
struct Counting {
    inner: TestBackend,
    frames: Arc<AtomicUsize>,
}

impl Backend for Counting {
    fn draw<'a, I: Iterator<Item = (u16, u16, &'a Cell)>>(&mut self, content: I) -> io::Result<()> {
        self.inner.draw(content)
    }
    fn hide_cursor(&mut self) -> io::Result<()> {
        self.inner.hide_cursor()
    }
    fn show_cursor(&mut self) -> io::Result<()> {
        self.inner.show_cursor()
    }
    fn get_cursor_position(&mut self) -> io::Result<Position> {
        self.inner.get_cursor_position()
    }
    fn set_cursor_position<P: Into<Position>>(&mut self, position: P) -> io::Result<()> {
        self.inner.set_cursor_position(position)
    }
    fn clear(&mut self) -> io::Result<()> {
        self.inner.clear()
    }
    fn clear_region(&mut self, clear_type: ClearType) -> io::Result<()> {
        self.inner.clear_region(clear_type)
    }
    fn size(&self) -> io::Result<Size> {
        self.inner.size()
    }
    fn window_size(&mut self) -> io::Result<WindowSize> {
        self.inner.window_size()
    }
    fn flush(&mut self) -> io::Result<()> {
        self.frames.fetch_add(1, Ordering::SeqCst);
        self.inner.flush()
    }
}

struct Console {
    frames: Arc<AtomicUsize>,
    tx: mpsc::Sender<Msg>,
    done: tokio::task::JoinHandle<()>,
    _state: tempfile::TempDir,
}

impl Console {
    /// Frames drawn so far.
    fn frames_drawn(&self) -> usize {
        self.frames.load(Ordering::SeqCst)
    }

    /// Presses `q`; the loop must end within 5 s.
    async fn quit(self) {
        self.tx.send(key('q')).await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), self.done)
            .await
            .expect("q quits")
            .unwrap();
    }
}

fn start() -> Console {
    start_with(|_| {})
}

fn start_with(prepare: impl FnOnce(&mut chaosdeck::tui::app::App)) -> Console {
    start_doing(prepare, vec![])
}

/// A console whose I/O side is first asked to do `commands`.
fn start_doing(
    prepare: impl FnOnce(&mut chaosdeck::tui::app::App),
    commands: Vec<chaosdeck::tui::msg::Command>,
) -> Console {
    let state = tempfile::tempdir().unwrap();
    let setup = Setup {
        catalog: Catalog::builtin().unwrap(),
        config: None,
        bundles: BTreeMap::from([(FLAGS_BUNDLE.to_string(), Targets::default())]),
        typed_conns: BTreeMap::new(),
        one_off_probes: vec![],
        max_severity: None,
        state_dir: state.path().to_path_buf(),
        host_disk: "/".into(),
        host_name: "lab-host".into(),
        report_dir: state.path().to_path_buf(),
    };
    let options = Options {
        read_only: false,
        theme: Theme::dark(),
        bundle: FLAGS_BUNDLE.into(),
        notices: vec![],
    };
    let journal = Journal::open(state.path()).unwrap();
    let mut app = initial_app(setup, options, journal.path().to_path_buf());
    prepare(&mut app);
    let frames = Arc::new(AtomicUsize::new(0));
    let backend = Counting {
        inner: TestBackend::new(160, 48),
        frames: frames.clone(),
    };
    let (tx, mut rx) = mpsc::channel(1024);
    let mut link = Link::new(journal, tx.clone(), Default::default());
    for command in commands {
        link.execute(command, &app);
    }
    let done = tokio::spawn(async move {
        let mut terminal = Terminal::new(backend).unwrap();
        event_loop::run(&mut terminal, &mut app, &mut link, &mut rx)
            .await
            .unwrap();
    });
    Console {
        frames,
        tx,
        done,
        _state: state,
    }
}

fn key(c: char) -> Msg {
    Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

#[tokio::test]
async fn an_idle_console_draws_once_and_then_nothing() {
    let console = start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(console.frames_drawn(), 1, "the first frame");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(console.frames_drawn(), 1, "no redraw while nothing changes");
    console.tx.send(key('j')).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(console.frames_drawn(), 2, "a key answers with one frame");
    console.quit().await;
}

#[tokio::test]
async fn a_watched_journal_that_does_not_change_draws_nothing() {
    let watch = chaosdeck::tui::msg::Command::WatchJournal {
        every: Duration::from_millis(50),
    };
    let console = start_doing(|_| {}, vec![watch]);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let first = console.frames_drawn();
    assert!(
        first <= 2,
        "the first frame, and the journal's first reading: {first}"
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        console.frames_drawn(),
        first,
        "thirty looks at an unchanged journal, and no redraw"
    );
    console.quit().await;
}

#[tokio::test]
async fn a_burst_of_engine_events_becomes_a_few_frames() {
    let console = start();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Each tick marks the screen changed, as an engine event does.
    // They stream in, one about every millisecond.
    let streaming = std::time::Instant::now();
    for _ in 0..300 {
        console.tx.send(Msg::Tick).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let took = streaming.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let frames = console.frames_drawn();
    let most = 3 + (took.as_millis() / event_loop::FRAME.as_millis()) as usize;
    assert!(
        frames <= most,
        "{frames} frames for 300 changes in {took:?}; at most {most}"
    );
    console.quit().await;
}

fn probe_check(up: bool, latency_ms: u64) -> Msg {
    Msg::Engine(EngineEvent::Probe(ProbeSample {
        probe: 0,
        at: Instant::now(),
        up,
        latency: Duration::from_millis(latency_ms),
        detail: String::new(),
    }))
}

#[tokio::test(start_paused = true)]
async fn readings_wait_for_the_clock_and_a_probe_going_down_draws_at_once() {
    let base = Instant::now();
    let console = start_with(|app| {
        app.live = Some(dashboard_support::live(
            base,
            "db-max-connections",
            dashboard_support::TARGET,
            &["app-health"],
            300,
        ));
        app.run_active = true;
        app.screen = Screen::Live;
    });
    // t = 0.05 s: the first frame.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert_eq!(console.frames_drawn(), 1, "the first frame");
    // The probe's first check is news (whether it is up), drawn once a frame
    // interval (250 ms) has passed since the last frame.
    console.tx.send(probe_check(true, 3)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(console.frames_drawn(), 2, "the first check draws");
    // Readings at 40 a second from t = 0.3 s until t = 0.95 s: the probe stays up.
    for i in 0..26 {
        console.tx.send(probe_check(true, 3 + i % 5)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(
        console.frames_drawn(),
        2,
        "readings alone do not draw before the clock ticks"
    );
    // t = 1.0 s: the clock ticks and draws them.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        console.frames_drawn(),
        3,
        "the clock's tick draws the waiting readings"
    );
    // t = 1.3 s: the probe goes down; that is drawn now, not at t = 2 s.
    tokio::time::sleep(Duration::from_millis(250)).await;
    console.tx.send(probe_check(false, 1000)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        console.frames_drawn(),
        4,
        "a probe going down draws at once"
    );
    console.done.abort();
}
