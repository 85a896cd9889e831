//! `portcullis [serve | migrate | help]`.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Serve,
    Migrate,
    Help,
}

pub const USAGE: &str = "usage: portcullis [COMMAND]\n\n\
commands:\n  serve     run the web server and the job worker (default)\n  \
migrate   apply database migrations and exit\n  help      show this message\n\n\
Configuration comes from the environment (and .env in development); see .env.example.";

pub fn parse(args: &[String]) -> Result<Command, String> {
    match args.first().map(String::as_str) {
        None | Some("serve") => Ok(Command::Serve),
        Some("migrate") => Ok(Command::Migrate),
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
    }
}
