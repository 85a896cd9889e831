//! In-process rate limits (governor). Keys are IPs (IPv6 by /64, since one host holds a whole /64) and e-mail
//! addresses. With several instances each counts on its own: the effective limit is multiplied by the count.
use std::{net::IpAddr, num::NonZeroU32, time::Duration};

use governor::{clock::DefaultClock, state::keyed::DefaultKeyedStateStore, Quota, RateLimiter};

use crate::platform::config::Config;

type Keyed<K> = RateLimiter<K, DefaultKeyedStateStore<K>, DefaultClock>;

pub struct RateLimits {
    anonymous_post: Keyed<IpAddr>,
    password_checks: Keyed<IpAddr>,
    /// Credential checks per account (the typed e-mail, or the signed-in user's id): bounds what one account can
    /// cost the hash pool, and how fast anyone can try it, from however many addresses.
    per_account: Keyed<String>,
    mail_per_address: Keyed<String>,
    mail_per_ip: Keyed<IpAddr>,
    invites_per_inviter: Keyed<String>,
    invites_per_org: Keyed<String>,
    /// JSON API requests per personal access token.
    per_api_token: Keyed<String>,
}

/// Invitations (sent or re-sent) an hour: per inviter, and per organization whoever sends them.
pub const INVITES_PER_INVITER_PER_HOUR: u32 = 20;
pub const INVITES_PER_ORG_PER_HOUR: u32 = 50;

fn per_hour<K: std::hash::Hash + Eq + Clone>(n: u32) -> Keyed<K> {
    let n = nz(n);
    RateLimiter::keyed(Quota::with_period(Duration::from_secs(3600) / n.get()).expect("non-zero period").allow_burst(n))
}

/// Seconds until the caller may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryAfter(pub u64);

/// The key for an address: IPv4 as is, IPv6 cut to its /64.
pub fn ip_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return IpAddr::V4(v4);
            }
            let mut s = v6.segments();
            s[4..].iter_mut().for_each(|x| *x = 0);
            IpAddr::V6(s.into())
        }
    }
}

fn nz(n: u32) -> NonZeroU32 {
    NonZeroU32::new(n.max(1)).expect("at least 1")
}

fn check<K: std::hash::Hash + Eq + Clone>(l: &Keyed<K>, k: &K) -> Result<(), RetryAfter> {
    l.check_key(k).map_err(|not_until| {
        let wait = not_until.wait_time_from(governor::clock::Clock::now(&DefaultClock::default()));
        RetryAfter(wait.as_secs().max(1))
    })
}

/// Asked a quarter of a second after the last key: a password typed at speed costs a few dozen.
const PASSWORD_CHECKS_PER_MINUTE: u32 = 120;

impl RateLimits {
    pub fn new(config: &Config) -> Self {
        let per_min = nz(config.rate_limit_anonymous_per_minute);
        let mail = nz(config.rate_limit_mail_per_hour);
        Self {
            anonymous_post: RateLimiter::keyed(Quota::per_minute(per_min).allow_burst(per_min)),
            password_checks: RateLimiter::keyed(
                Quota::per_minute(nz(PASSWORD_CHECKS_PER_MINUTE)).allow_burst(nz(PASSWORD_CHECKS_PER_MINUTE)),
            ),
            per_account: {
                let n = nz(config.rate_limit_account_per_minute);
                RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))
            },
            mail_per_address: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(3600) / mail.get()).expect("non-zero period").allow_burst(mail),
            ),
            mail_per_ip: RateLimiter::keyed(
                Quota::with_period(Duration::from_secs(3600) / (mail.get() * 4))
                    .expect("non-zero period")
                    .allow_burst(nz(mail.get() * 4)),
            ),
            invites_per_inviter: per_hour(INVITES_PER_INVITER_PER_HOUR),
            invites_per_org: per_hour(INVITES_PER_ORG_PER_HOUR),
            per_api_token: {
                let n = nz(config.rate_limit_api_per_minute);
                RateLimiter::keyed(Quota::per_minute(n).allow_burst(n))
            },
        }
    }

    /// Every POST without a session, and every credential endpoint with or without one, per client address.
    pub fn anonymous_post(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check(&self.anonymous_post, &ip_key(ip))
    }

    /// The meter beside a new-password field, asked as someone types: an allowance of its own per client address.
    pub fn password_check(&self, ip: IpAddr) -> Result<(), RetryAfter> {
        check(&self.password_checks, &ip_key(ip))
    }

    /// One credential check (a password, a code) for `account`: an e-mail address as typed (lowercased, so unknown
    /// addresses are limited alike) or a user id.
    pub fn account(&self, account: &str) -> Result<(), RetryAfter> {
        check(&self.per_account, &account.to_lowercase())
    }

    /// Any action that sends mail to `address`, limited per address and per client address.
    pub fn mail(&self, address: &str, ip: IpAddr) -> Result<(), RetryAfter> {
        check(&self.mail_per_ip, &ip_key(ip))?;
        check(&self.mail_per_address, &address.to_string())
    }

    /// An invitation sent by `inviter` for `org_id`. The inviter's allowance is checked first, so one member
    /// retrying past their own limit does not use up the organization's.
    pub fn invite(&self, inviter: &str, org_id: &str) -> Result<(), RetryAfter> {
        check(&self.invites_per_inviter, &inviter.to_string())?;
        check(&self.invites_per_org, &org_id.to_string())
    }

    /// One JSON API request made with the token `token_id`.
    pub fn api_token(&self, token_id: &str) -> Result<(), RetryAfter> {
        check(&self.per_api_token, &token_id.to_string())
    }

    /// Drops idle keys so memory stays bounded.
    pub fn sweep(&self) {
        self.anonymous_post.retain_recent();
        self.password_checks.retain_recent();
        self.password_checks.shrink_to_fit();
        self.per_account.retain_recent();
        self.per_account.shrink_to_fit();
        self.mail_per_address.retain_recent();
        self.mail_per_ip.retain_recent();
        self.invites_per_inviter.retain_recent();
        self.invites_per_org.retain_recent();
        self.per_api_token.retain_recent();
        self.per_api_token.shrink_to_fit();
        self.anonymous_post.shrink_to_fit();
        self.mail_per_address.shrink_to_fit();
        self.mail_per_ip.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_addresses_share_a_key_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key(c));
    }

    #[test]
    fn anonymous_posts_are_limited_per_address() {
        let mut c = Config::for_tests("sqlite::memory:");
        c.rate_limit_anonymous_per_minute = 3;
        let l = RateLimits::new(&c);
        let ip: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..3 {
            assert!(l.anonymous_post(ip).is_ok());
        }
        let RetryAfter(secs) = l.anonymous_post(ip).unwrap_err();
        assert!((1..=60).contains(&secs));
        assert!(l.anonymous_post("203.0.113.8".parse().unwrap()).is_ok());
    }
}
