//! Every cookie the app sets or reads goes through here, on the `cookie` crate: one set of attributes for all of
//! them (`HttpOnly`, `SameSite=Lax`, `Path=/`, and `Secure` whenever the site is served over https, where each name
//! also carries the `__Host-` prefix: see the `*_cookie_name` functions of [`Config`]), and one parser for a
//! request's `Cookie` headers.
use cookie::{time::Duration, Cookie, SameSite};
use http::{header, HeaderMap};

use crate::platform::config::Config;

/// The `Set-Cookie` value that stores `value` under `name`, for `max_age` seconds (`None`: until the browser closes).
pub fn set(config: &Config, name: &str, value: &str, max_age: Option<i64>) -> String {
    let mut c =
        Cookie::build((name, value)).path("/").http_only(true).same_site(SameSite::Lax).secure(config.secure_cookies());
    if let Some(secs) = max_age {
        c = c.max_age(Duration::seconds(secs));
    }
    c.build().to_string()
}

/// The `Set-Cookie` value that removes the cookie `name` (an empty value that expires at once).
pub fn clear(config: &Config, name: &str) -> String {
    set(config, name, "", Some(0))
}

/// The value of the cookie `name` in a request, across every `Cookie` header it carries; the first one if a client
/// sent the name twice. Pairs that do not parse are skipped.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(lines: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for l in lines {
            h.append(header::COOKIE, l.parse().unwrap());
        }
        h
    }

    #[test]
    fn reads_a_cookie_among_others_across_header_fields() {
        let h = headers(&["a=1; portcullis_session=abc.def", "b=2"]);
        assert_eq!(read(&h, "portcullis_session").as_deref(), Some("abc.def"));
        assert_eq!(read(&h, "b").as_deref(), Some("2"));
        assert_eq!(read(&h, "portcullis"), None, "a name is matched whole");
        assert_eq!(read(&headers(&["=x; junk; s=v"]), "s").as_deref(), Some("v"), "bad pairs are skipped");
    }

    #[test]
    fn every_cookie_is_http_only_lax_and_root_scoped_and_secure_on_https() {
        let mut config = Config::for_tests("sqlite::memory:");
        let line = set(&config, "n", "v", Some(120));
        for part in ["n=v", "HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=120"] {
            assert!(line.split("; ").any(|p| p == part), "{part} in {line}");
        }
        assert!(!line.contains("Secure"), "plain http: {line}");
        assert!(!set(&config, "n", "v", None).contains("Max-Age"), "a browser-session cookie");
        assert!(clear(&config, "n").starts_with("n=;") && clear(&config, "n").contains("Max-Age=0"));
        config.base_url = "https://example.com".into();
        assert!(set(&config, "n", "v", None).split("; ").any(|p| p == "Secure"));
    }
}
