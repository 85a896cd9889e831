//! Real SMTP delivery into a local sink (aiosmtpd's Mailbox handler writing a Maildir).
use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::Duration,
};

use backend::platform::config::{MailDelivery, MailTransportKind, Secret};

use crate::common::*;

/// A real SMTP server on loopback; the admin tests use it too.
pub(crate) struct SmtpSink {
    child: Child,
    dir: PathBuf,
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A loopback port nothing answers on for as long as the returned socket lives: bound, never listening, so a
/// connection is refused and no other test can take the port meanwhile (a port that was only free when it was picked
/// was once taken by another test's SMTP sink).
pub(crate) fn closed_port() -> (tokio::net::TcpSocket, u16) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let port = socket.local_addr().unwrap().port();
    (socket, port)
}

impl SmtpSink {
    pub(crate) async fn start(port: u16) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("maildir-{}", uuid::Uuid::new_v4().simple()));
        let python = std::env::var("SMTP_SINK_PYTHON").unwrap_or_else(|_| "python3".into());
        let child = Command::new(&python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the SMTP sink with {python} (pip install aiosmtpd): {e}"));
        let mut sink = Self { child, dir };
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return sink;
            }
            if let Ok(Some(status)) = sink.child.try_wait() {
                panic!("the SMTP sink exited at start ({status}); is aiosmtpd installed for {python}?");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("the SMTP sink did not listen on port {port}");
    }

    pub(crate) fn messages(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("new")) else {
            return vec![];
        };
        entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect()
    }

    pub(crate) async fn wait_for(&self, needle: &str, secs: u64) -> String {
        for _ in 0..secs * 10 {
            if let Some(m) = self.messages().into_iter().find(|m| m.contains(needle)) {
                return m;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no message containing {needle:?} reached the sink");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn smtp(port: u16, delivery: MailDelivery) -> impl FnOnce(&mut backend::platform::config::Config) {
    move |c| {
        c.mail_transport = MailTransportKind::Smtp;
        c.smtp_url = Some(Secret::new(format!("smtp://127.0.0.1:{port}")));
        c.mail_delivery = delivery;
        c.job_retry_base_secs = 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confirmation_mail_is_delivered_over_real_smtp_as_html_and_text() {
    let port = free_port();
    let sink = SmtpSink::start(port).await;
    let app = TestApp::spawn_with(smtp(port, MailDelivery::Inline)).await;
    app.register("ann@example.com", PASSWORD).await;
    let raw = sink.wait_for("To: ann@example.com", 10).await;
    assert!(raw.contains(&format!("Subject: Confirm your e-mail for {}", backend::APP_NAME_DEFAULT)));
    assert!(raw.contains("multipart/alternative"));
    assert!(raw.contains("text/plain") && raw.contains("text/html"));
    assert_eq!(app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'done'").await, 1);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_mail_waits_out_an_smtp_outage_and_a_restart_then_arrives() {
    let port = free_port(); // nothing listens here yet: SMTP is down
    let url = fresh_database_url().await;
    let first = TestApp::spawn_on(&url, smtp(port, MailDelivery::Queue)).await;
    first.register("bo@example.com", PASSWORD).await;
    // The worker tries, fails, and schedules a retry.
    let mut failed = false;
    for _ in 0..100 {
        let n = first
            .scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'queued' AND attempts >= 1 AND last_error IS NOT NULL")
            .await;
        if n == 1 {
            failed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(failed, "the delivery failed and was queued for retry");
    let (payload,): (String,) =
        sqlx::query_as("SELECT payload FROM jobs").fetch_one(&first.state().db.pool).await.unwrap();
    first.stop().await;

    // SMTP comes back; a new process on the same database delivers the mail.
    let sink = SmtpSink::start(port).await;
    let second = TestApp::spawn_on(&url, smtp(port, MailDelivery::Queue)).await;
    let raw = sink.wait_for("To: bo@example.com", 20).await;
    assert!(raw.contains("Confirm your e-mail"));
    // The worker marks the job done just after the SMTP server accepted the mail.
    second.wait_for_i64("SELECT COUNT(*) FROM jobs WHERE state = 'done'", &[], 1).await;

    // The job carried an id, never the token or the body.
    assert!(payload.contains("user_id") && !payload.contains("confirm/") && !payload.contains("Subject"), "{payload}");
    let body_text = raw.replace("=\r\n", "").replace("=\n", "");
    let token = body_text.split("/users/confirm/").nth(1).unwrap().split_whitespace().next().unwrap();
    assert!(!payload.contains(token));
    second.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_that_keeps_failing_ends_dead() {
    // An "SMTP server" that hangs up on every connection, on a port this test holds: a port merely found free could
    // be taken by another test's listener meanwhile, which would leave the client waiting for a greeting.
    let refuser = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = refuser.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((conn, _)) = refuser.accept().await {
            drop(conn);
        }
    });
    let app = TestApp::spawn_with(|c| {
        smtp(port, MailDelivery::Queue)(c);
        c.job_max_attempts = 2;
    })
    .await;
    app.register("cy@example.com", PASSWORD).await;
    let mut dead = false;
    for _ in 0..100 {
        if app.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'dead' AND attempts = 2").await == 1 {
            dead = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(dead, "after 2 failed attempts the job is dead");
    app.stop().await;
}

/// Two server processes on one database: every queued job is claimed and sent exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_share_the_queue_without_sending_a_mail_twice() {
    let url = fresh_database_url().await;
    let queue = |c: &mut backend::platform::config::Config| {
        c.mail_delivery = MailDelivery::Queue;
        c.job_poll_interval_ms = 20;
        c.rate_limit_mail_per_hour = 1000;
        c.rate_limit_anonymous_per_minute = 1000;
    };
    let a = TestApp::spawn_on(&url, queue).await;
    let b = TestApp::spawn_on(&url, queue).await;
    let n = 20;
    for i in 0..n {
        let target = if i % 2 == 0 { &a } else { &b };
        target.register(&format!("user{i}@example.com"), PASSWORD).await;
    }
    for _ in 0..200 {
        if a.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'done'").await == n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(a.scalar_i64("SELECT COUNT(*) FROM jobs WHERE state = 'done'").await, n);
    let sent_a = a.state().mailer.stored();
    let sent_b = b.state().mailer.stored();
    assert_eq!(sent_a.len() + sent_b.len(), n as usize, "each mail sent once, by one instance");
    let mut to: Vec<String> = sent_a.iter().chain(&sent_b).map(|m| m.to.clone()).collect();
    to.sort();
    to.dedup();
    assert_eq!(to.len(), n as usize);
    a.stop().await;
    b.stop().await;
}
