//! The `--probe` flag of one-off runs: `[NAME=]http://…`, `[NAME=]tcp://HOST:PORT`
//! or `[NAME=]sql:QUERY`.

use super::values::{host_port, http_url, is_probe_name, NAME_RULE};
use super::ObserveConfig;
use crate::driver::postgres::PgConnSpec;
use crate::observe::{ProbeCheck, ProbeSpec};

const FORMS: &str = "expected http://…, tcp://HOST:PORT or sql:QUERY, optionally after NAME=";

/// Whether `text` starts with a probe kind the flag knows.
fn has_scheme(text: &str) -> bool {
    ["http://", "https://", "tcp://", "sql:"]
        .iter()
        .any(|scheme| text.starts_with(scheme))
}

/// Parses one `--probe` value. An sql probe runs on `pg` (the `--conn` target) and
/// is refused without it. Interval and timeout come from `defaults`.
pub fn parse_probe_flag(
    text: &str,
    defaults: &ObserveConfig,
    pg: Option<&PgConnSpec>,
) -> Result<ProbeSpec, String> {
    let given = text.trim();
    let (name, body) = match given.split_once('=') {
        Some((name, rest)) if has_scheme(rest) => {
            if !is_probe_name(name) {
                return Err(format!(
                    "--probe \"{given}\": invalid probe name \"{name}\"; {NAME_RULE}"
                ));
            }
            (Some(name.to_string()), rest)
        }
        _ => (None, given),
    };
    let bad = |why: String| format!("--probe \"{given}\": {why}");
    let (default_name, check) = if body.starts_with("http://") || body.starts_with("https://") {
        http_url(body).map_err(|why| bad(format!("{why}; expected http://HOST[:PORT]/PATH")))?;
        let check = ProbeCheck::Http {
            url: body.to_string(),
            status: None,
            body_contains: None,
        };
        ("app-health".to_string(), check)
    } else if let Some(addr) = body.strip_prefix("tcp://") {
        host_port(addr).map_err(|why| {
            bad(format!(
                "invalid address \"{addr}\": {why}; expected tcp://HOST:PORT such as tcp://127.0.0.1:8080"
            ))
        })?;
        let check = ProbeCheck::Tcp {
            addr: addr.to_string(),
        };
        (format!("tcp:{addr}"), check)
    } else if let Some(query) = body.strip_prefix("sql:") {
        if query.trim().is_empty() {
            return Err(bad(
                "no query after sql:; expected sql:QUERY such as sql:SELECT 1".into(),
            ));
        }
        let Some(conn) = pg else {
            return Err(format!(
                "--probe {given} needs --conn: an sql probe runs its query on the --conn database"
            ));
        };
        let check = ProbeCheck::Sql {
            conn: conn.clone(),
            query: query.trim().to_string(),
            expect: None,
            fresh_connection: false,
        };
        ("db-query".to_string(), check)
    } else {
        return Err(bad(format!("unknown kind of probe; {FORMS}")));
    };
    Ok(ProbeSpec {
        name: name.unwrap_or(default_name),
        check,
        interval: defaults.interval,
        timeout: defaults.timeout,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn parse(text: &str) -> Result<ProbeSpec, String> {
        parse_probe_flag(text, &ObserveConfig::default(), None)
    }

    #[test]
    fn http_without_a_name_is_app_health() {
        let spec = parse("http://127.0.0.1:8080/health").unwrap();
        assert_eq!(spec.name, "app-health");
        let ProbeCheck::Http { url, status, .. } = &spec.check else {
            panic!("{spec:?}");
        };
        assert_eq!(url, "http://127.0.0.1:8080/health");
        assert_eq!(*status, None);
        assert_eq!(spec.interval, ObserveConfig::default().interval);
        assert_eq!(spec.timeout, ObserveConfig::default().timeout);
    }

    #[test]
    fn an_equals_sign_in_the_query_is_not_a_name() {
        let spec = parse("http://x:8080/health?a=b&c=http://y").unwrap();
        assert_eq!(spec.name, "app-health");
        let ProbeCheck::Http { url, .. } = &spec.check else {
            panic!("{spec:?}");
        };
        assert_eq!(url, "http://x:8080/health?a=b&c=http://y");
    }

    #[test]
    fn a_name_prefix_names_the_probe() {
        let spec = parse("web.v2=http://x/?q=1").unwrap();
        assert_eq!(spec.name, "web.v2");
        let spec = parse("api_port=tcp://127.0.0.1:8080").unwrap();
        assert_eq!(spec.name, "api_port");
    }

    #[test]
    fn tcp_is_named_after_its_address() {
        let spec = parse("tcp://127.0.0.1:8080").unwrap();
        assert_eq!(spec.name, "tcp:127.0.0.1:8080");
        assert!(matches!(&spec.check, ProbeCheck::Tcp { addr } if addr == "127.0.0.1:8080"));
        let err = parse("tcp://127.0.0.1").unwrap_err();
        assert_eq!(
            err,
            "--probe \"tcp://127.0.0.1\": invalid address \"127.0.0.1\": no port; \
             expected tcp://HOST:PORT such as tcp://127.0.0.1:8080"
        );
    }

    #[test]
    fn sql_needs_a_connection() {
        let err = parse("sql:SELECT 1").unwrap_err();
        assert_eq!(
            err,
            "--probe sql:SELECT 1 needs --conn: an sql probe runs its query on the --conn database"
        );
        let conn = PgConnSpec::parse("host=127.0.0.1 port=5432 user=app password=secret").unwrap();
        let defaults = ObserveConfig::default();
        let spec = parse_probe_flag("sql:SELECT a = 1 FROM t", &defaults, Some(&conn)).unwrap();
        assert_eq!(spec.name, "db-query");
        let ProbeCheck::Sql { query, .. } = &spec.check else {
            panic!("{spec:?}");
        };
        assert_eq!(query, "SELECT a = 1 FROM t");
        let spec = parse_probe_flag("orders=sql:SELECT 1", &defaults, Some(&conn)).unwrap();
        assert_eq!(spec.name, "orders");
    }

    #[test]
    fn bad_names_and_kinds_are_explained() {
        let err = parse("App=http://x/").unwrap_err();
        assert!(err.contains("invalid probe name \"App\""), "{err}");
        let err = parse("ftp://x/").unwrap_err();
        assert_eq!(
            err,
            "--probe \"ftp://x/\": unknown kind of probe; expected http://…, \
             tcp://HOST:PORT or sql:QUERY, optionally after NAME="
        );
        let err = parse("https://x/").unwrap_err();
        assert!(err.contains("https:// is not supported"), "{err}");
        let err = parse("http:///health").unwrap_err();
        assert!(err.contains("no host"), "{err}");
    }
}
