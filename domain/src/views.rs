//! What pages show, declared once: the backend fills these, server functions hand them on, pages render them.
use serde::{Deserialize, Serialize};

/// The admin overview's figures.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AdminOverview {
    pub users: i64,
    pub unconfirmed: i64,
    pub sign_ins_24h: i64,
    pub failed_sign_ins_24h: i64,
    pub locked: i64,
    pub admin_locked: i64,
    pub dead_jobs: i64,
    pub queued_jobs: i64,
}

/// The security settings page: two-step verification, backup codes, trusted browsers, the sudo window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct SecurityOverview {
    pub totp_enabled: bool,
    /// A started enrolment (shown only inside the sudo window, until the first code confirms it).
    pub pending: Option<Enrolment>,
    /// Backup codes just made, shown this once.
    pub fresh_codes: Option<Vec<String>>,
    pub backup_codes_left: i64,
    pub trusted: Vec<TrustedBrowser>,
    /// When the sudo window closes (`2026-11-27 10:42 UTC`), while it is open.
    pub sudo_until: Option<String>,
    /// Policy requires two-step verification and this user has none yet.
    pub required: bool,
}

/// A started TOTP enrolment: the QR code, and the same secret as text and as a link.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Enrolment {
    pub qr_svg: String,
    pub secret: String,
    pub otpauth_url: String,
}

/// A browser that skips the code step, as the list shows it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct TrustedBrowser {
    pub id: String,
    pub device: String,
    pub ip: String,
    pub created: String,
    pub last_used: String,
}

/// Where an invitation stands.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum InvitationState {
    /// No invitation has this link.
    Invalid,
    Expired,
    /// Revoked by the organization, or replaced by a newer invitation to the same address.
    Revoked,
    Accepted,
    Open,
}
