//! Input types shared by the server and the browser: the page checks with the same code the server judges with.
use unicode_normalization::UnicodeNormalization;

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

/// The one normalisation applied to every password before hashing or checking (NFKC), so composed and
/// decomposed forms of the same text are the same password.
pub fn normalize_password(raw: &str) -> String {
    raw.nfkc().collect()
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
    /// Length is counted in Unicode code points after normalisation. No composition rules.
    pub fn parse(raw: &str) -> Result<Self, String> {
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
        Ok(Self(normalized))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

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
    fn s1_password_length_counts_code_points() {
        // 12 two-byte characters: 24 bytes but 12 code points, so accepted.
        assert!(NewPassword::parse(&"é".repeat(12)).is_ok());
        assert!(NewPassword::parse(&"é".repeat(11)).is_err());
        assert!(NewPassword::parse(&"a".repeat(11)).is_err());
    }

    #[test]
    fn s2_composed_and_decomposed_forms_are_the_same_password() {
        let composed = NewPassword::parse("caf\u{e9} au lait please").unwrap();
        let decomposed = NewPassword::parse("cafe\u{301} au lait please").unwrap();
        assert_eq!(composed.expose(), decomposed.expose());
    }

    #[test]
    fn s2_long_passwords_are_kept_whole() {
        let long = "x".repeat(128);
        assert_eq!(NewPassword::parse(&long).unwrap().expose().len(), 128);
        assert!(NewPassword::parse(&"x".repeat(257)).is_err());
    }

    #[test]
    fn s3_a_long_lowercase_passphrase_is_accepted() {
        assert!(NewPassword::parse("correct horse battery staple").is_ok());
    }

    #[test]
    fn codes_accept_spaces_and_dashes() {
        assert_eq!(parse_code6(" 123-456 ").unwrap(), "123456");
        assert_eq!(parse_code6("123 456").unwrap(), "123456");
        assert!(parse_code6("12345").is_err());
        assert!(parse_code6("12345a").is_err());
    }
}
