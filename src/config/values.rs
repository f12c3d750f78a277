//! Checks of single values that the file and the `--probe` flag share: probe
//! names, `HOST:PORT` addresses and `http://` URLs.

/// Whether `name` is a probe name: `[a-z0-9][a-z0-9._-]*`.
pub fn is_probe_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c))
}

/// What probe names may hold, for messages.
pub const NAME_RULE: &str = "probe names are lowercase letters, digits, '.', '_' and '-', \
                             starting with a letter or digit, such as app-health";

/// Checks `HOST:PORT`; the reason it is wrong otherwise.
pub fn host_port(text: &str) -> Result<(), String> {
    let text = text.trim();
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("no port".to_string());
    };
    if host.is_empty() {
        return Err("no host".to_string());
    }
    match port.parse::<u16>() {
        Ok(0) => Err("port 0 cannot be connected to".to_string()),
        Ok(_) => Ok(()),
        Err(_) => Err(format!("port \"{port}\" is not a number from 1 to 65535")),
    }
}

/// Checks an `http://HOST[:PORT]/PATH` URL; the reason it is wrong otherwise.
pub fn http_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") {
        return Err("probes speak plain HTTP only, so https:// is not supported yet".into());
    }
    match url.strip_prefix("http://") {
        Some(rest) if rest.split(['/', '?']).next().is_some_and(|h| !h.is_empty()) => Ok(()),
        Some(_) => Err("the URL has no host".into()),
        None => Err("it does not start with http://".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_names_follow_the_rule() {
        for good in ["app-health", "db.query_2", "0ready"] {
            assert!(is_probe_name(good), "{good}");
        }
        for bad in ["", "App", "-x", "a b", "tcp:1"] {
            assert!(!is_probe_name(bad), "{bad}");
        }
    }

    #[test]
    fn addresses_and_urls_say_what_is_wrong() {
        assert_eq!(host_port("db:5432"), Ok(()));
        assert_eq!(host_port("[::1]:5432"), Ok(()));
        assert_eq!(host_port(":5432"), Err("no host".to_string()));
        assert_eq!(
            host_port("db:0"),
            Err("port 0 cannot be connected to".to_string())
        );
        assert_eq!(http_url("http://x:8080/health"), Ok(()));
        assert_eq!(http_url("http://"), Err("the URL has no host".to_string()));
        assert_eq!(
            http_url("x:8080/health"),
            Err("it does not start with http://".to_string())
        );
    }
}
