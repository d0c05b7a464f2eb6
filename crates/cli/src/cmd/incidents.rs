//! `watchpost incidents list|show`: reads incidents through the API, with
//! the caller's visibility.
//!
//! Titles, descriptions and timeline messages hold reporters' words, so
//! every text from the server is escaped ([`crate::term`]) before it is
//! printed.

use std::process::ExitCode;

use incidents::enums::{Category, Severity, Status};
use web::types::{IncidentDetailResponse, IncidentResponse, Page};

use super::report::{ApiArgs, ApiClient};
use crate::term;

/// `watchpost incidents ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List incidents visible to you.
    List {
        /// Only this status.
        #[arg(long, value_parser = parse::<Status>)]
        status: Option<Status>,
        /// Only this severity (SEV1..SEV4).
        #[arg(long, value_parser = parse::<Severity>)]
        severity: Option<Severity>,
        /// Only this category.
        #[arg(long, value_parser = parse::<Category>)]
        category: Option<Category>,
        /// Text search in title and description.
        #[arg(long)]
        search: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Show one incident.
    Show {
        /// The incident id.
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        api: ApiArgs,
    },
}

fn parse<T>(s: &str) -> Result<T, String>
where
    T: std::str::FromStr<Err = incidents::enums::ParseEnumError>,
{
    s.parse()
        .map_err(|e: incidents::enums::ParseEnumError| e.to_string())
}

/// Runs an `incidents` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::List {
            status,
            severity,
            category,
            search,
            limit,
            json,
            api,
        } => {
            let client = ApiClient::new(&api)?;
            let mut query = vec![("limit", limit.to_string())];
            if let Some(s) = status {
                query.push(("status", s.to_string()));
            }
            if let Some(s) = severity {
                query.push(("severity", s.to_string()));
            }
            if let Some(c) = category {
                query.push(("category", c.to_string()));
            }
            if let Some(q) = search {
                query.push(("q", q));
            }
            let page: Page<IncidentResponse> =
                client.block_on(client.get("/api/v1/incidents", &query))?;
            if json {
                println!("{}", term::json::to_string_pretty(&page)?);
                return Ok(ExitCode::SUCCESS);
            }
            println!(
                "{:<36}  {:<4}  {:<13}  {:<17}  TITLE",
                "ID", "SEV", "STATUS", "CATEGORY"
            );
            for i in &page.items {
                println!(
                    "{:<36}  {:<4}  {:<13}  {:<17}  {}{}",
                    term::line(&i.id),
                    i.severity.as_str(),
                    i.status.as_str(),
                    i.category.as_str(),
                    term::line(&i.title),
                    if i.sensitive { " [sensitive]" } else { "" }
                );
            }
            println!(
                "{} of {} incidents",
                page.items.len(),
                page.total.unwrap_or_default()
            );
        }
        Command::Show { id, json, api } => {
            let client = ApiClient::new(&api)?;
            let detail: IncidentDetailResponse =
                client.block_on(client.get(&format!("/api/v1/incidents/{id}"), &[]))?;
            if json {
                println!("{}", term::json::to_string_pretty(&detail)?);
                return Ok(ExitCode::SUCCESS);
            }
            let i = &detail.incident;
            println!("{}  {}", term::line(&i.id), term::line(&i.title));
            println!("  severity  {}", i.severity);
            println!("  status    {}", i.status);
            println!("  category  {}", i.category);
            println!("  sensitive {}", i.sensitive);
            if let Some(owner) = &i.owner_id {
                println!("  owner     {}", term::line(owner));
            }
            if !i.description.is_empty() {
                println!("\n{}\n", term::text(&i.description));
            }
            for t in &detail.timeline {
                println!(
                    "  {}  {:<10} {}",
                    t.at,
                    term::line(&t.kind),
                    term::line(&t.message)
                );
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
