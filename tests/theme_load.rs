//! Console themes by meaning: the shipped themes set every meaning, a file overrides
//! only what it lists, every invalid fixture gives exactly the one-line message in
//! its `.expected` file (`{file}` stands for the fixture's path), and `NO_COLOR`
//! leaves no colour while danger and focus still stand out.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chaosdeck::tui::theme::{parse_colour, Meaning, Theme, ThemeError, BUILT_IN, COLOURS};
use ratatui::style::{Color, Modifier, Style};

fn root(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

fn fixture(rel: &str) -> PathBuf {
    root("tests/fixtures/themes").join(rel)
}

fn load(rel: &str) -> Theme {
    let path = fixture(rel);
    Theme::from_file(&path).unwrap_or_else(|e| panic!("{e}"))
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

fn fg(color: Color) -> Style {
    Style::default().fg(color)
}

/// The meaning keys a theme file writes, read from its YAML as nested keys.
fn keys_in(path: &Path) -> HashSet<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let value: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let mut keys = HashSet::new();
    for (region, meanings) in value.as_mapping().unwrap() {
        let Some(meanings) = meanings.as_mapping() else {
            continue;
        };
        for name in meanings.keys() {
            let region = region.as_str().unwrap();
            keys.insert(format!("{region}.{}", name.as_str().unwrap()));
        }
    }
    keys
}

#[test]
fn every_shipped_theme_loads_and_sets_every_meaning() {
    let all: HashSet<String> = Meaning::ALL.iter().map(|m| m.key().to_string()).collect();
    for name in BUILT_IN {
        let path = root("themes").join(format!("{name}.yaml"));
        assert_eq!(keys_in(&path), all, "{name}.yaml must list every meaning");
        let from_disk = Theme::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
        let built_in = Theme::named(name).unwrap();
        assert_eq!(from_disk, built_in, "{name}: the compiled-in copy is stale");
        assert_eq!(built_in.name, name);
    }
}

#[test]
fn the_shipped_themes_differ_where_they_should() {
    let dark = Theme::dark();
    let light = Theme::named("light").unwrap();
    let contrast = Theme::named("high-contrast").unwrap();
    assert_eq!(Theme::named("dark").unwrap(), dark);
    assert_eq!(Theme::default(), dark);
    let critical = Meaning::SeverityCritical;
    assert_eq!(
        dark.style(critical),
        fg(Color::Magenta).add_modifier(Modifier::BOLD)
    );
    assert_eq!(
        dark.style(Meaning::Selected),
        fg(Color::White).bg(Color::Blue)
    );
    // Light: dark enough for a white background (no yellow, no white text).
    assert_eq!(
        light.style(Meaning::SeverityMedium),
        fg(Color::Indexed(130))
    );
    for &meaning in Meaning::ALL {
        let style = light.style(meaning);
        if style.bg.is_none() {
            let bad = [Color::Yellow, Color::White, Color::LightYellow, Color::Gray];
            assert!(
                !bad.contains(&style.fg.unwrap_or(Color::Reset)),
                "{meaning:?}"
            );
        }
    }
    // High contrast: reversed blocks for selection, gates and banners; no dim.
    for meaning in [Meaning::Selected, Meaning::GateArmed, Meaning::Banner] {
        let style = contrast.style(meaning);
        assert!(
            style.add_modifier.contains(Modifier::REVERSED),
            "{meaning:?}"
        );
    }
    for &meaning in Meaning::ALL {
        let style = contrast.style(meaning);
        assert!(!style.add_modifier.contains(Modifier::DIM), "{meaning:?}");
        if style.fg.is_some() {
            assert!(style.add_modifier.contains(Modifier::BOLD), "{meaning:?}");
        }
    }
}

#[test]
fn a_partial_file_overrides_only_what_it_lists() {
    let theme = load("valid/partial.yaml");
    let dark = Theme::dark();
    assert_eq!(theme.name, "my-probes");
    // A listed meaning is drawn exactly as written: dark's bold is not kept.
    assert_eq!(theme.style(Meaning::ProbeDown), fg(Color::Blue));
    for &meaning in Meaning::ALL {
        if meaning != Meaning::ProbeDown {
            assert_eq!(theme.style(meaning), dark.style(meaning), "{meaning:?}");
        }
    }
}

#[test]
fn inherits_picks_the_base_and_the_name_defaults_to_the_file() {
    let theme = load("valid/inherits-light.yaml");
    let light = Theme::named("light").unwrap();
    assert_eq!(theme.name, "inherits-light");
    let changed = [
        Meaning::SeverityCritical,
        Meaning::ChartCpu,
        Meaning::ChartAxis,
    ];
    for &meaning in Meaning::ALL {
        if !changed.contains(&meaning) {
            assert_eq!(theme.style(meaning), light.style(meaning), "{meaning:?}");
        }
    }
    let critical = fg(Color::Rgb(255, 0, 255)).add_modifier(Modifier::BOLD | Modifier::UNDERLINED);
    assert_eq!(theme.style(Meaning::SeverityCritical), critical);
    assert_eq!(theme.style(Meaning::ChartCpu), fg(Color::Indexed(208)));
    let axis = fg(Color::Gray).add_modifier(Modifier::DIM);
    assert_eq!(theme.style(Meaning::ChartAxis), axis);
}

#[test]
fn every_way_of_writing_a_style_is_read() {
    let theme = load("valid/every-form.yaml");
    assert_eq!(theme.style(Meaning::Text), Style::default());
    assert_eq!(theme.style(Meaning::Muted), fg(Color::DarkGray));
    let title = fg(Color::LightCyan).add_modifier(Modifier::BOLD | Modifier::ITALIC);
    assert_eq!(theme.style(Meaning::Title), title);
    let armed = fg(Color::Rgb(0, 0, 0))
        .bg(Color::Indexed(196))
        .add_modifier(Modifier::REVERSED)
        .remove_modifier(Modifier::DIM);
    assert_eq!(theme.style(Meaning::GateArmed), armed);
    assert_eq!(theme.style(Meaning::GateArming), fg(Color::Indexed(42)));
}

#[test]
fn each_valid_fixture_loads() {
    let files = yaml_files(&fixture("valid"));
    assert!(files.len() >= 3);
    for path in files {
        Theme::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn each_invalid_fixture_gives_its_message() {
    let mut failures = Vec::new();
    let files = yaml_files(&fixture("invalid"));
    for path in &files {
        let expected_path = path.with_extension("expected");
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        let expected = expected
            .trim_end()
            .replace("{file}", &path.display().to_string());
        let got = match Theme::from_file(path) {
            Ok(_) => "loaded without error".to_string(),
            Err(e) => e.to_string(),
        };
        if got != expected {
            failures.push(format!(
                "{}:\n  expected: {expected}\n  got:      {got}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 20, "only {} invalid fixtures", files.len());
}

#[test]
fn choose_takes_a_name_a_path_or_nothing() {
    assert_eq!(Theme::choose(None, false).unwrap(), Theme::dark());
    let light = Theme::choose(Some("light"), false).unwrap();
    assert_eq!(light, Theme::named("light").unwrap());
    let path = fixture("valid/partial.yaml");
    let from_path = Theme::choose(path.to_str(), false).unwrap();
    assert_eq!(from_path, load("valid/partial.yaml"));
    assert!(!from_path.is_no_color());
}

#[test]
fn choose_names_what_it_could_not_find() {
    let message = |choice: &str| Theme::choose(Some(choice), false).unwrap_err().to_string();
    assert_eq!(
        message("solarised"),
        "theme \"solarised\": not a built-in theme (dark, light, high-contrast) and no file at that path"
    );
    assert_eq!(
        message("darc"),
        "theme \"darc\": not a built-in theme (dark, light, high-contrast) and no file at \
         that path; did you mean \"dark\"?"
    );
    // A bad file is reported even when NO_COLOR would not draw its colours.
    let bad = fixture("invalid/unknown-colour.yaml");
    let err = Theme::choose(bad.to_str(), true).unwrap_err();
    assert!(matches!(err, ThemeError::Invalid { .. }), "{err}");
    let missing = Theme::from_file(Path::new("/nonexistent/mine.yaml")).unwrap_err();
    assert_eq!(
        missing.to_string(),
        "cannot read /nonexistent/mine.yaml: No such file or directory"
    );
}

#[test]
fn no_color_sets_no_colour_and_danger_still_stands_out() {
    let mut themes = vec![Theme::no_color(), Theme::choose(None, true).unwrap()];
    for name in BUILT_IN {
        themes.push(Theme::choose(Some(name), true).unwrap());
    }
    themes.push(Theme::choose(fixture("valid/every-form.yaml").to_str(), true).unwrap());
    for theme in &themes {
        assert!(theme.is_no_color(), "{}", theme.name);
        for &meaning in Meaning::ALL {
            let style = theme.style(meaning);
            assert_eq!(style.fg, None, "{} {meaning:?}", theme.name);
            assert_eq!(style.bg, None, "{} {meaning:?}", theme.name);
            assert_eq!(style.underline_color, None, "{} {meaning:?}", theme.name);
        }
        let plain = theme.style(Meaning::Text);
        assert_eq!(plain, Style::default());
        let loud = [
            Meaning::SeverityCritical,
            Meaning::ProbeDown,
            Meaning::Selected,
            Meaning::GateArmed,
            Meaning::Banner,
        ];
        for meaning in loud {
            let style = theme.style(meaning);
            assert!(!style.add_modifier.is_empty(), "{meaning:?}");
        }
        // Critical is told from high, and armed from arming, without colour.
        let differ = |a, b| theme.style(a) != theme.style(b);
        assert!(differ(Meaning::SeverityCritical, Meaning::SeverityHigh));
        assert!(differ(Meaning::GateArmed, Meaning::GateArming));
        assert!(differ(Meaning::ProbeDown, Meaning::ProbeUp));
        assert!(differ(Meaning::Selected, Meaning::Text));
    }
}

#[test]
fn meaning_keys_are_unique_and_read_back() {
    let keys: HashSet<&str> = Meaning::ALL.iter().map(|m| m.key()).collect();
    assert_eq!(keys.len(), Meaning::ALL.len());
    for &meaning in Meaning::ALL {
        assert_eq!(Meaning::from_key(meaning.key()), Some(meaning));
        let (region, name) = meaning.key().split_once('.').unwrap();
        assert!(!region.is_empty() && !name.is_empty(), "{meaning:?}");
    }
    assert_eq!(Meaning::SeverityCritical.key(), "severity.critical");
    assert_eq!(Meaning::ProbeDown.key(), "probe.down");
    assert_eq!(Meaning::GateArmed.key(), "gate.armed");
    assert_eq!(Meaning::ChartConnections.key(), "chart.connections");
    assert_eq!(Meaning::from_key("probe.dwon"), None);
    // ALL is in declaration order, so a variant left out shows up as a gap.
    for (i, &meaning) in Meaning::ALL.iter().enumerate() {
        assert_eq!(meaning as usize, i, "{meaning:?}");
    }
}

#[test]
fn colours_parse_by_name_hex_and_index() {
    let cases = [
        ("magenta", Some(Color::Magenta)),
        ("dark-gray", Some(Color::DarkGray)),
        ("dark_grey", Some(Color::DarkGray)),
        ("Light-Red", Some(Color::LightRed)),
        (" white ", Some(Color::White)),
        ("reset", Some(Color::Reset)),
        ("#ff8800", Some(Color::Rgb(255, 136, 0))),
        ("#FFffFF", Some(Color::Rgb(255, 255, 255))),
        ("0", Some(Color::Indexed(0))),
        ("255", Some(Color::Indexed(255))),
        ("256", None),
        ("-1", None),
        ("#12345", None),
        ("#1234567", None),
        ("#gg0000", None),
        ("#+12345", None),
        ("", None),
        ("purpel", None),
        ("darkgray", None),
    ];
    for (text, want) in cases {
        assert_eq!(parse_colour(text), want, "{text:?}");
    }
    for (name, colour) in COLOURS {
        assert_eq!(parse_colour(name), Some(colour), "{name}");
    }
}
