//! The command line, on clap: `portcullis [serve | migrate | doctor | user … | admin … | help]`.
use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = backend::PROJECT,
    version,
    about = "Accounts for your web product: the web server, and the operator's commands.",
    after_help = "Configuration comes from the environment (and .env in development); see .env.example."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Run the web server and the job worker (the default)
    Serve,
    /// Apply the database migrations and exit
    Migrate,
    /// Check the configuration before a deploy: each part ok, warning or error, with the fix; exits 1 on an error
    Doctor,
    /// Copy the SQLite database into a new FILE while the server runs (a consistent snapshot, `VACUUM INTO`); never
    /// overwrites a file. PostgreSQL: use pg_dump
    Backup { file: std::path::PathBuf },
    /// Exit 0 when the server on BIND_ADDR answers /healthz, 1 otherwise (a container's health check; the image has
    /// no shell and no curl)
    Healthcheck,
    /// The data encryption keys (DATA_ENCRYPTION_KEYS)
    #[command(subcommand)]
    Keys(KeysCommand),
    /// An account, by its e-mail address
    #[command(subcommand)]
    User(UserCommand),
    /// The operator role (/admin; it needs two-step verification). There are no default accounts
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The apps that sign people in through this site (OAuth 2.1 / OpenID Connect clients)
    #[command(subcommand)]
    OauthClient(OauthClientCommand),
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum OauthClientCommand {
    /// Register an app: prints its client id, and its secret once (none for --public)
    Create {
        /// The app's name, shown on the consent page
        #[arg(long)]
        name: String,
        /// Where the app receives the answer: https, http on 127.0.0.1 or [::1] (any port), or com.example.app:/path
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// A native or browser app that cannot keep a secret (PKCE alone)
        #[arg(long)]
        public: bool,
        /// The product's own app: no consent page
        #[arg(long)]
        first_party: bool,
    },
    /// The registered apps
    List,
    /// Revoke an app: it can no longer sign anyone in or use what it was given
    Revoke { client_id: String },
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum UserCommand {
    /// The password stops working until the owner sets a new one from a mailed link; every session of the account
    /// ends (use on evidence of compromise)
    RequirePasswordChange { email: String },
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum KeysCommand {
    /// Seal every secret kept at rest again under the first key listed, so the keys after it can be dropped;
    /// exits 1 when a value opens with no listed key
    Reseal,
    /// Retire the key that signs the OpenID provider's tokens: new tokens are signed by a new key, and the old one
    /// stays published until the access tokens it signed have expired
    RotateSigning,
}

#[derive(Debug, PartialEq, Eq, Subcommand)]
pub enum AdminCommand {
    /// Make the account an admin
    Grant { email: String },
    /// Take the admin role away
    Revoke { email: String },
    /// The admins, and whether each has two-step verification
    List,
}

impl Cli {
    /// The command to run: `serve` when none is named.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once(backend::PROJECT).chain(args.iter().copied())).map(Cli::command)
    }

    #[test]
    fn commands_parse() {
        assert_eq!(parse(&[]).unwrap(), Command::Serve);
        assert_eq!(parse(&["migrate"]).unwrap(), Command::Migrate);
        assert_eq!(parse(&["doctor"]).unwrap(), Command::Doctor);
        assert_eq!(parse(&["healthcheck"]).unwrap(), Command::Healthcheck);
        assert_eq!(parse(&["backup", "copy.db"]).unwrap(), Command::Backup { file: "copy.db".into() });
        assert!(parse(&["backup"]).is_err(), "the file is required");
        assert_eq!(parse(&["keys", "reseal"]).unwrap(), Command::Keys(KeysCommand::Reseal));
        assert_eq!(parse(&["keys", "rotate-signing"]).unwrap(), Command::Keys(KeysCommand::RotateSigning));
        assert_eq!(
            parse(&["oauth-client", "create", "--name", "App", "--redirect-uri", "https://a.example/cb", "--public"])
                .unwrap(),
            Command::OauthClient(OauthClientCommand::Create {
                name: "App".into(),
                redirect_uris: vec!["https://a.example/cb".into()],
                public: true,
                first_party: false,
            })
        );
        assert!(parse(&["oauth-client", "create", "--name", "App"]).is_err(), "a redirect URI is required");
        assert_eq!(parse(&["frobnicate"]).unwrap_err().kind(), clap::error::ErrorKind::InvalidSubcommand);
        assert_eq!(
            parse(&["user", "require-password-change", "a@example.com"]).unwrap(),
            Command::User(UserCommand::RequirePasswordChange { email: "a@example.com".into() })
        );
        assert!(parse(&["user", "require-password-change"]).is_err());
    }

    #[test]
    fn admin_commands_parse_and_anything_else_is_refused() {
        assert_eq!(
            parse(&["admin", "grant", "a@example.com"]).unwrap(),
            Command::Admin(AdminCommand::Grant { email: "a@example.com".into() })
        );
        assert_eq!(
            parse(&["admin", "revoke", "a@example.com"]).unwrap(),
            Command::Admin(AdminCommand::Revoke { email: "a@example.com".into() })
        );
        assert_eq!(parse(&["admin", "list"]).unwrap(), Command::Admin(AdminCommand::List));
        for bad in [&["admin"][..], &["admin", "grant"], &["admin", "list", "x"], &["admin", "grant", "a", "b"]] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
