//! The password policy and the strength meter. Server only: zxcvbn's word lists and the NFKC tables are most of a
//! browser bundle's weight, so the page asks the server as you type (`auth::register::check_new_password`), and the
//! same code judges the submitted form.
use domain::validation::{PasswordCheck, PASSWORD_MAX_CHARS, PASSWORD_MIN_CHARS};
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
pub fn check_password(raw: &str, ctx: &PasswordContext) -> PasswordCheck {
    let s = strength(raw, ctx);
    PasswordCheck { error: NewPassword::parse(raw, ctx).err(), score: s.score, label: s.label.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
