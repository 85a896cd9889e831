//! Outgoing mail: lettre over SMTP, or an in-memory mailbox (the development inbox at `/dev/mailbox`, or the
//! capture tests read).
pub mod templates;

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
