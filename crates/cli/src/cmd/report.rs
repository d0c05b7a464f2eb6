//! `watchpost report`: files a report through the API. Also holds the small
//! API client that `watchpost incidents` uses.

use std::process::ExitCode;

use incidents::enums::Category;
use serde::Serialize;
use serde::de::DeserializeOwned;
use web::types::{NewReportRequest, ReportResponse};

use crate::term;

/// Where the API is and who is calling. `Debug` never shows the token.
#[derive(Clone, clap::Args)]
pub struct ApiArgs {
    /// The server's base URL.
    #[arg(
        long,
        value_name = "URL",
        env = "WATCHPOST_URL",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,
    /// The API token (`wp_...`).
    #[arg(
        long,
        value_name = "TOKEN",
        env = "WATCHPOST_TOKEN",
        hide_env_values = true
    )]
    pub token: String,
}

impl std::fmt::Debug for ApiArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiArgs")
            .field("server", &self.server)
            .field("token", &"[redacted]")
            .finish()
    }
}

/// Arguments of `watchpost report`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Category: security_incident, physical_injury, theft, property_damage,
    /// denial_of_service, threats, harassment, account_abuse, forgery,
    /// misrepresentation or other.
    #[arg(long, value_parser = parse_category)]
    pub category: Category,
    /// Only the Security Team and finance-ops may see it.
    #[arg(long)]
    pub sensitive: bool,
    /// What happened.
    #[arg(long)]
    pub description: String,
    /// When it happened (RFC 3339, e.g. 2026-11-30T09:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub occurred_at: Option<time::OffsetDateTime>,
    /// Where it happened, or which asset.
    #[arg(long)]
    pub location: Option<String>,
    /// Print the created report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub api: ApiArgs,
}

fn parse_category(s: &str) -> Result<Category, String> {
    s.parse()
        .map_err(|e: incidents::enums::ParseEnumError| e.to_string())
}

fn parse_time(s: &str) -> Result<time::OffsetDateTime, String> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map_err(|e| format!("expected an RFC 3339 time such as 2026-11-30T09:00:00Z: {e}"))
}

/// Files the report.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let client = ApiClient::new(&args.api)?;
    let request = NewReportRequest {
        category: args.category,
        description: args.description,
        sensitive: args.sensitive,
        occurred_at: args.occurred_at,
        location: args.location,
        channel: Some(incidents::enums::Channel::Cli),
    };
    let report: ReportResponse = client.block_on(client.post("/api/v1/reports", &request))?;
    if args.json {
        println!("{}", term::json::to_string_pretty(&report)?);
    } else {
        let sensitive = if report.sensitive { " (sensitive)" } else { "" };
        println!("filed report {}{sensitive}", term::line(&report.id));
        println!(
            "incident {} is in {}",
            term::line(&report.incident_id),
            report.incident_status
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// A blocking-friendly client for the watchpost API. `Debug` never shows
/// the token.
pub struct ApiClient {
    base: String,
    token: String,
    http: reqwest::Client,
    runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base)
            .field("token", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl ApiClient {
    /// Builds a client for `args`.
    pub fn new(args: &ApiArgs) -> anyhow::Result<Self> {
        // Both aws-lc-rs and ring are in the dependency graph: pick one
        // before any TLS configuration is built. A second install is a no-op.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        Ok(Self {
            base: args.server.trim_end_matches('/').to_owned(),
            token: args.token.clone(),
            http,
            runtime,
        })
    }

    /// Runs a request future to completion.
    pub fn block_on<T>(
        &self,
        future: impl std::future::Future<Output = anyhow::Result<T>>,
    ) -> anyhow::Result<T> {
        self.runtime.block_on(future)
    }

    /// `GET path` (with query string), decoded as `T`.
    pub async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> anyhow::Result<T> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base))
            .map_err(|e| anyhow::anyhow!("invalid server URL {:?}: {e}", self.base))?;
        if !query.is_empty() {
            let mut pairs = url.query_pairs_mut();
            for (key, value) in query {
                pairs.append_pair(key, value);
            }
        }
        self.send(self.http.get(url)).await
    }

    /// `POST path` with a JSON body, decoded as `T`.
    pub async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        let request = self.http.post(format!("{}{path}", self.base)).json(body);
        self.send(request).await
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> anyhow::Result<T> {
        let response = request
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| anyhow::anyhow!("cannot reach {}: {}", self.base, e.without_url()))?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("unexpected answer from the server: {e}"));
        }
        match serde_json::from_slice::<web::error::ErrorBody>(&bytes) {
            Ok(body) => anyhow::bail!(
                "server answered {status}: {} ({})",
                body.error.message,
                body.error.code
            ),
            Err(_) => anyhow::bail!("server answered {status}"),
        }
    }
}
