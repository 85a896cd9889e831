//! `portcullis [serve | migrate | help]`.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    /// `user require-password-change EMAIL`: on evidence of compromise, the next sign-in needs a new password.
    RequirePasswordChange(String),
    /// `admin grant EMAIL`, `admin revoke EMAIL`: the operator role (there are no default accounts).
    AdminGrant(String),
    AdminRevoke(String),
    /// `admin list`.
    AdminList,
    Help,
}

pub const USAGE: &str = "usage: portcullis [COMMAND]\n\n\
commands:\n  serve     run the web server and the job worker (default)\n  \
migrate   apply database migrations and exit\n  \
user require-password-change EMAIL\n            the password stops working until the owner sets a new one from a\n            \
mailed link; every session of the account ends (use on evidence of compromise)\n  \
admin grant EMAIL | admin revoke EMAIL | admin list\n            the operator role (/admin; it needs two-step verification)\n  \
help      show this message\n\n\
Configuration comes from the environment (and .env in development); see .env.example.";

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        None | Some("serve") => Ok(Command::Serve),
        Some("migrate") => Ok(Command::Migrate),
        Some("user") => match (args.get(1).map(String::as_str), args.get(2)) {
            (Some("require-password-change"), Some(email)) if args.len() == 3 => {
                Ok(Command::RequirePasswordChange(email.clone()))
            }
            _ => Err(format!("usage: portcullis user require-password-change EMAIL\n\n{USAGE}")),
        },
        Some("admin") => match (args.get(1).map(String::as_str), args.get(2)) {
            (Some("grant"), Some(email)) if args.len() == 3 => Ok(Command::AdminGrant(email.clone())),
            (Some("revoke"), Some(email)) if args.len() == 3 => Ok(Command::AdminRevoke(email.clone())),
            (Some("list"), None) => Ok(Command::AdminList),
            _ => Err(format!("usage: portcullis admin grant EMAIL | admin revoke EMAIL | admin list\n\n{USAGE}")),
        },
        Some("help") | Some("--help") | Some("-h") => Ok(Command::Help),
        Some(other) => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(parse(&["migrate".into()]).unwrap(), Command::Migrate);
        assert!(parse(&["frobnicate".into()]).unwrap_err().contains("unknown command"));
        let args: Vec<String> = ["user", "require-password-change", "a@example.com"].map(String::from).into();
        assert_eq!(parse(&args).unwrap(), Command::RequirePasswordChange("a@example.com".into()));
        assert!(parse(&args[..2]).unwrap_err().contains("require-password-change EMAIL"));
    }

    #[test]
    fn admin_commands_parse_and_anything_else_is_usage() {
        let p = |a: &[&str]| parse(&a.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(p(&["admin", "grant", "a@example.com"]).unwrap(), Command::AdminGrant("a@example.com".into()));
        assert_eq!(p(&["admin", "revoke", "a@example.com"]).unwrap(), Command::AdminRevoke("a@example.com".into()));
        assert_eq!(p(&["admin", "list"]).unwrap(), Command::AdminList);
        for bad in [&["admin"][..], &["admin", "grant"], &["admin", "list", "x"], &["admin", "grant", "a", "b"]] {
            assert!(p(bad).unwrap_err().contains("admin grant EMAIL"), "{bad:?}");
        }
    }
}
