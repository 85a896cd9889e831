//! The passkey relying party, checked against the base URL at start-up.
use super::{err, ConfigError};

#[derive(Clone, Debug)]
pub struct WebauthnSettings {
    /// A domain (never an IP address): the base URL's host, or a parent domain of it.
    pub rp_id: String,
    /// Shown by the browser and the authenticator when a passkey is made.
    pub rp_name: String,
    /// Exact origins (scheme, host, port) the browser may report; the base URL's by default.
    pub origins: Vec<webauthn_rs::prelude::Url>,
}

impl WebauthnSettings {
    /// Reads `WEBAUTHN_RP_ID`, `WEBAUTHN_RP_NAME` and `WEBAUTHN_ORIGINS` and checks them against each other and the
    /// base URL, so a wrong domain fails at start-up with the variable named, not at a user's first passkey.
    pub(super) fn from_env(
        get: &impl Fn(&str) -> Option<String>,
        base_url: &str,
        app_name: &str,
        prod: bool,
    ) -> Result<Self, ConfigError> {
        use webauthn_rs::prelude::Url;
        let base = Url::parse(base_url).map_err(|e| err("BASE_URL", format!("is not a URL: {e}")))?;
        let rp_id = match get("WEBAUTHN_RP_ID") {
            Some(id) => id.to_ascii_lowercase(),
            None => base.host_str().unwrap_or_default().to_string(),
        };
        if rp_id.parse::<std::net::IpAddr>().is_ok()
            || rp_id.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok()
        {
            let var = if get("WEBAUTHN_RP_ID").is_some() { "WEBAUTHN_RP_ID" } else { "BASE_URL" };
            return Err(err(
                var,
                format!(
                    "passkeys need a domain name, not the IP address {rp_id}; in development use http://localhost:PORT"
                ),
            ));
        }
        let origins = match get("WEBAUTHN_ORIGINS") {
            Some(list) => list
                .split(',')
                .map(|o| Url::parse(o.trim()).map_err(|e| err("WEBAUTHN_ORIGINS", format!("{o:?} is not a URL: {e}"))))
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![base.clone()],
        };
        for o in &origins {
            let host = o.domain().unwrap_or_default();
            if !(host == rp_id || host.ends_with(&format!(".{rp_id}"))) {
                return Err(err(
                    "WEBAUTHN_RP_ID",
                    format!("{rp_id:?} must be the host of every WebAuthn origin or a parent domain of it; {o} is not under it"),
                ));
            }
            if prod && o.scheme() != "https" {
                return Err(err("WEBAUTHN_ORIGINS", format!("{o} must be https in production")));
            }
        }
        let rp_name = get("WEBAUTHN_RP_NAME").unwrap_or_else(|| app_name.to_string());
        let settings = WebauthnSettings { rp_id, rp_name, origins };
        settings.build().map_err(|e| err("WEBAUTHN_RP_ID", format!("rejected by WebAuthn: {e}")))?;
        Ok(settings)
    }

    /// The WebAuthn verifier for these settings.
    pub fn build(&self) -> Result<webauthn_rs::Webauthn, webauthn_rs::prelude::WebauthnError> {
        let mut builder = webauthn_rs::WebauthnBuilder::new(&self.rp_id, &self.origins[0])?.rp_name(&self.rp_name);
        for o in &self.origins[1..] {
            builder = builder.append_allowed_origin(o);
        }
        builder.build()
    }
}
