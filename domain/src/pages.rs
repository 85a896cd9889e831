//! Addresses of pages the server itself sends people to (a policy's redirect), so the page and the policy cannot
//! drift apart.

/// Two-step verification and passkeys: where a user who must enrol is sent.
pub const SECURITY: &str = "/users/settings/security";
