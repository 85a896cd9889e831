//! Account policies the server enforces on every request, whatever page or server function is asked for.

use crate::{platform::request::CurrentSession, AppState};

/// Must this signed-in user set up two-step verification before doing anything else? (`REQUIRE_MFA`; an
/// organization's own "require MFA" applies only to its pages, in `orgs::authorize` and the request pipeline's
/// `organization_entry`.)
pub fn mfa_enrolment_required(st: &AppState, session: &CurrentSession) -> bool {
    st.config.require_mfa && !session.has_mfa
}

/// Where such a user is sent, and what they may still reach: enrolment, sudo (enrolment needs it), log out, and
/// what pages need to load.
pub const MFA_ENROLMENT_PAGE: &str = domain::pages::SECURITY;

pub fn allowed_during_mfa_enrolment(path: &str) -> bool {
    const EXACT: &[&str] = &[
        MFA_ENROLMENT_PAGE,
        "/users/sudo",
        // An admin impersonating a user who has not enrolled yet can always stop.
        "/api/stop_impersonating",
        "/api/security_data",
        "/api/start_totp",
        "/api/enable_totp",
        "/api/sudo",
        "/api/sudo_with_code",
        "/api/sudo_methods",
        "/api/sudo_passkey_options",
        "/api/sudo_with_passkey",
        "/api/passkey_list",
        "/api/log_out",
        "/api/page_context",
        "/favicon.ico",
        "/healthz",
        "/readyz",
        "/dev/mailbox",
    ];
    EXACT.contains(&path) || path.starts_with("/pkg/") || path.starts_with("/dev/mailbox/")
}
