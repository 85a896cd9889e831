//! The sign-in core's mails, one declaration each; their words are in the templates of `signin/mails/` (the
//! first line of each `.txt` is the subject).
use crate::platform::mail::mail;

mail! {
    /// The confirmation link and code for a new account's address.
    ConfirmEmailMail<'a> { link: &'a str, code: &'a str }
    text: "signin/mails/confirm_email.txt", html: "signin/mails/confirm_email.html"
}

impl ConfirmEmailMail<'_> {
    /// The code in two halves ("123 456"), easier to read and type.
    pub fn spaced_code(&self) -> String {
        match self.code.split_at_checked(3) {
            Some((a, b)) if !b.is_empty() => format!("{a} {b}"),
            _ => self.code.to_string(),
        }
    }
}

mail! {
    /// "Someone tried to register with your e-mail", with the log-in page.
    AlreadyRegisteredMail<'a> { log_in: &'a str }
    text: "signin/mails/already_registered.txt", html: "signin/mails/already_registered.html"
}

mail! {
    /// Log in with a password is paused for `minutes`, or (`None`) until the owner uses a mailed link.
    AccountLockedMail<'a> { minutes: Option<i64>, reset: &'a str }
    text: "signin/mails/account_locked.txt", html: "signin/mails/account_locked.html"
}

mail! {
    /// A password-reset link.
    PasswordResetMail<'a> { link: &'a str }
    text: "signin/mails/password_reset.txt", html: "signin/mails/password_reset.html"
}

mail! {
    /// To an account without a password that asked for a reset: the providers it signs in with ("A or B").
    SignsInWithProviderMail<'a> { providers: &'a str, log_in: &'a str }
    text: "signin/mails/signs_in_with_provider.txt", html: "signin/mails/signs_in_with_provider.html"
}

mail! {
    /// "Your password was changed", with the reset page.
    PasswordChangedMail<'a> { reset: &'a str }
    text: "signin/mails/password_changed.txt", html: "signin/mails/password_changed.html"
}

mail! {
    /// A one-time sign-in link.
    MagicLinkMail<'a> { link: &'a str }
    text: "signin/mails/magic_link.txt", html: "signin/mails/magic_link.html"
}

mail! {
    /// "New sign-in to your account": the device, its IP address and the time, and the sessions page.
    NewDeviceMail<'a> { device: &'a str, ip: &'a str, when: &'a str, sessions: &'a str }
    text: "signin/mails/new_device.txt", html: "signin/mails/new_device.html"
}

mail! {
    /// Two-step verification was turned on (`enabled`) or off.
    MfaChangedMail<'a> { enabled: bool, security: &'a str }
    text: "signin/mails/mfa_changed.txt", html: "signin/mails/mfa_changed.html"
}

mail! {
    /// A sign-in provider (its display name) was linked to the account, or unlinked from it.
    IdentityChangedMail<'a> { provider: &'a str, linked: bool, connections: &'a str }
    text: "signin/mails/identity_changed.txt", html: "signin/mails/identity_changed.html"
}

mail! {
    /// A passkey was added to the account, or removed from it.
    PasskeyChangedMail<'a> { added: bool, security: &'a str }
    text: "signin/mails/passkey_changed.txt", html: "signin/mails/passkey_changed.html"
}

mail! {
    /// A backup code was used; `left`: how many unused codes remain.
    BackupCodeUsedMail<'a> { left: i64, security: &'a str }
    text: "signin/mails/backup_code_used.txt", html: "signin/mails/backup_code_used.html"
}

mail! {
    /// Two-step codes are refused for `minutes`, or (`None`) until the owner uses a mailed link.
    MfaLockedMail<'a> { minutes: Option<i64>, reset: &'a str }
    text: "signin/mails/mfa_locked.txt", html: "signin/mails/mfa_locked.html"
}
