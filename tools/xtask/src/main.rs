//! `cargo xtask new-page NAME [--org | --admin]`: a page behind log in — its folder with the page and server
//! functions, its SQL, a migration, its route in the guarded group and an integration test — written from the
//! README's recipe ("Add a page behind log in"; with `--org` "Add a page of an organization", with `--admin` "Add an
//! admin page") with the recipe's names (`projects`, `Project`, …) replaced by NAME's. The recipes are the
//! templates, so they cannot drift apart: `scripts/check-recipe.sh` generates pages from each into a copy of the
//! project and runs their tests.
//!
//! Each block of that README section follows a line naming its file: **`path`** writes the block as that (new) file;
//! **`path`**, after `marker` inserts the block after the one line of that file holding `marker`, at its indentation.
use std::{
    fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Parser, Subcommand};

mod template;

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Project generators")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// A page behind log in at /NAME (or /organizations/SLUG/NAME): page, server functions, SQL, migration, route
    /// and test
    NewPage {
        /// The plural, in lowercase letters: `widgets` makes /widgets, `Widget`, `add_widget`, a `widgets` table
        name: String,
        /// The singular when it is not NAME without its final s (`--singular category` for `categories`)
        #[arg(long)]
        singular: Option<String>,
        /// A page of an organization, for its members: /organizations/SLUG/NAME, its rows the organization's
        #[arg(long, conflicts_with = "admin")]
        org: bool,
        /// A page of the admin console, for the site's administrators: /admin/NAME
        #[arg(long)]
        admin: bool,
    },
    /// Writes the cargo-generate twins (`FILE.liquid`) of the files that carry the project's names (template.rs)
    Template {
        /// Writes nothing; fails when a twin is missing or out of date
        #[arg(long)]
        check: bool,
    },
}

/// The README sections the generator reads: a page behind log in, a page of an organization, an admin page.
const USER_RECIPE: &str = "### Add a page behind log in";
const ORG_RECIPE: &str = "### Add a page of an organization";
const ADMIN_RECIPE: &str = "### Add an admin page";

fn main() -> ExitCode {
    let (name, singular, org, admin) = match Cli::parse().command {
        Command::NewPage { name, singular, org, admin } => (name, singular, org, admin),
        Command::Template { check } => return template_command(check),
    };
    let section = match (org, admin) {
        (true, _) => ORG_RECIPE,
        (_, true) => ADMIN_RECIPE,
        _ => USER_RECIPE,
    };
    let root = match project_root() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("new-page: {e}");
            return ExitCode::FAILURE;
        }
    };
    match new_page(&root, section, &name, singular.as_deref()) {
        Ok(written) => {
            for line in written {
                println!("new-page: {line}");
            }
            println!("new-page: done; its test: cargo test -p server --test it -- {name}::");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("new-page: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `cargo xtask template [--check]`: the twins written from their files, or checked against them.
fn template_command(check: bool) -> ExitCode {
    let outcome = project_root().and_then(|root| {
        if !check {
            return Ok(template::write(&root)?.into_iter().map(|p| format!("wrote {p}")).collect());
        }
        match template::problems(&root)? {
            problems if problems.is_empty() => Ok(vec!["the twins are up to date".to_string()]),
            problems => Err(problems.join("\ntemplate: ")),
        }
    });
    match outcome {
        Ok(lines) => {
            lines.iter().for_each(|l| println!("template: {l}"));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("template: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The project is the folder this is run in, or the nearest one above it that holds this tool.
fn project_root() -> Result<PathBuf, String> {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    cwd.ancestors()
        .find(|d| d.join("tools/xtask/Cargo.toml").exists())
        .map(Path::to_path_buf)
        .ok_or_else(|| format!("run it inside the project (no tools/xtask above {})", cwd.display()))
}

/// The recipe's names and the ones they become.
struct Names {
    plural: String,
    singular: String,
}

impl Names {
    fn new(plural: &str, singular: Option<&str>) -> Result<Self, String> {
        let lowercase = |s: &str| s.len() >= 2 && s.chars().all(|c| c.is_ascii_lowercase());
        if !lowercase(plural) {
            return Err(format!("{plural:?}: use lowercase letters only (a module, a table and an address)"));
        }
        let singular = match singular {
            Some(s) => s.to_string(),
            None => plural
                .strip_suffix('s')
                .ok_or_else(|| format!("{plural:?}: give the plural (widgets), or the singular with --singular"))?
                .to_string(),
        };
        if !lowercase(&singular) || singular == plural {
            return Err(format!("{singular:?}: the singular must be other lowercase letters than the plural"));
        }
        Ok(Self { plural: plural.to_string(), singular })
    }

    /// `text` with the recipe's names replaced, longest first (`Projects` before `Project`).
    fn apply(&self, text: &str) -> String {
        let cap = |s: &str| s[..1].to_uppercase() + &s[1..];
        let pairs = [
            ("Projects", cap(&self.plural)),
            ("projects", self.plural.clone()),
            ("Project", cap(&self.singular)),
            ("project", self.singular.clone()),
        ];
        let mut out = String::with_capacity(text.len());
        let mut rest = text;
        'outer: while !rest.is_empty() {
            for (from, to) in &pairs {
                if let Some(after) = rest.strip_prefix(from) {
                    out.push_str(to);
                    rest = after;
                    continue 'outer;
                }
            }
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
        out
    }
}

/// One block of the recipe: the file, the line to insert after (none: a new file), the lines.
struct Block {
    path: String,
    marker: Option<String>,
    lines: Vec<String>,
}

fn recipe(readme: &str, section: &str) -> Result<Vec<Block>, String> {
    let start = readme.find(section).ok_or_else(|| format!("README.md has no section {section:?}"))?;
    // The section ends at the next heading of its level or above (`### …`, `## …`).
    let end = readme[start + 1..]
        .match_indices("\n#")
        .find(|(i, _)| {
            let rest = &readme[start + 1 + i + 1..];
            rest.starts_with("## ") || rest.starts_with("### ")
        })
        .map_or(readme.len(), |(i, _)| start + 1 + i);
    let mut blocks = vec![];
    let mut target: Option<(String, Option<String>)> = None;
    let mut lines = readme[start..end].lines();
    while let Some(line) = lines.next() {
        if let Some(named) = line.strip_prefix("**`") {
            let (path, after) = named.split_once("`**").ok_or("a file heading without its closing **")?;
            let marker = after.strip_prefix(", after `").and_then(|m| m.split_once('`')).map(|(m, _)| m.to_string());
            target = Some((path.to_string(), marker));
        } else if line.starts_with("```") && line != "```" {
            let (path, marker) =
                target.take().ok_or_else(|| format!("a code block with no file named above it: {line}"))?;
            let body: Vec<String> = lines.by_ref().take_while(|l| *l != "```").map(str::to_string).collect();
            blocks.push(Block { path, marker, lines: body });
        }
    }
    if blocks.is_empty() {
        return Err("the recipe has no blocks".into());
    }
    Ok(blocks)
}

/// The recipe's migration gets the next version after the project's newest one, so it runs last.
fn next_migration(root: &Path, names: &Names) -> Result<String, String> {
    let newest = fs::read_dir(root.join("migrations"))
        .map_err(|e| format!("migrations/: {e}"))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.split('_').next()?.parse::<u64>().ok())
        .max()
        .unwrap_or(0);
    Ok(format!("migrations/{}_{}.sql", newest + 1, names.plural))
}

fn new_page(root: &Path, section: &str, plural: &str, singular: Option<&str>) -> Result<Vec<String>, String> {
    let names = Names::new(plural, singular)?;
    let readme = fs::read_to_string(root.join("README.md")).map_err(|e| format!("README.md: {e}"))?;
    let blocks = recipe(&readme, section)?;
    let folder = root.join("app/src").join(&names.plural);
    if folder.exists() {
        return Err(format!("app/src/{} exists already", names.plural));
    }
    // Every marker is checked before anything is written, so a failure leaves the project as it was.
    let mut plan = vec![];
    for block in blocks {
        let path = if block.path.starts_with("migrations/") {
            next_migration(root, &names)?
        } else {
            names.apply(&block.path)
        };
        let lines: Vec<String> = block.lines.iter().map(|l| names.apply(l)).collect();
        if let Some(marker) = &block.marker {
            let text = fs::read_to_string(root.join(&path)).map_err(|e| format!("{path}: {e}"))?;
            let found = text.lines().filter(|l| l.contains(marker.as_str())).count();
            if found != 1 {
                return Err(format!("{path} has {found} lines with {marker:?}, not one"));
            }
        } else if root.join(&path).exists() {
            return Err(format!("{path} exists already"));
        }
        plan.push((path, block.marker, lines));
    }
    let mut written = vec![];
    for (path, marker, lines) in plan {
        let file = root.join(&path);
        match &marker {
            None => {
                fs::create_dir_all(file.parent().expect("a file in a folder")).map_err(|e| format!("{path}: {e}"))?;
                fs::write(&file, lines.join("\n") + "\n").map_err(|e| format!("{path}: {e}"))?;
                written.push(path);
            }
            Some(marker) => {
                let text = fs::read_to_string(&file).map_err(|e| format!("{path}: {e}"))?;
                let mut out: Vec<String> = vec![];
                for line in text.split('\n') {
                    out.push(line.to_string());
                    if line.contains(marker.as_str()) {
                        let indent = &line[..line.len() - line.trim_start().len()];
                        out.extend(
                            lines.iter().map(|l| if l.is_empty() { String::new() } else { format!("{indent}{l}") }),
                        );
                    }
                }
                fs::write(&file, out.join("\n")).map_err(|e| format!("{path}: {e}"))?;
                written.push(format!("{path} (after {marker:?})"));
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_replace_the_recipes_longest_first() {
        let n = Names::new("widgets", None).unwrap();
        assert_eq!(
            n.apply("ProjectsPage AddProject list_projects add_project /projects"),
            "WidgetsPage AddWidget list_widgets add_widget /widgets"
        );
        let n = Names::new("categories", Some("category")).unwrap();
        assert_eq!(n.apply("Project projects"), "Category categories");
    }

    #[test]
    fn names_that_cannot_be_a_module_or_a_table_are_refused() {
        for bad in ["Widgets", "wid-gets", "w", "widget s", "wïdgets", "../x"] {
            assert!(Names::new(bad, None).is_err(), "{bad:?}");
        }
        assert!(Names::new("sheep", None).is_err(), "no plural s and no --singular");
        assert!(Names::new("sheep", Some("sheep")).is_err());
    }

    #[test]
    fn the_readme_recipe_reads_as_blocks_with_their_files() {
        // Read at run time: a binary reused from a build of another copy (one shared target directory) would bake
        // in that copy's path.
        let dir = std::env::var("CARGO_MANIFEST_DIR").unwrap();
        let readme = fs::read_to_string(Path::new(&dir).join("../../README.md")).unwrap();
        for section in [USER_RECIPE, ORG_RECIPE, ADMIN_RECIPE] {
            let blocks = recipe(&readme, section).unwrap();
            assert!(blocks.iter().any(|b| b.path == "app/src/projects/mod.rs" && b.marker.is_none()), "{section}");
            assert!(blocks
                .iter()
                .any(|b| b.path == "app/src/lib.rs" && b.marker.as_deref() == Some("// Forks: your feature modules.")));
            assert!(blocks.iter().any(|b| b.path.starts_with("migrations/")), "{section}");
            // Each recipe is its own: the first does not run on into the second.
            assert_eq!(blocks.iter().filter(|b| b.path == "app/src/projects/mod.rs").count(), 1, "{section}");
        }
        let org = recipe(&readme, ORG_RECIPE).unwrap();
        let route = org.iter().find(|b| b.marker.as_deref() == Some("// Forks: your pages behind log in.")).unwrap();
        assert!(route.lines[0].contains("/organizations/:slug/projects"), "{:?}", route.lines);
        let admin = recipe(&readme, ADMIN_RECIPE).unwrap();
        let route = admin.iter().find(|b| b.marker.as_deref() == Some("// Forks: your admin pages.")).unwrap();
        assert!(route.lines[0].contains("/admin/projects"), "{:?}", route.lines);
    }
}
