//! The repository is also a [cargo-generate](https://cargo-generate.github.io/cargo-generate/) template
//! (`cargo generate --git URL --name acme`, or `cargo leptos new --git URL`), and it stays a project that builds and
//! tests as it is. The project's names live in five files ([`TWINS`]); each has a twin, `FILE.liquid`, that is the
//! same file with the names as placeholders. cargo-generate renders a twin over its file (`.liquid` wins) and
//! renders nothing else (`include` in `cargo-generate.toml`), so Rust code, mail templates and JavaScript are copied
//! as they are: the code reads the names at compile time (`.cargo/config.toml`, `backend::PROJECT`).
//!
//! `cargo xtask template` writes the twins from their files; a test fails when one is out of date.
use std::{fs, path::Path};

/// The files that carry the project's names, from the repository's root.
pub const TWINS: [&str; 5] = ["Cargo.toml", "server/Cargo.toml", ".cargo/config.toml", ".env.example", "Dockerfile"];

/// The placeholders: the name in code (snake case: the binary, the bundle, the cookies) and the name people see.
pub const CODE_NAME: &str = "{{crate_name}}";
pub const DISPLAY_NAME: &str = "{{project-name | title_case}}";

/// The project's two names, as `.cargo/config.toml` sets them (`LEPTOS_OUTPUT_NAME`, `APP_NAME_DEFAULT`).
pub fn names(root: &Path) -> Result<(String, String), String> {
    let config = fs::read_to_string(root.join(".cargo/config.toml")).map_err(|e| format!(".cargo/config.toml: {e}"))?;
    let value = |key: &str| {
        config
            .lines()
            .find_map(|l| {
                l.strip_prefix(key)?.trim_start().strip_prefix('=')?.trim().strip_prefix('"')?.strip_suffix('"')
            })
            .map(str::to_string)
            .ok_or_else(|| format!(".cargo/config.toml has no {key} = \"…\""))
    };
    Ok((value("LEPTOS_OUTPUT_NAME")?, value("APP_NAME_DEFAULT")?))
}

/// `original` with the project's names replaced by the placeholders.
pub fn twin(original: &str, code: &str, display: &str) -> String {
    original.replace(display, DISPLAY_NAME).replace(code, CODE_NAME)
}

/// Writes every twin from its file; returns the paths written.
pub fn write(root: &Path) -> Result<Vec<String>, String> {
    let (code, display) = names(root)?;
    let mut written = Vec::new();
    for file in TWINS {
        let original = fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let path = format!("{file}.liquid");
        fs::write(root.join(&path), twin(&original, &code, &display)).map_err(|e| format!("{path}: {e}"))?;
        written.push(path);
    }
    Ok(written)
}

/// What is wrong with the template, if anything: a twin missing, out of date or without a placeholder, or
/// `cargo-generate.toml` not rendering exactly the twins. A fork that cargo-generate made has neither the
/// configuration nor the twins, and nothing to check.
pub fn problems(root: &Path) -> Result<Vec<String>, String> {
    let config = match fs::read_to_string(root.join("cargo-generate.toml")) {
        Ok(c) => c,
        Err(_) => {
            return Ok(TWINS
                .iter()
                .filter(|f| root.join(format!("{f}.liquid")).exists())
                .map(|f| format!("{f}.liquid without cargo-generate.toml"))
                .collect())
        }
    };
    let (code, display) = names(root)?;
    let mut problems = Vec::new();
    for file in TWINS {
        let original = fs::read_to_string(root.join(file)).map_err(|e| format!("{file}: {e}"))?;
        let expected = twin(&original, &code, &display);
        match fs::read_to_string(root.join(format!("{file}.liquid"))) {
            Err(_) => problems.push(format!("{file}.liquid is missing")),
            Ok(t) if t != expected => problems.push(format!("{file}.liquid is out of date with {file}")),
            Ok(_) if !expected.contains(CODE_NAME) && !expected.contains(DISPLAY_NAME) => {
                problems.push(format!("{file} no longer carries a name: take it out of TWINS"))
            }
            Ok(_) => {}
        }
        if !config.contains(&format!("\"/{file}\"")) {
            problems.push(format!("cargo-generate.toml does not render /{file}"));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_twin_puts_placeholders_where_the_names_are() {
        let t = twin("name = \"portcullis\"\nAPP_NAME=Portcullis\nportcullis-data", "portcullis", "Portcullis");
        assert_eq!(t, "name = \"{{crate_name}}\"\nAPP_NAME={{project-name | title_case}}\n{{crate_name}}-data");
    }

    #[test]
    fn the_template_twins_are_up_to_date() {
        // Read at run time, for the same reason as the README recipe test.
        let root = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("../..");
        let problems = problems(&root).unwrap();
        assert!(problems.is_empty(), "run `cargo xtask template`: {problems:?}");
        // Here, in the template, the names are the original ones (a fork is checked by scripts/check-template.sh).
        if root.join("cargo-generate.toml").exists() {
            assert_eq!(names(&root).unwrap(), ("portcullis".to_string(), "Portcullis".to_string()));
        }
    }
}
