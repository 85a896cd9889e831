//! Addresses of pages the server itself sends people to (a policy's redirect), so the page and the policy cannot
//! drift apart.

/// Two-step verification and passkeys: where a user who must enrol is sent.
pub const SECURITY: &str = "/users/settings/security";

/// Pages the server answers outside the app's router (the OpenID provider's authorization endpoint): a form that
/// sends the browser there after a sign-in has it load the page from the server, not look for it among the app's.
pub const SERVER_PAGES: &[&str] = &["/oauth/authorize"];
