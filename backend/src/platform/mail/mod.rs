//! Outgoing mail: lettre over SMTP, or an in-memory mailbox (the development inbox at `/dev/mailbox`, or the
//! capture tests read).
//!
//! Each mail is declared with [`mail!`] beside the job that sends it, from two askama templates in that feature's
//! `mails/` folder: a `.txt` one whose first line is the subject and whose rest is the text part, and an `.html` one
//! that extends `platform/mail/layout.html` (values in it are HTML-escaped). Template paths are relative to
//! `backend/src` (see `backend/askama.toml`); rebranding a mail means editing those files.

use std::sync::Mutex;

use lettre::{
    message::{Mailbox, MultiPart},
    AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor,
};

use crate::platform::config::{Config, MailTransportKind};

/// One rendered mail: HTML and plain text of the same content.
#[derive(Clone, Debug)]
pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Declares one mail: a struct with the site's name (`app`) and the given fields, and its `to(address)` method that
/// renders both templates from them into an [`OutgoingMail`].
///
/// ```text
/// mail! {
///     /// A one-time sign-in link.
///     MagicLinkMail<'a> { link: &'a str }
///     text: "signin/mails/magic_link.txt", html: "signin/mails/magic_link.html"
/// }
/// send(st, MagicLinkMail { app, link: &link }.to(&email)).await
/// ```
///
/// Besides the fields (and methods, as `self.name()`), both templates see `to`, the recipient's address, and the
/// HTML one `subject`. The text template's first line is the subject; the blank lines after it are dropped, and the
/// text part ends with one line break.
macro_rules! mail {
    (
        $(#[$attr:meta])*
        $name:ident<$lt:lifetime> { $($field:ident: $ty:ty),* $(,)? }
        text: $text:tt, html: $html:tt $(,)?
    ) => {
        $(#[$attr])*
        #[derive(Clone, Debug)]
        pub struct $name<$lt> {
            /// The site's name (`APP_NAME`).
            pub app: &$lt str,
            $(pub $field: $ty,)*
        }

        impl $name<'_> {
            /// The mail to `to`, rendered from its templates.
            pub fn to(&self, to: &str) -> ::askama::Result<$crate::platform::mail::OutgoingMail> {
                #[derive(::askama::Template)]
                #[template(path = $text)]
                #[allow(dead_code)]
                struct Text<'m, 'x> {
                    mail: &'m $name<'x>,
                    to: &'m str,
                }
                #[derive(::askama::Template)]
                #[template(path = $html)]
                #[allow(dead_code)]
                struct Html<'m, 'x> {
                    mail: &'m $name<'x>,
                    to: &'m str,
                    subject: &'m str,
                }
                // The templates name the mail's fields directly (`{{ link }}`).
                impl<'x> ::std::ops::Deref for Text<'_, 'x> {
                    type Target = $name<'x>;
                    fn deref(&self) -> &$name<'x> {
                        self.mail
                    }
                }
                impl<'x> ::std::ops::Deref for Html<'_, 'x> {
                    type Target = $name<'x>;
                    fn deref(&self) -> &$name<'x> {
                        self.mail
                    }
                }
                let text = ::askama::Template::render(&Text { mail: self, to })?;
                $crate::platform::mail::compose(to, &text, |subject| {
                    ::askama::Template::render(&Html { mail: self, to, subject })
                })
            }
        }
    };
}
pub(crate) use mail;

/// Splits a rendered text template into the subject (its first line) and the text part (the rest, without the
/// blank lines that start it, ending with one line break), then renders the HTML part with that subject.
pub(crate) fn compose(
    to: &str,
    text: &str,
    html: impl FnOnce(&str) -> askama::Result<String>,
) -> askama::Result<OutgoingMail> {
    let (subject, body) = text.split_once('\n').unwrap_or((text, ""));
    let subject = subject.trim();
    if subject.is_empty() {
        return Err(askama::Error::custom("a mail's text template must start with its subject line"));
    }
    let text = format!("{}\n", body.trim_start_matches(['\r', '\n']).trim_end());
    let html = html(subject)?;
    Ok(OutgoingMail { to: to.into(), subject: subject.into(), text, html })
}

#[derive(Clone, Debug, serde::Serialize)]
pub struct StoredMail {
    pub id: usize,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Memory,
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    memory: Mutex<Vec<StoredMail>>,
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("mail could not be built: {0}")]
    Build(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
}

/// Upper bound kept in the in-memory mailbox.
const MEMORY_LIMIT: usize = 500;

impl Mailer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let transport = match config.mail_transport {
            MailTransportKind::Smtp => {
                let url = config.smtp_url.as_ref().ok_or_else(|| anyhow::anyhow!("SMTP_URL is not set"))?;
                let t: AsyncSmtpTransport<Tokio1Executor> =
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
                        .map_err(|e| anyhow::anyhow!("SMTP_URL is invalid: {e}"))?
                        .timeout(Some(std::time::Duration::from_secs(10)))
                        .build();
                Transport::Smtp(t)
            }
            MailTransportKind::DevMailbox | MailTransportKind::Capture => Transport::Memory,
        };
        Ok(Self { transport, from: config.mail_from.parse()?, memory: Mutex::new(Vec::new()) })
    }

    /// Whether the SMTP server answers (connect, EHLO, NOOP), for `portcullis doctor`: `Ok(false)` when mail is not
    /// sent over SMTP at all (the development mailbox, or captured in memory).
    pub async fn check_smtp(&self) -> Result<bool, String> {
        match &self.transport {
            Transport::Smtp(t) => match t.test_connection().await {
                Ok(true) => Ok(true),
                Ok(false) => Err("the server did not answer NOOP".into()),
                Err(e) => Err(super::error_chain(&e)),
            },
            Transport::Memory => Ok(false),
        }
    }

    pub async fn send(&self, mail: OutgoingMail) -> Result<(), MailError> {
        match &self.transport {
            Transport::Smtp(t) => {
                let to: Mailbox =
                    mail.to.parse().map_err(|e: lettre::address::AddressError| MailError::Build(e.to_string()))?;
                let msg = Message::builder()
                    .from(self.from.clone())
                    .to(to)
                    .subject(&mail.subject)
                    .multipart(MultiPart::alternative_plain_html(mail.text, mail.html))
                    .map_err(|e| MailError::Build(e.to_string()))?;
                t.send(msg).await.map_err(|e| MailError::Smtp(e.to_string()))?;
                Ok(())
            }
            Transport::Memory => {
                let mut m = self.memory.lock().expect("mailbox lock");
                let id = m.last().map(|x| x.id + 1).unwrap_or(1);
                m.push(StoredMail { id, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html });
                if m.len() > MEMORY_LIMIT {
                    let excess = m.len() - MEMORY_LIMIT;
                    m.drain(..excess);
                }
                Ok(())
            }
        }
    }

    /// The in-memory mailbox, newest last (empty for SMTP).
    pub fn stored(&self) -> Vec<StoredMail> {
        self.memory.lock().expect("mailbox lock").clone()
    }
}

#[cfg(test)]
mod tests {
    use crate::{
        admin::jobs::{AdminChange, AdminChangedMail},
        signin::mails::{ConfirmEmailMail, NewDeviceMail},
    };

    const DEVICE: &str = r#"<script>alert("hi")</script> & 'co'"#;

    fn new_device() -> super::OutgoingMail {
        let mail =
            NewDeviceMail { app: "Portcullis", device: DEVICE, ip: "127.0.0.1", when: "now", sessions: "http://s/x" };
        mail.to("ann@example.com").unwrap()
    }

    #[test]
    fn values_are_escaped_in_the_html_part_and_left_as_typed_in_the_text_part() {
        let mail = new_device();
        assert!(mail.text.contains(DEVICE), "{}", mail.text);
        assert!(!mail.html.contains("<script>") && !mail.html.contains(r#""hi""#), "{}", mail.html);
        assert!(
            mail.html.contains("&#60;script&#62;alert(&#34;hi&#34;)&#60;/script&#62; &#38; &#39;co&#39;"),
            "{}",
            mail.html
        );
        // The markup the templates write is not escaped.
        assert!(mail.html.contains(r#"<a href="http://s/x">sign that device out</a>"#), "{}", mail.html);
        assert!(mail.html.starts_with("<!doctype html>") && mail.html.contains("If you did not expect this mail"));
    }

    #[test]
    fn an_included_partial_is_escaped_as_the_template_that_includes_it() {
        let mail = AdminChangedMail { app: "<b>App</b>", change: AdminChange::Unlocked, base: "http://b" };
        let mail = mail.to("ann@example.com").unwrap();
        assert_eq!(mail.subject, "Your <b>App</b> account was unlocked");
        assert_eq!(
            mail.text,
            "An administrator of <b>App</b> unlocked your account. You can log in again.\n\nLog in: http://b/users/log-in\n"
        );
        assert!(!mail.html.contains("<b>"), "{}", mail.html);
        let title = "<h1 style=\"font-size:20px\">Your &#60;b&#62;App&#60;/b&#62; account was unlocked</h1>";
        assert!(mail.html.contains(title), "{}", mail.html);
        assert!(mail.html.contains("<p>An administrator of &#60;b&#62;App&#60;/b&#62; unlocked your account."));
    }

    #[test]
    fn the_subject_is_the_first_line_of_the_text_template_and_not_repeated() {
        let mail = new_device();
        assert_eq!(mail.to, "ann@example.com");
        assert_eq!(mail.subject, "New sign-in to your Portcullis account");
        assert!(!mail.text.contains(&mail.subject), "{}", mail.text);
        assert!(mail.text.starts_with("Your Portcullis account was just signed in to"), "{}", mail.text);
    }

    #[test]
    fn a_mail_has_the_text_part_it_had() {
        let mail = ConfirmEmailMail { app: "Portcullis", link: "http://localhost/users/confirm/t0k", code: "123456" };
        let mail = mail.to("ann@example.com").unwrap();
        assert_eq!(mail.subject, "Confirm your e-mail for Portcullis");
        assert_eq!(
            mail.text,
            "Welcome to Portcullis!\n\nConfirm your e-mail address by opening this link:\n\n\
             http://localhost/users/confirm/t0k\n\nor by entering this code on the confirmation page: 123 456\n\n\
             The link and the code work once and expire in 48 hours.\n\nIf you did not create this account, do not \
             confirm it: someone typed your address. Ignore this mail, or take the account over with \"Forgot your \
             password?\" on the log-in page.\n"
        );
        assert!(mail.html.contains(">123 456</p>") && mail.html.contains(">Confirm my e-mail</a>"));
    }

    #[test]
    fn a_text_template_must_start_with_a_subject() {
        let html = |_: &str| Ok(String::new());
        assert!(super::compose("a@b", "\nBody\n", html).is_err());
        let mail = super::compose("a@b", "Subject \n\n\nBody\n\n", html).unwrap();
        assert_eq!((mail.subject.as_str(), mail.text.as_str()), ("Subject", "Body\n"));
    }
}
