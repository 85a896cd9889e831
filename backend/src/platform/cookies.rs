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

/// The values of the cookies `names` in a request, in the same order, across every `Cookie` header it carries; the
/// first one of a name a client sent twice. Pairs that do not parse are skipped. The headers are parsed once, for
/// every name: the request pipeline reads five cookies on every request.
pub fn read<const N: usize>(headers: &HeaderMap, names: [&str; N]) -> [Option<String>; N] {
    let mut found: [Option<String>; N] = std::array::from_fn(|_| None);
    let pairs = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok);
    for c in pairs {
        if let Some(i) = names.iter().position(|n| *n == c.name()) {
            found[i].get_or_insert_with(|| c.value().to_string());
        }
    }
    found
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
        let h = headers(&["a=1; portcullis_session=abc.def", "b=2; a=3"]);
        let [session, b, a, whole] = read(&h, ["portcullis_session", "b", "a", "portcullis"]);
        assert_eq!(session.as_deref(), Some("abc.def"));
        assert_eq!(b.as_deref(), Some("2"));
        assert_eq!(a.as_deref(), Some("1"), "the first of a name sent twice");
        assert_eq!(whole, None, "a name is matched whole");
        assert_eq!(read(&headers(&["=x; junk; s=v"]), ["s"]), [Some("v".to_string())], "bad pairs are skipped");
        assert_eq!(read(&HeaderMap::new(), ["s", "t"]), [None, None]);
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
