//! Every mail as HTML and text. Values are escaped; links point at pages whose button POSTs.
use super::OutgoingMail;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

fn layout(app: &str, title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html><html><body style=\"font-family:system-ui,sans-serif;background:#f4f5f7;padding:24px;color:#111\">\
         <div style=\"max-width:520px;margin:auto;background:#fff;border-radius:12px;padding:28px\">\
         <p style=\"font-weight:700;font-size:18px;margin:0 0 16px\">{app}</p><h1 style=\"font-size:20px\">{title}</h1>{body_html}\
         <p style=\"color:#555;font-size:13px;margin-top:28px\">If you did not expect this mail, you can ignore it.</p></div></body></html>",
        app = esc(app),
        title = esc(title)
    )
}

pub fn confirm_email(app: &str, to: &str, link: &str, code: &str) -> OutgoingMail {
    let spaced = format!("{} {}", &code[..3], &code[3..]);
    let subject = format!("Confirm your e-mail for {app}");
    let text = format!(
        "Welcome to {app}!\n\nConfirm your e-mail address by opening this link:\n\n{link}\n\n\
         or by entering this code on the confirmation page: {spaced}\n\nThe link and the code work once and expire in 48 hours.\n\n\
         If you did not create this account, do not confirm it: someone typed your address. Ignore this mail, or take \
         the account over with \"Forgot your password?\" on the log-in page.\n"
    );
    let html = layout(
        app,
        "Confirm your e-mail",
        &format!(
            "<p>Confirm your e-mail address with the button below.</p>\
             <p><a href=\"{l}\" style=\"display:inline-block;background:#3446d4;color:#fff;padding:10px 18px;border-radius:8px;text-decoration:none\">Confirm my e-mail</a></p>\
             <p>Or enter this code on the confirmation page:</p><p style=\"font-size:26px;letter-spacing:4px;font-weight:700\">{c}</p>\
             <p style=\"color:#555;font-size:13px\">The link and the code work once and expire in 48 hours.</p>\
             <p style=\"color:#555;font-size:13px\">If you did not create this account, do not confirm it: someone typed \
             your address. Ignore this mail, or take the account over with “Forgot your password?” on the log-in page.</p>",
            l = esc(link),
            c = esc(&spaced)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn already_registered(app: &str, to: &str, log_in: &str) -> OutgoingMail {
    let subject = format!("Someone tried to register with your e-mail on {app}");
    let text = format!(
        "Someone (maybe you) tried to create a {app} account with this e-mail address, which already has one.\n\n\
         If it was you, log in here: {log_in}\n\nIf it was not, nothing has changed and you can ignore this mail.\n"
    );
    let html = layout(
        app,
        "You already have an account",
        &format!(
            "<p>Someone (maybe you) tried to create an account with this e-mail address, which already has one.</p>\
             <p>If it was you, <a href=\"{l}\">log in here</a>. If it was not, nothing has changed.</p>",
            l = esc(log_in)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

/// How long a pause lasts, in words: `minutes`, or (escalated) until the owner uses a mailed link.
fn pause_length(minutes: Option<i64>, what: &str) -> String {
    match minutes {
        Some(m) => format!("{what} for {m} minutes"),
        None => format!("{what} until you reset your password or sign in with a link mailed to you (this has happened several times in a row)"),
    }
}

pub fn email_in_use(app: &str, to: &str, log_in: &str) -> OutgoingMail {
    let subject = format!("Someone tried to move a {app} account to your e-mail");
    let text = format!(
        "Someone signed in to another {app} account asked to change its e-mail to this address, which already has an \
         account. Nothing has changed, and no link was made.\n\nYour account: {log_in}\n"
    );
    let html = layout(
        app,
        "Someone tried to use your address",
        &format!(
            "<p>Someone signed in to another account asked to change its e-mail to this address, which already has an \
             account. Nothing has changed, and no link was made.</p><p><a href=\"{l}\">Your account</a></p>",
            l = esc(log_in)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn account_locked(app: &str, to: &str, minutes: Option<i64>, reset: &str) -> OutgoingMail {
    let subject = format!("Log in to {app} paused after failed attempts");
    let paused = pause_length(minutes, "paused");
    let text = format!(
        "Someone entered a wrong password for your {app} account several times in a row, so log in with a password \
         is {paused}.\n\nIf it was you, wait or reset your password: {reset}\nIf it was not, your password held; \
         consider changing it to a long passphrase you use nowhere else.\n"
    );
    let html = layout(
        app,
        "Log in paused",
        &format!(
            "<p>Someone entered a wrong password for your account several times in a row, so log in with a password is \
             {p}.</p><p>If it was you, wait or <a href=\"{r}\">reset your password</a>. If it was not, your password held; \
             consider changing it to a long passphrase you use nowhere else.</p>",
            p = esc(&paused),
            r = esc(reset)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn password_reset(app: &str, to: &str, link: &str) -> OutgoingMail {
    let subject = format!("Reset your {app} password");
    let text = format!(
        "Someone (hopefully you) asked to reset the password of your {app} account.\n\nChoose a new one here:\n\n{link}\n\n\
         The link works once and expires in 1 hour. Setting a new password signs out every device.\n"
    );
    let html = layout(
        app,
        "Reset your password",
        &format!(
            "<p>Someone (hopefully you) asked to reset the password of your account.</p>\
             <p><a href=\"{l}\" style=\"display:inline-block;background:#3446d4;color:#fff;padding:10px 18px;border-radius:8px;text-decoration:none\">Choose a new password</a></p>\
             <p style=\"color:#555;font-size:13px\">The link works once and expires in 1 hour. Setting a new password signs out every device.</p>",
            l = esc(link)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn password_changed(app: &str, to: &str, reset: &str) -> OutgoingMail {
    let subject = format!("Your {app} password was changed");
    let text = format!(
        "The password of your {app} account was just changed, and your other devices were signed out.\n\n\
         If this was not you, reset it now: {reset}\n"
    );
    let html = layout(
        app,
        "Your password was changed",
        &format!(
            "<p>The password of your account was just changed, and your other devices were signed out.</p>\
             <p>If this was not you, <a href=\"{r}\">reset it now</a>.</p>",
            r = esc(reset)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn magic_link(app: &str, to: &str, link: &str) -> OutgoingMail {
    let subject = format!("Your {app} sign-in link");
    let text = format!(
        "Use this link to sign in to {app}:\n\n{link}\n\nIt works once and expires in 10 minutes. \
         If you did not ask for it, ignore this mail: nobody can use it without access to your inbox.\n"
    );
    let html = layout(
        app,
        "Sign in to your account",
        &format!(
            "<p><a href=\"{l}\" style=\"display:inline-block;background:#3446d4;color:#fff;padding:10px 18px;border-radius:8px;text-decoration:none\">Sign in</a></p>\
             <p style=\"color:#555;font-size:13px\">The link works once and expires in 10 minutes. If you did not ask for it, ignore this mail.</p>",
            l = esc(link)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn new_device(app: &str, to: &str, device: &str, ip: &str, when: &str, sessions: &str) -> OutgoingMail {
    let subject = format!("New sign-in to your {app} account");
    let text = format!(
        "Your {app} account was just signed in to from a device it has not seen before:\n\n  {device}, {ip}, {when}\n\n\
         If this was you, there is nothing to do. If not, sign that device out and change your password: {sessions}\n"
    );
    let html = layout(
        app,
        "New sign-in",
        &format!(
            "<p>Your account was just signed in to from a device it has not seen before:</p>\
             <p><strong>{d}</strong>, {i}, {w}</p>\
             <p>If this was you, there is nothing to do. If not, <a href=\"{s}\">sign that device out</a> and change your password.</p>",
            d = esc(device),
            i = esc(ip),
            w = esc(when),
            s = esc(sessions)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

/// A call-to-action link styled as a button.
fn button(link: &str, label: &str) -> String {
    format!(
        "<p><a href=\"{l}\" style=\"display:inline-block;background:#3446d4;color:#fff;padding:10px 18px;\
         border-radius:8px;text-decoration:none\">{t}</a></p>",
        l = esc(link),
        t = esc(label)
    )
}

pub fn email_change_confirm(app: &str, to: &str, link: &str) -> OutgoingMail {
    let subject = format!("Confirm your new e-mail for {app}");
    let text = format!(
        "Someone (hopefully you) asked to use this address for their {app} account.\n\n\
         Confirm the change here:\n\n{link}\n\nThe link works once and expires in 24 hours. \
         Confirming signs out every device; you then log in with this address.\n"
    );
    let html = layout(
        app,
        "Confirm your new e-mail",
        &format!(
            "<p>Someone (hopefully you) asked to use this address for their account.</p>{b}\
             <p style=\"color:#555;font-size:13px\">The link works once and expires in 24 hours. Confirming signs out \
             every device; you then log in with this address.</p>",
            b = button(link, "Use this address")
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn email_change_notice(app: &str, to: &str, new_email: &str, cancel: &str) -> OutgoingMail {
    let subject = format!("Your {app} e-mail is about to change");
    let text = format!(
        "Someone signed in to your {app} account asked to change its e-mail address to {new_email}.\n\n\
         Nothing changes until the new address confirms. If this was not you, cancel it here and change your \
         password:\n\n{cancel}\n"
    );
    let html = layout(
        app,
        "E-mail change requested",
        &format!(
            "<p>Someone signed in to your account asked to change its e-mail address to <strong>{n}</strong>.</p>\
             <p>Nothing changes until the new address confirms. If this was not you, cancel it and change your \
             password.</p>{b}",
            n = esc(new_email),
            b = button(cancel, "Cancel the change")
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn email_changed(app: &str, to: &str, new_email: &str) -> OutgoingMail {
    let subject = format!("Your {app} e-mail was changed");
    let text = format!(
        "The e-mail address of your {app} account was changed to {new_email}, and every device was signed out.\n\n\
         If this was not you, reply to this mail at once so we can help you recover the account.\n"
    );
    let html = layout(
        app,
        "Your e-mail was changed",
        &format!(
            "<p>The e-mail address of your account was changed to <strong>{n}</strong>, and every device was signed \
             out.</p><p>If this was not you, reply to this mail at once so we can help you recover the account.</p>",
            n = esc(new_email)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn deletion_scheduled(app: &str, to: &str, days: i64, keep: &str) -> OutgoingMail {
    let subject = format!("Your {app} account will be deleted in {days} days");
    let text = format!(
        "Your {app} account is scheduled for deletion, and every device was signed out.\n\n\
         In {days} days it is removed for good. To keep it, open this link before then:\n\n{keep}\n"
    );
    let html = layout(
        app,
        "Your account will be deleted",
        &format!(
            "<p>Your account is scheduled for deletion, and every device was signed out.</p>\
             <p>In {days} days it is removed for good. To keep it, use the button before then.</p>{b}",
            b = button(keep, "Keep my account")
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn mfa_changed(app: &str, to: &str, enabled: bool, security: &str) -> OutgoingMail {
    let (subject, what) = if enabled {
        (format!("Two-step verification is on for your {app} account"), "was turned on")
    } else {
        (format!("Two-step verification is off for your {app} account"), "was turned off")
    };
    let text = format!(
        "Two-step verification for your {app} account {what}.\n\nIf this was not you, secure your account now: {security}\n"
    );
    let html = layout(
        app,
        "Two-step verification changed",
        &format!(
            "<p>Two-step verification for your account {what}.</p><p>If this was not you, \
             <a href=\"{s}\">secure your account now</a>.</p>",
            s = esc(security)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn identity_changed(app: &str, to: &str, provider: &str, linked: bool, connections: &str) -> OutgoingMail {
    let (subject, what) = if linked {
        (
            format!("{provider} was linked to your {app} account"),
            format!("You can now sign in to your {app} account with {provider}."),
        )
    } else {
        (
            format!("{provider} was unlinked from your {app} account"),
            format!("{provider} no longer signs in to your {app} account."),
        )
    };
    let text = format!("{what}\n\nIf this was not you, secure your account now: {connections}\n");
    let html = layout(
        app,
        "Sign-in providers changed",
        &format!(
            "<p>{w}</p><p>If this was not you, <a href=\"{c}\">secure your account now</a>.</p>",
            w = esc(&what),
            c = esc(connections)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

/// To an account without a password that asked for a password reset: how it signs in instead.
pub fn signs_in_with_provider(app: &str, to: &str, providers: &str, log_in: &str) -> OutgoingMail {
    let subject = format!("How you sign in to {app}");
    let text = format!(
        "Someone (hopefully you) asked to reset the password of your {app} account. It has no password: you sign in \
         with {providers}.\n\nUse \"Continue with {providers}\" on the log-in page: {log_in}\n"
    );
    let html = layout(
        app,
        "How you sign in",
        &format!(
            "<p>Someone (hopefully you) asked to reset the password of your account. It has no password: you sign in \
             with <strong>{p}</strong>.</p><p><a href=\"{l}\">Go to the log-in page</a> and choose “Continue with {p}”.</p>",
            p = esc(providers),
            l = esc(log_in)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn passkey_changed(app: &str, to: &str, added: bool, security: &str) -> OutgoingMail {
    let (subject, what) = if added {
        (format!("A passkey was added to your {app} account"), "was added to")
    } else {
        (format!("A passkey was removed from your {app} account"), "was removed from")
    };
    let text =
        format!("A passkey {what} your {app} account.\n\nIf this was not you, secure your account now: {security}\n");
    let html = layout(
        app,
        "Passkeys changed",
        &format!(
            "<p>A passkey {what} your account.</p><p>If this was not you, <a href=\"{s}\">secure your account now</a>.</p>",
            s = esc(security)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn backup_code_used(app: &str, to: &str, left: i64, security: &str) -> OutgoingMail {
    let subject = format!("A backup code was used for your {app} account");
    let text = format!(
        "A backup code was just used to sign in to your {app} account. {left} unused codes are left.\n\n\
         If this was not you, change your password and make new codes: {security}\n"
    );
    let html = layout(
        app,
        "A backup code was used",
        &format!(
            "<p>A backup code was just used to sign in to your account. <strong>{left}</strong> unused codes are left.</p>\
             <p>If this was not you, change your password and <a href=\"{s}\">make new codes</a>.</p>",
            s = esc(security)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn mfa_locked(app: &str, to: &str, minutes: Option<i64>, reset: &str) -> OutgoingMail {
    let subject = format!("Two-step codes for {app} paused after wrong attempts");
    let refused = pause_length(minutes, "refused");
    let text = format!(
        "Someone entered wrong two-step verification codes for your {app} account several times in a row, so codes \
         are {refused}.\n\nThat someone knew your password or had your e-mail: if it was not \
         you, change your password now: {reset}\n"
    );
    let html = layout(
        app,
        "Two-step codes paused",
        &format!(
            "<p>Someone entered wrong two-step verification codes for your account several times in a row, so codes are \
             {p}.</p><p>That someone knew your password or had your e-mail: if it was not \
             you, <a href=\"{r}\">change your password now</a>.</p>",
            p = esc(&refused),
            r = esc(reset)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

/// The subject names the inviter and the organization, so the invitee knows who asks before opening anything.
pub fn org_invitation(
    app: &str,
    to: &str,
    inviter: &str,
    org: &str,
    role: &str,
    link: &str,
    days: i64,
) -> OutgoingMail {
    let subject = format!("{inviter} invited you to join {org} on {app}");
    let text = format!(
        "{inviter} invited you to join {org} on {app} as {role}.\n\nAccept the invitation here:\n\n{link}\n\n\
         The invitation is for {to} and works for {days} days. If you don't have an account yet, you can create one \
         from the link.\n"
    );
    let html = layout(
        app,
        &format!("Join {org}"),
        &format!(
            "<p>{i} invited you to join <strong>{o}</strong> as {r}.</p>{b}\
             <p style=\"color:#555;font-size:13px\">The invitation is for {t} and works for {days} days. If you don't \
             have an account yet, you can create one from the link.</p>",
            i = esc(inviter),
            o = esc(org),
            r = esc(role),
            t = esc(to),
            b = button(link, "View the invitation"),
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn org_role_changed(app: &str, to: &str, org: &str, role: &str, page: &str) -> OutgoingMail {
    let subject = format!("Your role in {org} is now {role}");
    let text = format!("Your role in {org} on {app} was changed to {role}.\n\nOpen the organization: {page}\n");
    let html = layout(
        app,
        "Your role changed",
        &format!(
            "<p>Your role in <strong>{o}</strong> was changed to {r}.</p>{b}",
            o = esc(org),
            r = esc(role),
            b = button(page, "Open the organization")
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn org_member_removed(app: &str, to: &str, org: &str) -> OutgoingMail {
    let subject = format!("You were removed from {org}");
    let text = format!(
        "You are no longer a member of {org} on {app}, and its pages are closed to you. Your {app} account itself is \
         unchanged.\n"
    );
    let html = layout(
        app,
        "Removed from an organization",
        &format!(
            "<p>You are no longer a member of <strong>{o}</strong>, and its pages are closed to you. Your account \
             itself is unchanged.</p>",
            o = esc(org)
        ),
    );
    OutgoingMail { to: to.into(), subject, text, html }
}

/// What an admin did to the account, for [`admin_changed`].
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdminChange {
    Locked,
    Unlocked,
    MfaReset,
    /// The password no longer signs in (S5): the owner chooses a new one through a reset link.
    PasswordChangeRequired,
}

/// `base`: the site's address, for the link the mail ends with (log in, or choose a new password).
pub fn admin_changed(app: &str, to: &str, change: AdminChange, base: &str) -> OutgoingMail {
    let (link, link_text) = match change {
        AdminChange::PasswordChangeRequired => (format!("{base}/users/reset-password"), "Choose a new password"),
        _ => (format!("{base}/users/log-in"), "Log in"),
    };
    let (subject, body) = match change {
        AdminChange::Locked => (
            format!("Your {app} account was locked"),
            format!(
                "An administrator of {app} locked your account: every device was signed out and signing in is \
                 refused until it is unlocked. If you think this is a mistake, reply to this mail."
            ),
        ),
        AdminChange::Unlocked => (
            format!("Your {app} account was unlocked"),
            format!("An administrator of {app} unlocked your account. You can log in again."),
        ),
        AdminChange::MfaReset => (
            format!("Two-step verification was reset on your {app} account"),
            format!(
                "An administrator of {app} removed the two-step verification of your account (the authenticator app, \
                 its backup codes and trusted browsers), usually because you asked after losing your phone. Log in \
                 and set it up again. If you did not ask for this, change your password now."
            ),
        ),
        AdminChange::PasswordChangeRequired => (
            format!("Choose a new password for your {app} account"),
            format!(
                "An administrator of {app} asked you to choose a new password, usually because your current one may \
                 be known to someone else. Every device was signed out and your current password no longer signs \
                 you in. Ask for a reset link below and choose a new password; signing in with a mailed link, a \
                 passkey or a linked provider still works."
            ),
        ),
    };
    let text = format!("{body}\n\n{link_text}: {link}\n");
    let html =
        layout(app, &subject, &format!("<p>{}</p><p><a href=\"{}\">{link_text}</a></p>", esc(&body), esc(&link)));
    OutgoingMail { to: to.into(), subject, text, html }
}

pub fn account_deleted_by_admin(app: &str, to: &str) -> OutgoingMail {
    let subject = format!("Your {app} account was deleted");
    let body = format!(
        "An administrator of {app} deleted your account and everything it held. If you think this is a mistake, \
         reply to this mail."
    );
    let html = layout(app, "Account deleted", &format!("<p>{}</p>", esc(&body)));
    OutgoingMail { to: to.into(), subject, text: format!("{body}\n"), html }
}
