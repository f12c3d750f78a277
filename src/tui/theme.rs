//! Colours by meaning. A theme names what a colour says (`severity.critical`,
//! `probe.down`, `gate.armed`), never where it is drawn; every meaning has a
//! fallback (the built-in dark theme), so a theme file overrides only what it lists.
//!
//! Themes are YAML files (`themes/README.md`); the three in `themes/` are compiled
//! in and chosen by name. Reading and checking a file lives in [`super::theme_file`].

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};

pub use super::theme_file::ThemeError;
use super::theme_file::{parse, read};

/// The names `--theme` and `inherits:` accept without a path.
pub const BUILT_IN: [&str; 3] = ["dark", "light", "high-contrast"];

const DARK_YAML: &str = include_str!("../../themes/dark.yaml");
const LIGHT_YAML: &str = include_str!("../../themes/light.yaml");
const HIGH_CONTRAST_YAML: &str = include_str!("../../themes/high-contrast.yaml");

/// What a piece of the screen means. Screens ask the theme for a meaning's style.
/// A new variant needs a key in [`Meaning::key`], a place in [`Meaning::ALL`], a
/// modifier in the `NO_COLOR` table and a line in each file of `themes/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Meaning {
    /// Ordinary text.
    Text,
    /// Less important text: hints, units, unavailable faults.
    Muted,
    /// Screen and pane titles.
    Title,
    /// Pane borders.
    Border,
    /// The border of the pane that has the keys.
    BorderFocus,
    /// The selected row.
    Selected,
    /// A key in the hint bar and the help screen.
    HintKey,
    /// The words after a key in the hint bar.
    HintText,
    /// A status-line message that clears itself.
    Flash,
    /// A status-line error.
    FlashError,
    /// The red banner while dangling faults exist.
    Banner,
    /// A fault whose target is not configured or not reachable.
    Unavailable,
    SeverityLow,
    SeverityMedium,
    SeverityHigh,
    SeverityCritical,
    ProbeUp,
    ProbeDown,
    /// A probe with no check yet.
    ProbeUnknown,
    /// The gate's question and what the operator has typed.
    GatePrompt,
    /// The critical gate while its countdown runs.
    GateArming,
    /// The gate once Enter would inject.
    GateArmed,
    /// A fault is on (header state while injecting and observing).
    StateActive,
    /// Nothing is on (header state before injection and after teardown).
    StateSafe,
    /// A teardown step whose undo was verified.
    Verified,
    /// A teardown step that left something behind.
    Residual,
    VerdictPass,
    VerdictFail,
    ChartConnections,
    ChartMaxConnections,
    ChartMemory,
    ChartDisk,
    ChartCpu,
    ChartContainer,
    ChartAxis,
    Sparkline,
    TimelineOffset,
    TimelineNote,
    TimelineError,
}

impl Meaning {
    /// Every meaning, in declaration order.
    pub const ALL: &'static [Meaning] = &[
        Meaning::Text,
        Meaning::Muted,
        Meaning::Title,
        Meaning::Border,
        Meaning::BorderFocus,
        Meaning::Selected,
        Meaning::HintKey,
        Meaning::HintText,
        Meaning::Flash,
        Meaning::FlashError,
        Meaning::Banner,
        Meaning::Unavailable,
        Meaning::SeverityLow,
        Meaning::SeverityMedium,
        Meaning::SeverityHigh,
        Meaning::SeverityCritical,
        Meaning::ProbeUp,
        Meaning::ProbeDown,
        Meaning::ProbeUnknown,
        Meaning::GatePrompt,
        Meaning::GateArming,
        Meaning::GateArmed,
        Meaning::StateActive,
        Meaning::StateSafe,
        Meaning::Verified,
        Meaning::Residual,
        Meaning::VerdictPass,
        Meaning::VerdictFail,
        Meaning::ChartConnections,
        Meaning::ChartMaxConnections,
        Meaning::ChartMemory,
        Meaning::ChartDisk,
        Meaning::ChartCpu,
        Meaning::ChartContainer,
        Meaning::ChartAxis,
        Meaning::Sparkline,
        Meaning::TimelineOffset,
        Meaning::TimelineNote,
        Meaning::TimelineError,
    ];

    /// The meaning's key in theme files: `region.name`, such as `severity.critical`.
    pub fn key(self) -> &'static str {
        match self {
            Meaning::Text => "text.normal",
            Meaning::Muted => "text.muted",
            Meaning::Title => "text.title",
            Meaning::Border => "border.normal",
            Meaning::BorderFocus => "border.focus",
            Meaning::Selected => "list.selected",
            Meaning::Unavailable => "list.unavailable",
            Meaning::HintKey => "hint.key",
            Meaning::HintText => "hint.text",
            Meaning::Flash => "status.flash",
            Meaning::FlashError => "status.error",
            Meaning::Banner => "status.banner",
            Meaning::SeverityLow => "severity.low",
            Meaning::SeverityMedium => "severity.medium",
            Meaning::SeverityHigh => "severity.high",
            Meaning::SeverityCritical => "severity.critical",
            Meaning::ProbeUp => "probe.up",
            Meaning::ProbeDown => "probe.down",
            Meaning::ProbeUnknown => "probe.unknown",
            Meaning::GatePrompt => "gate.prompt",
            Meaning::GateArming => "gate.arming",
            Meaning::GateArmed => "gate.armed",
            Meaning::StateActive => "state.active",
            Meaning::StateSafe => "state.safe",
            Meaning::Verified => "teardown.verified",
            Meaning::Residual => "teardown.residual",
            Meaning::VerdictPass => "verdict.pass",
            Meaning::VerdictFail => "verdict.fail",
            Meaning::ChartConnections => "chart.connections",
            Meaning::ChartMaxConnections => "chart.max_connections",
            Meaning::ChartMemory => "chart.memory",
            Meaning::ChartDisk => "chart.disk",
            Meaning::ChartCpu => "chart.cpu",
            Meaning::ChartContainer => "chart.container",
            Meaning::ChartAxis => "chart.axis",
            Meaning::Sparkline => "chart.sparkline",
            Meaning::TimelineOffset => "timeline.offset",
            Meaning::TimelineNote => "timeline.note",
            Meaning::TimelineError => "timeline.error",
        }
    }

    /// The meaning a theme-file key names.
    pub fn from_key(key: &str) -> Option<Meaning> {
        Meaning::ALL.iter().copied().find(|m| m.key() == key)
    }
}

/// A set of styles, one per meaning.
#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    /// The theme's name (`dark`, or the `name:` of a file).
    pub name: String,
    /// Every meaning's style when drawing in colour.
    pub(super) styles: BTreeMap<Meaning, Style>,
    pub(super) no_color: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme::dark()
    }
}

impl Theme {
    /// The built-in dark theme (`themes/dark.yaml`), the fallback of every meaning.
    pub fn dark() -> Theme {
        dark_base()
    }

    /// Every meaning told apart by bold, dim, reversed and underline only (`NO_COLOR`).
    pub fn no_color() -> Theme {
        Theme {
            name: "no-color".into(),
            no_color: true,
            ..Theme::dark()
        }
    }

    /// The style of one meaning.
    pub fn style(&self, meaning: Meaning) -> Style {
        if self.no_color {
            return Style::default().add_modifier(no_color_modifier(meaning));
        }
        self.styles.get(&meaning).copied().unwrap_or_default()
    }

    /// Whether this theme draws without colours (`NO_COLOR`).
    pub fn is_no_color(&self) -> bool {
        self.no_color
    }

    /// A built-in theme by name: `dark`, `light` or `high-contrast`.
    pub fn named(name: &str) -> Option<Theme> {
        let text = match name {
            "dark" => return Some(dark_base()),
            "light" => LIGHT_YAML,
            "high-contrast" => HIGH_CONTRAST_YAML,
            _ => return None,
        };
        let file = Path::new("themes").join(format!("{name}.yaml"));
        // The shipped files are checked by tests; dark is the last resort.
        Some(Theme::from_text(&file, text).unwrap_or_else(|e| {
            tracing::error!("built-in theme {name}: {e}");
            dark_base()
        }))
    }

    /// Reads a theme file: the meanings it lists over its `inherits:` base (dark
    /// when it names none).
    pub fn from_file(path: &Path) -> Result<Theme, ThemeError> {
        let text = read(path)?;
        Theme::from_text(path, &text)
    }

    /// A theme from YAML text; `file` names it in errors and gives the default name.
    pub fn from_text(file: &Path, text: &str) -> Result<Theme, ThemeError> {
        let spec = parse(file, text)?;
        let mut theme = match spec.inherits.as_deref() {
            Some(base) => Theme::named(base).unwrap_or_else(dark_base),
            None => dark_base(),
        };
        theme.name = spec.name.unwrap_or_else(|| stem(file));
        theme.styles.extend(spec.styles);
        Ok(theme)
    }

    /// `--theme` value or the config's `theme:` — a built-in name or a path to a
    /// YAML file (as given: relative to the current directory); `None` → dark. When
    /// `no_color` is true (the caller passes whether `NO_COLOR` is set and non-empty,
    /// per no-color.org), the result draws without colours: meanings are told apart
    /// by bold/dim/reversed/underline only. A bad choice is an error even then.
    pub fn choose(choice: Option<&str>, no_color: bool) -> Result<Theme, ThemeError> {
        let mut theme = match choice {
            None => dark_base(),
            Some(choice) => match Theme::named(choice) {
                Some(theme) => theme,
                None if Path::new(choice).is_file() => Theme::from_file(Path::new(choice))?,
                None => {
                    let name = choice.to_string();
                    return Err(ThemeError::UnknownName { name });
                }
            },
        };
        theme.no_color = no_color;
        Ok(theme)
    }
}

/// The dark theme from `themes/dark.yaml`, parsed once.
fn dark_base() -> Theme {
    static DARK: OnceLock<Theme> = OnceLock::new();
    DARK.get_or_init(|| {
        let mut theme = Theme {
            name: "dark".into(),
            styles: Default::default(),
            no_color: false,
        };
        match parse(Path::new("themes/dark.yaml"), DARK_YAML) {
            Ok(spec) => theme.styles.extend(spec.styles),
            Err(e) => tracing::error!("built-in theme dark: {e}"),
        }
        theme
    })
    .clone()
}

fn stem(file: &Path) -> String {
    file.file_stem()
        .map_or_else(|| "theme".into(), |s| s.to_string_lossy().into_owned())
}

/// Colour names as theme files write them (`grey` and `_` are read as well).
pub const COLOURS: [(&str, Color); 17] = [
    ("black", Color::Black),
    ("red", Color::Red),
    ("green", Color::Green),
    ("yellow", Color::Yellow),
    ("blue", Color::Blue),
    ("magenta", Color::Magenta),
    ("cyan", Color::Cyan),
    ("gray", Color::Gray),
    ("dark-gray", Color::DarkGray),
    ("light-red", Color::LightRed),
    ("light-green", Color::LightGreen),
    ("light-yellow", Color::LightYellow),
    ("light-blue", Color::LightBlue),
    ("light-magenta", Color::LightMagenta),
    ("light-cyan", Color::LightCyan),
    ("white", Color::White),
    ("reset", Color::Reset),
];

/// A colour as a theme file writes it: a name from [`COLOURS`], `#rrggbb`, or an
/// index 0-255 written as text.
pub fn parse_colour(text: &str) -> Option<Color> {
    let text = text.trim().to_lowercase();
    if let Some(hex) = text.strip_prefix('#') {
        let six_digits = hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit());
        let rgb = u32::from_str_radix(hex, 16).ok().filter(|_| six_digits)?;
        let [_, r, g, b] = rgb.to_be_bytes();
        return Some(Color::Rgb(r, g, b));
    }
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_digit()) {
        return text.parse::<u8>().ok().map(Color::Indexed);
    }
    let name = text.replace(['_', ' '], "-").replace("grey", "gray");
    COLOURS.iter().find(|(n, _)| *n == name).map(|(_, c)| *c)
}

/// Whether `NO_COLOR` asks for no colours: set and not empty (no-color.org).
pub fn no_color_requested(value: Option<&std::ffi::OsStr>) -> bool {
    value.is_some_and(|v| !v.is_empty())
}

/// How each meaning stands out without colours. Meanings that carry danger or
/// focus (critical, probe down, selection, armed gate, banner) never look like
/// plain text; severity and verdicts are also always written as words.
fn no_color_modifier(meaning: Meaning) -> Modifier {
    let bold = Modifier::BOLD;
    let block = Modifier::REVERSED | Modifier::BOLD;
    match meaning {
        Meaning::Text | Meaning::HintText | Meaning::Flash => Modifier::empty(),
        Meaning::Muted | Meaning::Unavailable | Meaning::Border => Modifier::DIM,
        Meaning::Title | Meaning::BorderFocus | Meaning::HintKey => bold,
        Meaning::Selected => Modifier::REVERSED,
        Meaning::FlashError | Meaning::Banner => block,
        Meaning::SeverityLow | Meaning::SeverityMedium => Modifier::empty(),
        Meaning::SeverityHigh => bold,
        Meaning::SeverityCritical => bold | Modifier::UNDERLINED,
        Meaning::ProbeUp | Meaning::StateSafe | Meaning::Verified => Modifier::empty(),
        Meaning::ProbeDown | Meaning::StateActive | Meaning::Residual => bold,
        Meaning::ProbeUnknown => Modifier::DIM,
        Meaning::GatePrompt => bold,
        Meaning::GateArming => bold | Modifier::UNDERLINED,
        Meaning::GateArmed => block,
        Meaning::VerdictPass => bold,
        Meaning::VerdictFail => block,
        Meaning::ChartConnections | Meaning::ChartMemory | Meaning::ChartDisk => Modifier::empty(),
        Meaning::ChartCpu | Meaning::ChartContainer | Meaning::Sparkline => Modifier::empty(),
        Meaning::ChartMaxConnections => bold,
        Meaning::ChartAxis | Meaning::TimelineOffset => Modifier::DIM,
        Meaning::TimelineNote => Modifier::empty(),
        Meaning::TimelineError => bold,
    }
}
