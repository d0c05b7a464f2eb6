//! Prints the policy catalogue as Markdown tables (used for
//! `docs/policy.md`): `cargo run -p watchpost-policy --example catalogue`.

use watchpost_policy::{Source, catalogue};

fn main() {
    println!("| policy | id | title | level | category | from | config |");
    println!("|---|---|---|---|---|---|---|");
    for e in catalogue() {
        let from = match e.source {
            Source::Sigma { file } => format!("Sigma `rules/policy/{file}`"),
            Source::Native { detector } => format!("native `{detector}`"),
        };
        let config = e
            .config
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "| {} | `{}` | {} | {} | {} | {} | {} |",
            e.policy.as_str(),
            e.id,
            e.title,
            e.level,
            e.category.as_str(),
            from,
            config
        );
    }
    println!();
    println!("### Runbooks\n");
    let mut seen = Vec::new();
    for e in catalogue() {
        if seen.contains(&e.runbook) {
            continue;
        }
        seen.push(e.runbook);
        let users: Vec<&str> = catalogue()
            .iter()
            .filter(|x| x.runbook == e.runbook)
            .map(|x| x.title)
            .collect();
        println!("- **{}** — {}\n", users.join("; "), e.runbook);
    }
}
