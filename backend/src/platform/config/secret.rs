//! The secret key's strength, and the origins where development defaults may apply.
/// The well-known development key: refused in production and on any origin but localhost.
pub(super) const DEV_SECRET: &str = "portcullis-development-secret-key-do-not-use-in-production";

/// Whether `base_url` is a localhost or loopback origin (`http://localhost:3000`, `http://127.0.0.1`, `[::1]`,
/// `*.localhost`): the only origins where development defaults may apply.
pub fn is_local_origin(base_url: &str) -> bool {
    let Some(rest) = base_url.strip_prefix("http://").or_else(|| base_url.strip_prefix("https://")) else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return false;
    }
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    let host = host.to_ascii_lowercase();
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// `SECRET_KEY` must carry at least 256 bits of randomness: 64 hex digits or 43 base64 characters (32 bytes) at
/// least, or 64 other characters, and not made of a repeated pattern (a heuristic: the real guarantee is making it
/// with `openssl rand -hex 32`).
pub fn check_secret_strength(s: &str) -> Result<(), String> {
    use base64::{engine::general_purpose, Engine};
    const HOW: &str = "must carry at least 256 random bits (try: openssl rand -hex 32)";
    let bytes: Vec<u8> = if s.len() >= 64 && s.len() % 2 == 0 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(s).map_err(|_| HOW.to_string())?
    } else if let Some(b) = [
        &general_purpose::STANDARD,
        &general_purpose::STANDARD_NO_PAD,
        &general_purpose::URL_SAFE,
        &general_purpose::URL_SAFE_NO_PAD,
    ]
    .iter()
    .find_map(|e| e.decode(s).ok())
    .filter(|b| b.len() >= 32)
    {
        b
    } else if s.chars().count() >= 64 {
        s.as_bytes().to_vec()
    } else {
        return Err(format!("is too short: it {HOW}"));
    };
    let n = bytes.len();
    let periodic = (1..=n / 2).any(|p| (p..n).all(|i| bytes[i] == bytes[i - p]));
    let mut counts = std::collections::HashMap::new();
    for b in &bytes {
        *counts.entry(b).or_insert(0usize) += 1;
    }
    let most = counts.values().copied().max().unwrap_or(0);
    if periodic || counts.len() < n / 4 || most > n / 4 + 2 {
        return Err(format!("is a pattern, not random: it {HOW}"));
    }
    Ok(())
}
