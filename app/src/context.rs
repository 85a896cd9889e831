//! Wire types every page shares: who is signed in, and the one-shot flash a redirect carries.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::AppError;

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct PageContext {
    /// `APP_NAME`, for titles and the password rules.
    pub app_name: String,
    pub user: Option<UserView>,
    pub flash: Flash,
    /// Configured sign-in providers: (id, name) for "Continue with {name}" at `/auth/{id}`.
    pub providers: Vec<(String, String)>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct UserView {
    pub email: String,
    /// The profile's display name, if set.
    pub display_name: Option<String>,
    pub confirmed: bool,
    /// The organization this session works in: (slug, name).
    pub active_org: Option<(String, String)>,
    pub is_admin: bool,
    /// An admin without a second factor (an authenticator app or a passkey), who must enrol before the console (S51).
    #[serde(default)]
    pub admin_needs_second_factor: bool,
    /// The sudo window is open (sensitive changes and admin actions may go ahead).
    #[serde(default)]
    pub sudo_open: bool,
    /// Sudo takes a second factor (a code or a passkey), not the password: an admin who has one (M7).
    #[serde(default)]
    pub sudo_needs_second_factor: bool,
    /// While an admin impersonates this user: (the admin's e-mail, when it ends at the latest).
    pub impersonated_by: Option<(String, String)>,
}

/// What a form's server function decided, once, on the server: the notice to show, the page to go to next, and
/// values for that page (a link to copy, an address to prefill). The reactive page shows it (leptos follows the
/// redirect to `next` by itself); a browser without JavaScript gets the same value as a redirect and a [`Flash`].
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Done {
    pub notice: Option<Notice>,
    pub next: String,
    pub values: BTreeMap<String, String>,
}

impl Done {
    pub fn value(&self, name: &str) -> Option<String> {
        self.values.get(name).cloned()
    }
}

/// A one-shot message carried across a redirect: a notice after success, or for browsers without JavaScript the
/// form's error and the input to put back (never a password).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Flash {
    pub notice: Option<Notice>,
    pub error: Option<AppError>,
    pub values: BTreeMap<String, String>,
}

impl Flash {
    pub fn notice(notice: Notice) -> Self {
        Self { notice: Some(notice), ..Default::default() }
    }

    /// A notice, and the address to prefill on the next page.
    pub fn notice_for(notice: Notice, email: &str) -> Self {
        let mut flash = Self::notice(notice);
        flash.values.insert("email".into(), email.to_string());
        flash
    }

    pub fn value(&self, name: &str) -> String {
        self.values.get(name).cloned().unwrap_or_default()
    }
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub enum Notice {
    Registered,
    ConfirmationResent,
    Confirmed,
    LoggedIn,
    LoggedOut,
    ResetRequested,
    PasswordReset,
    MagicLinkSent,
    ProfileSaved,
    PasswordChanged,
    EmailChangeRequested,
    EmailChangeCancelled,
    EmailChanged,
    DeletionScheduled,
    DeletionCancelled,
    MfaEnabled,
    MfaDisabled,
    TrustRevoked,
    PasskeyAdded,
    PasskeyRenamed,
    PasskeyRemoved,
    LinkPending,
    ProviderLinked,
    ProviderUnlinked,
    AdminRequiresMfa,
    OrgCreated,
    OrgSwitched,
    OrgSaved,
    OrgDeleted,
    OrgLeft,
    OrgJoined,
    OrgRequiresMfa,
    InvitationSent,
    InvitationResent,
    InvitationRevoked,
    RoleChanged,
    MemberRemoved,
    UserLocked,
    UserUnlocked,
    SessionsEnded,
    ResetSent,
    PasswordChangeRequired,
    MfaReset,
    ConfirmationSent,
    UserDeleted,
    JobRetried,
    JobDiscarded,
    ImpersonationStopped,
    EveryoneSignedOut,
    ApiTokenCreated,
    ApiTokenRevoked,
    OauthClientRevoked,
    ServiceAccountCreated,
    ServiceAccountSecretReplaced,
    ServiceAccountRevoked,
    AppRevoked,
}

impl Notice {
    pub fn text(self) -> &'static str {
        match self {
            Notice::Registered => {
                "Thanks! If this address can be registered, we have sent it a confirmation link and a 6-digit code. \
                 Check your inbox."
            }
            Notice::ConfirmationResent => {
                "If that address has an unconfirmed account, a new confirmation mail is on its way."
            }
            Notice::Confirmed => "Your e-mail address is confirmed. You can log in now.",
            Notice::LoggedIn => "Welcome back! You are logged in.",
            Notice::LoggedOut => "You have been logged out.",
            Notice::ResetRequested => {
                "If that address has an account, a link to choose a new password is on its way. It works for 1 hour."
            }
            Notice::MagicLinkSent => {
                "If that address has an account, a sign-in link is on its way. It works once, for 10 minutes."
            }
            Notice::DeletionScheduled => {
                "Your account will be deleted in 7 days and every device was signed out. The mail we sent has a link \
                 to keep it."
            }
            Notice::DeletionCancelled => "Your account is kept. Log in to continue.",
            Notice::MfaEnabled => "Two-step verification is on. Save your backup codes below.",
            Notice::MfaDisabled => "Two-step verification is off.",
            Notice::TrustRevoked => "Done: that browser will be asked for a code again.",
            Notice::PasskeyAdded => "Passkey added. You can sign in with it now, without a password.",
            Notice::PasskeyRenamed => "Passkey renamed.",
            Notice::PasskeyRemoved => "Passkey removed. It no longer signs in to your account.",
            Notice::LinkPending => {
                "An account with this e-mail address already exists. Log in to it the way you usually do, and you \
                 can then link the account you just used."
            }
            Notice::ProviderLinked => "Linked. You can sign in with it from now on.",
            Notice::ProviderUnlinked => "Unlinked. It no longer signs in to your account.",
            Notice::AdminRequiresMfa => {
                "Admin pages need two-step verification on your account. Set it up below, then open them again."
            }
            Notice::OrgCreated => "Organization created. You are its owner: invite your team below.",
            Notice::OrgSwitched => "Switched organization.",
            Notice::OrgSaved => "Organization settings saved.",
            Notice::OrgDeleted => "The organization was deleted.",
            Notice::OrgLeft => "You left the organization.",
            Notice::OrgJoined => "Welcome! You joined the organization.",
            Notice::OrgRequiresMfa => {
                "That organization requires two-step verification. Set it up below, then open the organization again."
            }
            Notice::InvitationSent => "Invitation created.",
            Notice::InvitationResent => "Invitation sent again. It is open for 7 more days.",
            Notice::InvitationRevoked => "Invitation revoked. Its links no longer work.",
            Notice::RoleChanged => "Role changed.",
            Notice::MemberRemoved => "Member removed. Their access ended at once.",
            Notice::UserLocked => "Account locked: every session ended and sign-in is refused until it is unlocked.",
            Notice::UserUnlocked => "Account unlocked. The user can log in again.",
            Notice::SessionsEnded => "Sessions ended: those devices are signed out at their next request.",
            Notice::ResetSent => "A password-reset link was mailed to the user.",
            Notice::PasswordChangeRequired => {
                "The password no longer signs in and every session ended. The user was mailed how to choose a new one."
            }
            Notice::MfaReset => "Two-step verification removed. The user was told by e-mail.",
            Notice::ConfirmationSent => "A new confirmation mail was sent.",
            Notice::UserDeleted => "The account was deleted.",
            Notice::JobRetried => "The job was queued to run again now.",
            Notice::JobDiscarded => "The job was discarded.",
            Notice::ImpersonationStopped => "Impersonation ended. You are yourself again.",
            Notice::EveryoneSignedOut => "Every other session of every user ended.",
            Notice::ApiTokenCreated => "Token created. Copy it now: it is shown only this once.",
            Notice::ApiTokenRevoked => "Token revoked. Programs using it can no longer call the API.",
            Notice::OauthClientRevoked => "App revoked. It can no longer sign anyone in, and what it was given ended.",
            Notice::ServiceAccountCreated => {
                "Service account created. Copy its secret now: it is shown only this once."
            }
            Notice::ServiceAccountSecretReplaced => {
                "New secret made. Copy it now: it is shown only this once. The old one no longer works."
            }
            Notice::ServiceAccountRevoked => "Service account revoked. Its secret and its tokens no longer work.",
            Notice::AppRevoked => "App revoked. What it held no longer works, and it will ask again next time.",
            Notice::ProfileSaved => "Your profile is saved.",
            Notice::PasswordChanged => "Your password was changed. Every other device was signed out.",
            Notice::EmailChangeRequested => {
                "If that address can be used, a confirmation link is on its way to it (it works for 24 hours). \
                 Your address changes when you open it."
            }
            Notice::EmailChangeCancelled => "The e-mail change was cancelled; the address stays as it was.",
            Notice::EmailChanged => {
                "Your e-mail address was changed and every device was signed out. Log in with the new address."
            }
            Notice::PasswordReset => {
                "Your password was changed and every device was signed out. Log in with the new one."
            }
        }
    }
}
