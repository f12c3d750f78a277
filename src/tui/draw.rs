//! One frame: the title line, the dangling-fault banner, the screen's body, the
//! status line (a flash message or what is being typed) and the hint bar. A pure
//! function of the app state.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::app::{App, Prompt, Screen};
use super::keymap::hints;
use super::screens;
use super::theme::Meaning;

/// The four bands of the screen.
struct Bands {
    title: Rect,
    banner: Rect,
    body: Rect,
    status: Rect,
    hints: Rect,
}

fn bands(app: &App, area: Rect) -> Bands {
    let banner = screens::banner::height(&app.dangling);
    let [title, banner, body, status, hints] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(banner),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    Bands {
        title,
        banner,
        body,
        status,
        hints,
    }
}

/// Where the screen's body is drawn within the whole terminal, for mouse clicks.
pub fn body_area(app: &App) -> Rect {
    bands(app, app.area).body
}

/// Draws the whole console into `buf`.
pub fn draw(app: &App, area: Rect, buf: &mut Buffer) {
    if area.width == 0 || area.height == 0 {
        return;
    }
    let b = bands(app, area);
    title_line(app, b.title, buf);
    screens::banner::render(&app.dangling, &app.theme, b.banner, buf);
    body(app, b.body, buf);
    status_line(app, b.status, buf);
    hint_bar(app, b.hints, buf);
}

fn title_line(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let mut spans = vec![
        Span::styled(" chaosdeck ", theme.style(Meaning::Title)),
        Span::styled(
            format!("· {} ", app.screen.title()),
            theme.style(Meaning::Text),
        ),
        Span::styled(
            format!("· target {} ", app.bundle),
            theme.style(Meaning::Muted),
        ),
    ];
    if app.run_active && app.screen != Screen::Live {
        spans.push(Span::styled(
            " RUN IN PROGRESS ",
            theme.style(Meaning::StateActive),
        ));
    }
    if app.read_only {
        spans.push(Span::styled(" read-only ", theme.style(Meaning::StateSafe)));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}

fn body(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    if app.help {
        screens::help::render(
            app.key_mode_under_help(),
            app.read_only,
            app.help_scroll,
            theme,
            area,
            buf,
        );
        return;
    }
    match app.screen {
        Screen::Catalog => screens::catalog::render(&app.catalog, theme, area, buf),
        Screen::Targets => screens::targets::render(&app.targets, theme, area, buf),
        Screen::History => screens::history::render(&app.history, theme, area, buf),
        Screen::Prepare => match &app.prepare {
            Some(prep) => {
                screens::prepare::render(prep, app.live.as_ref(), app.now, theme, area, buf)
            }
            None => empty(
                app,
                "nothing to prepare: pick a fault in the catalog",
                area,
                buf,
            ),
        },
        Screen::Live => match &app.live {
            Some(live) => screens::dashboard::render(live, app.now, theme, area, buf),
            None => empty(app, "no run in progress", area, buf),
        },
        Screen::Result => match &app.result {
            Some(res) => screens::result::render(
                &res.record,
                res.report.as_ref(),
                res.scroll,
                theme,
                area,
                buf,
            ),
            None => empty(app, "no result yet", area, buf),
        },
    }
}

fn empty(app: &App, text: &str, area: Rect, buf: &mut Buffer) {
    Paragraph::new(Line::styled(text, app.theme.style(Meaning::Muted))).render(area, buf);
}

fn status_line(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let line = match &app.prompt {
        Some(Prompt::Command(text)) => Line::from(vec![
            Span::styled(":", theme.style(Meaning::HintKey)),
            Span::raw(format!("{}▏", text.lines().join(""))),
        ]),
        Some(Prompt::Note(text)) => Line::from(vec![
            Span::styled("note: ", theme.style(Meaning::HintKey)),
            Span::raw(format!("{}▏", text.lines().join(""))),
            Span::styled(
                "  Enter adds it to the timeline, Esc drops it",
                theme.style(Meaning::Muted),
            ),
        ]),
        None => match &app.flash {
            Some(flash) => {
                let meaning = match flash.error {
                    true => Meaning::FlashError,
                    false => Meaning::Flash,
                };
                Line::styled(flash.text.clone(), theme.style(meaning))
            }
            None => Line::raw(""),
        },
    };
    Paragraph::new(line).render(area, buf);
}

fn hint_bar(app: &App, area: Rect, buf: &mut Buffer) {
    let theme = &app.theme;
    let mut spans = Vec::new();
    let run_elsewhere = app.run_elsewhere();
    for (key, what) in hints(app.key_mode(), app.read_only, run_elsewhere) {
        spans.push(Span::styled(
            format!(" {key}"),
            theme.style(Meaning::HintKey),
        ));
        spans.push(Span::styled(
            format!(" {what} "),
            theme.style(Meaning::HintText),
        ));
    }
    Paragraph::new(Line::from(spans)).render(area, buf);
}
