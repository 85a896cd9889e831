//! What the server's middleware learns about a request, handed to pages and server functions.
use std::net::IpAddr;

/// The signed-in user of this request, from a valid, unexpired session row.
#[derive(Clone, Debug)]
pub struct CurrentSession {
    pub session_id: String,
    pub user_id: String,
    pub email: String,
    pub display_name: Option<String>,
    pub confirmed: bool,
    pub remember_me: bool,
    /// The user has two-step verification on (an authenticator app).
    pub has_mfa: bool,
    /// The user has at least one passkey (a second factor by itself for an admin, S51).
    pub has_passkey: bool,
    /// When this session last passed re-authentication (sudo), if ever.
    pub sudo_at: Option<i64>,
    /// The organization this session works in: (slug, name), only while the user is a member of it.
    pub active_org: Option<(String, String)>,
    /// An operator (granted from the command line).
    pub is_admin: bool,
    /// Set while an admin impersonates this user: this session is the admin's, acting as the user.
    pub impersonator: Option<Impersonator>,
}

impl CurrentSession {
    /// An admin's second factor: an authenticator app or a passkey (S51).
    pub fn has_second_factor(&self) -> bool {
        self.has_mfa || self.has_passkey
    }

    /// Only a second factor (a code or a passkey) opens this session's sudo window, not the password or a provider:
    /// an admin who has one, whose window lets them act on other people's accounts (M7).
    pub fn sudo_needs_second_factor(&self) -> bool {
        self.is_admin && self.has_second_factor()
    }
}

/// The admin behind an impersonation session.
#[derive(Clone, Debug)]
pub struct Impersonator {
    pub user_id: String,
    pub email: String,
    /// The admin's own session, resumed when the impersonation stops.
    pub session_id: Option<String>,
    /// When the impersonation ends at the latest (Unix seconds).
    pub ends_at: i64,
}

#[derive(Clone, Debug)]
pub struct RequestContext {
    pub request_id: String,
    pub ip: IpAddr,
    pub user_agent: Option<String>,
    pub session: Option<CurrentSession>,
    /// Digest of the session cookie presented, valid or not: replaced at log in so a planted id dies.
    pub presented_session_digest: Option<String>,
    /// The pending MFA challenge cookie, if any.
    pub mfa_challenge: Option<String>,
    /// The "trust this browser" cookie, if any (checked against the user at the gate).
    pub trusted_browser: Option<String>,
    /// The cookie that binds an OAuth sign-in in progress to this browser.
    pub oauth_browser: Option<String>,
    /// The cookie of a provider identity waiting to be linked to the account that signs in here.
    pub pending_link: Option<String>,
    /// CSP nonce for this response's inline scripts.
    pub nonce: String,
    /// A plain browser form post or page load (not the server-function client).
    pub wants_html: bool,
    /// What this request does to the visitor session (its flash in and out, a new id after a sign-in).
    pub visitor: crate::platform::visitor::Pending,
}

impl RequestContext {
    /// For jobs and tests: no client behind it.
    pub fn system() -> Self {
        Self {
            request_id: "system".into(),
            ip: IpAddr::from([127, 0, 0, 1]),
            user_agent: None,
            session: None,
            presented_session_digest: None,
            mfa_challenge: None,
            trusted_browser: None,
            oauth_browser: None,
            pending_link: None,
            nonce: String::new(),
            wants_html: false,
            visitor: Default::default(),
        }
    }
}
