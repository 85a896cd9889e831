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

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map(|(l, _)| l).unwrap_or(&self.0)
    }
}

impl std::fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The password policy and the strength meter run on the server only: zxcvbn's word lists and the NFKC tables
/// are most of a browser bundle's weight, so the page asks [`crate::auth::register::check_new_password`] as you
/// type, and the same code judges the submitted form.
#[cfg(feature = "ssr")]
pub use password::{normalize_password, strength, NewPassword, PasswordContext};

/// What the meter beside a new-password field shows: the policy's objection, if any, and the strength.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PasswordCheck {
    pub error: Option<String>,
    /// zxcvbn's score, 0–4.
    pub score: u8,
    pub label: String,
}

#[cfg(feature = "ssr")]
mod password {
    use super::{PasswordCheck, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
    use unicode_normalization::UnicodeNormalization;

    /// The one normalisation applied to every password before hashing or checking (NFKC), so composed and
    /// decomposed forms of the same text are the same password.
    pub fn normalize_password(raw: &str) -> String {
        raw.nfkc().collect()
    }

    /// What a password must not be built from: the site's name and the user's own address.
    #[derive(Clone, Copy, Debug)]
    pub struct PasswordContext<'a> {
        pub app_name: &'a str,
        pub email: Option<&'a str>,
    }

    /// zxcvbn's score (0–4) and a word for it, for the meter beside the field.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Strength {
        pub score: u8,
        pub label: &'static str,
    }

    /// Passwords scoring below this (zxcvbn, 0–4) are refused: common passwords, keyboard walks, dictionary words
    /// with predictable substitutions, dates, repeats.
    const MIN_SCORE: u8 = 3;
    /// zxcvbn's cost grows with length; a password this long is judged on its start (and is long enough anyway).
    const ESTIMATE_CHARS: usize = 100;

    fn context_words<'a>(ctx: &PasswordContext<'a>) -> Vec<String> {
        let mut words = vec![ctx.app_name.to_lowercase()];
        if let Some(email) = ctx.email {
            let email = email.trim().to_lowercase();
            if let Some((local, _)) = email.rsplit_once('@') {
                words.push(local.to_string());
            }
            words.push(email);
        }
        words.retain(|w| w.chars().count() >= 3);
        words
    }

    fn estimate(normalized: &str, ctx: &PasswordContext) -> zxcvbn::Entropy {
        let head: String = normalized.chars().take(ESTIMATE_CHARS).collect();
        let words = context_words(ctx);
        let inputs: Vec<&str> = words.iter().map(String::as_str).collect();
        zxcvbn::zxcvbn(&head, &inputs)
    }

    /// How strong `raw` is, for the meter. The server does not use this to decide; [`NewPassword::parse`] does.
    pub fn strength(raw: &str, ctx: &PasswordContext) -> Strength {
        let normalized = normalize_password(raw);
        if normalized.is_empty() {
            return Strength { score: 0, label: "" };
        }
        let score = u8::from(estimate(&normalized, ctx).score());
        let label = match score {
            0 => "Very weak",
            1 => "Weak",
            2 => "Fair",
            3 => "Strong",
            _ => "Very strong",
        };
        Strength { score, label }
    }

    /// A new password that meets the policy, already normalised. Never printed.
    #[derive(Clone)]
    pub struct NewPassword(String);

    impl std::fmt::Debug for NewPassword {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("NewPassword(***)")
        }
    }

    impl NewPassword {
        /// Length is counted in Unicode code points after normalisation. No composition rules: instead, passwords
        /// that are common or guessable (zxcvbn's embedded lists of common passwords, words and names, keyboard
        /// patterns, dates) or built from the site's name or the user's address are refused, with the reason.
        pub fn parse(raw: &str, ctx: &PasswordContext) -> Result<Self, String> {
            let normalized = normalize_password(raw);
            let n = normalized.chars().count();
            if n == 0 {
                return Err("Choose a password.".into());
            }
            if n < PASSWORD_MIN_CHARS {
                return Err(format!(
                    "Use at least {PASSWORD_MIN_CHARS} characters ({n} so far). A few unrelated words make a strong password."
                ));
            }
            if n > PASSWORD_MAX_CHARS {
                return Err(format!("Use at most {PASSWORD_MAX_CHARS} characters."));
            }
            let lower = normalized.to_lowercase();
            if context_words(ctx).iter().any(|w| lower.contains(w.as_str())) {
                return Err("Don't build your password from your e-mail address or this site's name.".into());
            }
            let entropy = estimate(&normalized, ctx);
            if u8::from(entropy.score()) < MIN_SCORE {
                let why = entropy
                    .feedback()
                    .and_then(|f| f.warning())
                    .map(|w| {
                        let w = w.to_string();
                        if w.ends_with('.') {
                            w
                        } else {
                            format!("{w}.")
                        }
                    })
                    .unwrap_or_else(|| "This password is too easy to guess.".into());
                return Err(format!("{why} Add another word or two that have nothing to do with you."));
            }
            Ok(Self(normalized))
        }

        pub fn expose(&self) -> &str {
            &self.0
        }
    }
    /// The meter's answer for `raw`: the same verdict [`NewPassword::parse`] gives the submitted form.
    pub fn check(raw: &str, ctx: &PasswordContext) -> PasswordCheck {
        let s = strength(raw, ctx);
        PasswordCheck { error: NewPassword::parse(raw, ctx).err(), score: s.score, label: s.label.to_string() }
    }
}

#[cfg(feature = "ssr")]
pub use password::check as check_password;

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

/// A display name: trimmed, at most 80 characters, no control or invisible formatting characters; empty means none.
pub fn parse_display_name(raw: &str) -> Result<Option<String>, &'static str> {
    let name = raw.trim();
    if name.chars().any(|c| c.is_control() || is_invisible_format(c)) {
        return Err("Use letters, numbers, spaces and punctuation only.");
    }
    if name.chars().count() > 80 {
        return Err("Keep it to 80 characters or fewer.");
    }
    Ok((!name.is_empty()).then(|| name.to_string()))
}

/// An organization's name: trimmed, 1–80 characters, no control characters.
pub fn parse_org_name(raw: &str) -> Result<String, &'static str> {
    let name = raw.trim();
    if name.is_empty() {
        return Err("Give the organization a name.");
    }
    parse_display_name(name).map(|n| n.unwrap_or_default())
}

/// Slugs that would shadow a page under `/organizations/`.
const RESERVED_SLUGS: &[&str] = &["new", "api", "admin", "settings", "members", "invitations"];

/// An organization's address: 3–63 lowercase letters, digits and single hyphens, starting and ending with a letter
/// or digit (a DNS label, so it can become a subdomain later).
pub fn parse_slug(raw: &str) -> Result<String, &'static str> {
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
        return Err("Use lowercase letters, digits and single hyphens, starting and ending with a letter or digit.");
    }
    if RESERVED_SLUGS.contains(&slug.as_str()) {
        return Err("That address is reserved. Choose another.");
    }
    Ok(slug)
}

/// The slug a name suggests: ASCII letters and digits kept, everything else a single hyphen, padded to 3 and cut
/// to 63 characters. Always passes [`parse_slug`] unless it is reserved.
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
    if parse_slug(&slug).is_ok() {
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
        assert_eq!(parse_slug(" Acme-Labs ").unwrap(), "acme-labs");
        for bad in ["ab", "-acme", "acme-", "ac--me", "acme labs", "acmé", "new", &"a".repeat(64)] {
            assert!(parse_slug(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_slug(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn names_suggest_valid_slugs() {
        assert_eq!(slug_from_name("Acme Labs, Inc."), "acme-labs-inc");
        assert_eq!(slug_from_name("  Ünïcode & Co "), "n-code-co");
        assert_eq!(slug_from_name("X"), "x-org");
        assert_eq!(slug_from_name("!!!"), "org");
        assert_eq!(suggested_slug("New"), "new-org");
        for name in ["Acme Labs, Inc.", "X", "!!!", &"long name ".repeat(20), "a-b", "ß"] {
            assert!(parse_slug(&slug_from_name(name)).is_ok(), "{name:?}");
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

    const CTX: PasswordContext = PasswordContext { app_name: "Portcullis", email: Some("ann.lee@example.com") };

    fn too_short(p: &str) -> bool {
        NewPassword::parse(p, &CTX).is_err_and(|e| e.contains("at least 12"))
    }

    #[test]
    fn s1_password_length_counts_code_points() {
        // 11 two-byte characters are 22 bytes but 11 code points: too short.
        assert!(too_short(&"é".repeat(11)));
        assert!(!too_short(&"é".repeat(12)));
        assert!(too_short(&"a".repeat(11)));
    }

    #[test]
    fn s2_composed_and_decomposed_forms_are_the_same_password() {
        let composed = NewPassword::parse("caf\u{e9} au lait, vite, merci bien", &CTX).unwrap();
        let decomposed = NewPassword::parse("cafe\u{301} au lait, vite, merci bien", &CTX).unwrap();
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn s2_long_passwords_are_kept_whole() {
        let mut x: u32 = 2_463_534_242;
        let long: String = (0..128)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                char::from(b'a' + (x % 26) as u8)
            })
            .collect();
        assert_eq!(NewPassword::parse(&long, &CTX).unwrap().expose().len(), 128);
        assert!(NewPassword::parse(&"x".repeat(257), &CTX).is_err());
    }

    #[test]
    fn s3_a_long_lowercase_passphrase_is_accepted() {
        assert!(NewPassword::parse("correct horse battery staple", &CTX).is_ok());
        assert!(NewPassword::parse("purple elephants dance quietly", &CTX).is_ok());
    }

    #[test]
    fn s4_common_passwords_are_refused_with_a_reason() {
        for common in ["password123456", "password1234567", "qwertyuiopasdf", "123456789012", "iloveyouiloveyou"] {
            let err = NewPassword::parse(common, &CTX).unwrap_err();
            assert!(err.contains("Add another word"), "{common}: {err}");
        }
    }

    #[test]
    fn s4_the_site_name_and_the_email_are_refused_as_context_words() {
        for p in ["Portcullis2026!!!", "my ann.lee password here", "ann.lee@example.com"] {
            let err = NewPassword::parse(p, &CTX).unwrap_err();
            assert!(err.contains("e-mail address or this site's name"), "{p}: {err}");
        }
    }

    #[test]
    fn the_meter_rises_with_strength() {
        assert!(strength("password", &CTX).score < strength("correct horse battery staple", &CTX).score);
        assert_eq!(strength("", &CTX).label, "");
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
        assert_eq!(parse_display_name("  Ada Lovelace "), Ok(Some("Ada Lovelace".into())));
        assert_eq!(parse_display_name("   "), Ok(None));
        assert!(parse_display_name(&"é".repeat(81)).is_err());
        assert!(parse_display_name("a\u{0}b").is_err());
        // Bidirectional overrides and zero-width characters can make a name read differently in mail (L10).
        assert!(parse_display_name("Support \u{202E}moc.evil").is_err());
        assert!(parse_display_name("Ac\u{200B}me").is_err());
        assert!(parse_org_name("Acme\u{2066}").is_err());
    }
}
