//! Input types shared by the server and the browser: the page checks with the same code the server judges with.
pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A syntactically valid, lower-cased e-mail address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let s = raw.trim();
        if s.is_empty() {
            return Err("Enter your e-mail address.");
        }
        if s.chars().count() > 254 {
            return Err("That e-mail address is too long.");
        }
        let Some((local, domain)) = s.rsplit_once('@') else {
            return Err("Enter an e-mail address like name@example.com.");
        };
        let bad = |c: char| c.is_whitespace() || c.is_control() || c == '<' || c == '>' || c == ',' || c == '"';
        if local.is_empty()
            || local.len() > 64
            || local.contains('@')
            || domain.len() < 3
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
            || s.chars().any(bad)
        {
            return Err("Enter an e-mail address like name@example.com.");
        }
        Ok(Self(s.to_lowercase()))
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

/// Text that passed its parser: read with `as_str`, shown with `Display`; only `parse` makes one.
macro_rules! parsed_text {
    ($($name:ident),*) => {$(
        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    )*};
}
parsed_text!(EmailAddress, DisplayName, OrgName, Slug);

/// What the meter beside a new-password field shows: the policy's objection, if any, and the strength.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordCheck {
    pub error: Option<String>,
    /// zxcvbn's score, 0–4.
    pub score: u8,
    pub label: String,
}

/// A confirmation code as typed: spaces and dashes are dropped.
pub fn parse_code6(raw: &str) -> Result<String, &'static str> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err("Enter the 6-digit code from the e-mail.")
    }
}

/// Where to go after signing in or re-authenticating: a page on this site, or `fallback`. Anything that could leave
/// the site (`//host`, `/\\host`, a scheme, control characters) is refused, and so are the addresses that are not
/// pages (server functions under `/api/`, the provider round trip under `/auth/`).
pub fn safe_return_to<'a>(raw: &'a str, fallback: &'a str) -> &'a str {
    let local = raw.starts_with('/')
        && !raw.starts_with("//")
        && !raw.starts_with("/api/")
        && !raw.starts_with("/auth/")
        && raw.len() <= 512
        && raw.chars().all(|c| c.is_ascii_graphic() && c != '\\');
    if local {
        raw
    } else {
        fallback
    }
}

/// A local path as a query value: `%`, `&`, `#` and `+` escaped, the rest kept readable.
fn query_value(path: &str) -> String {
    path.replace('%', "%25").replace('&', "%26").replace('#', "%23").replace('+', "%2B")
}

/// `path` with `?return_to=…` added when `return_to` is a page to come back to (see [`safe_return_to`]).
pub fn with_return_to(path: &str, return_to: &str) -> String {
    match safe_return_to(return_to, "") {
        "" => path.to_string(),
        to => format!("{path}{}return_to={}", if path.contains('?') { '&' } else { '?' }, query_value(to)),
    }
}

/// The log-in page, coming back to `return_to` after any way of signing in.
pub fn log_in_link(return_to: &str) -> String {
    with_return_to("/users/log-in", return_to)
}

/// Invisible formatting characters (bidirectional overrides and isolates, zero-width characters, the soft hyphen,
/// the byte-order mark): in a name they can make mail or a page read differently from what was typed (L10).
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{00AD}' | '\u{061C}' | '\u{180E}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// A person's display name: trimmed, at most 80 characters, no control or invisible formatting characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    /// Empty means none.
    pub fn parse(raw: &str) -> Result<Option<Self>, &'static str> {
        let name = raw.trim();
        if name.chars().any(|c| c.is_control() || is_invisible_format(c)) {
            return Err("Use letters, numbers, spaces and punctuation only.");
        }
        if name.chars().count() > 80 {
            return Err("Keep it to 80 characters or fewer.");
        }
        Ok((!name.is_empty()).then(|| Self(name.to_string())))
    }
}

/// An organization's name: as a display name, but not empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrgName(String);

impl OrgName {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        match DisplayName::parse(raw)? {
            Some(DisplayName(name)) => Ok(Self(name)),
            None => Err("Give the organization a name."),
        }
    }
}

/// Slugs that would shadow a page under `/organizations/`.
const RESERVED_SLUGS: &[&str] = &["new", "api", "admin", "settings", "members", "invitations"];

/// An organization's address: 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter
/// or digit (a DNS label, so it can become a subdomain later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let slug = raw.trim().to_ascii_lowercase();
        let len = slug.len();
        if !(3..=63).contains(&len) {
            return Err("Use 3 to 63 characters.");
        }
        if !slug.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            || slug.starts_with('-')
            || slug.ends_with('-')
            || slug.contains("--")
        {
            return Err(
                "Use lowercase letters, digits and single hyphens, starting and ending with a letter or digit.",
            );
        }
        if RESERVED_SLUGS.contains(&slug.as_str()) {
            return Err("That address is reserved. Choose another.");
        }
        Ok(Self(slug))
    }
}

/// The slug a name suggests: ASCII letters and digits kept, everything else a single hyphen, padded to 3 and cut
/// to 63 characters. Always passes [`Slug::parse`] unless it is reserved.
pub fn slug_from_name(name: &str) -> String {
    let mut slug = String::new();
    for c in name.trim().chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    slug.truncate(63);
    let mut slug = slug.trim_end_matches('-').to_string();
    while slug.len() < 3 {
        slug.push_str(if slug.is_empty() { "org" } else { "-org" });
    }
    slug
}

/// The slug an organization gets when none is asked for (before a number is added to make it unique).
pub fn suggested_slug(name: &str) -> String {
    let slug = slug_from_name(name);
    if Slug::parse(&slug).is_ok() {
        slug
    } else {
        format!("{slug}-org")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_follow_dns_label_rules() {
        assert_eq!(Slug::parse(" Acme-Labs ").unwrap().as_str(), "acme-labs");
        for bad in ["ab", "-acme", "acme-", "ac--me", "acme labs", "acmé", "new", &"a".repeat(64)] {
            assert!(Slug::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Slug::parse(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn names_suggest_valid_slugs() {
        assert_eq!(slug_from_name("Acme Labs, Inc."), "acme-labs-inc");
        assert_eq!(slug_from_name("  Ünïcode & Co "), "n-code-co");
        assert_eq!(slug_from_name("X"), "x-org");
        assert_eq!(slug_from_name("!!!"), "org");
        assert_eq!(suggested_slug("New"), "new-org");
        for name in ["Acme Labs, Inc.", "X", "!!!", &"long name ".repeat(20), "a-b", "ß"] {
            assert!(Slug::parse(&slug_from_name(name)).is_ok(), "{name:?}");
        }
    }

    #[test]
    fn emails_are_trimmed_and_lowercased() {
        assert_eq!(EmailAddress::parse("  Ann@Example.COM ").unwrap().as_str(), "ann@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in ["", "ann", "ann@", "@example.com", "ann@example", "a b@example.com", "ann@.com", "ann@x..com"] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn codes_accept_spaces_and_dashes() {
        assert_eq!(parse_code6(" 123-456 ").unwrap(), "123456");
        assert_eq!(parse_code6("123 456").unwrap(), "123456");
        assert!(parse_code6("12345").is_err());
        assert!(parse_code6("12345a").is_err());
    }

    #[test]
    fn return_to_accepts_local_paths_only() {
        let fallback = "/users/settings";
        assert_eq!(safe_return_to("/users/settings?tab=email", fallback), "/users/settings?tab=email");
        for bad in
            ["https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:alert(1)", "", "/a b", "/\n"]
        {
            assert_eq!(safe_return_to(bad, fallback), fallback, "{bad:?}");
        }
        for not_a_page in ["/api/log_out", "/auth/local/callback?code=x"] {
            assert_eq!(safe_return_to(not_a_page, fallback), fallback, "{not_a_page:?}");
        }
    }

    #[test]
    fn the_log_in_link_carries_a_page_to_come_back_to_and_nothing_else() {
        assert_eq!(log_in_link("/users/sessions"), "/users/log-in?return_to=/users/sessions");
        assert_eq!(
            log_in_link("/admin/users?q=a+b&page=2#top"),
            "/users/log-in?return_to=/admin/users?q=a%2Bb%26page=2%23top"
        );
        assert_eq!(log_in_link("//evil.example"), "/users/log-in");
        assert_eq!(log_in_link(""), "/users/log-in");
        assert_eq!(with_return_to("/users/mfa?x=1", "/organizations"), "/users/mfa?x=1&return_to=/organizations");
    }

    #[test]
    fn display_names_are_trimmed_and_bounded() {
        assert_eq!(DisplayName::parse("  Ada Lovelace ").unwrap().unwrap().as_str(), "Ada Lovelace");
        assert_eq!(DisplayName::parse("   "), Ok(None));
        assert!(DisplayName::parse(&"é".repeat(81)).is_err());
        assert!(DisplayName::parse("a\u{0}b").is_err());
        // Bidirectional overrides and zero-width characters can make a name read differently in mail (L10).
        assert!(DisplayName::parse("Support \u{202E}moc.evil").is_err());
        assert!(DisplayName::parse("Ac\u{200B}me").is_err());
        assert!(OrgName::parse("Acme\u{2066}").is_err());
        assert!(OrgName::parse("  ").is_err());
    }
}
