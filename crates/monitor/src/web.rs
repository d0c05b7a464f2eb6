//! Website modification or defacement: a URL monitor.
//!
//! Configured URLs ([`WebConfig`], the `[web]` table of the config file)
//! are fetched ([`fetch`]: same-site redirects only, size and time caps),
//! reduced to a [`Fingerprint`] ([`compare::fingerprint`]) and compared
//! with the approved one ([`compare::compare`]). A change becomes a
//! [`detect::Detection`] with policy `web_change` and a readable summary;
//! a fetch that fails (no such name, refused, timed out) is
//! [`Status::Unreachable`], which is not a change. The first check of a URL
//! with no baseline records one ([`Status::Baselined`]).
//!
//! [`check_once`] runs one pass over every URL; `watchpost web check`
//! calls it through [`run_blocking`]. The server checks each URL on its own
//! `interval`, with the two halves of a check: [`fetch_url`] (network, no
//! state) and [`judge`] (pure apart from recording a first baseline in the
//! state it is given).

pub mod baseline;
pub mod compare;
pub mod config;
pub mod fetch;

use std::future::Future;

use detect::Detection;
use events::Timestamp;
use serde::Serialize;

pub use baseline::WebState;
pub use compare::Fingerprint;
pub use config::{InvalidConfig, UrlConfig, WebConfig};
pub use fetch::FetchError;
/// The HTTP client [`client`] builds, for [`fetch_url`].
pub use reqwest::Client;

/// Why a URL could not be approved: the configuration (its CA
/// certificates) cannot be used, or the URL cannot be fetched.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The configuration cannot be used.
    #[error(transparent)]
    Config(#[from] InvalidConfig),
    /// The URL cannot be fetched.
    #[error(transparent)]
    Fetch(#[from] FetchError),
}

/// One HTTP response, after same-site redirects: what [`fetch`] returns
/// and [`compare::fingerprint`] reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The URL that was asked for.
    pub url: String,
    /// The URL of the final response.
    pub final_url: String,
    /// Same-site redirects followed, in order (the `Location` URLs).
    pub redirects: Vec<String>,
    /// A redirect to another site that was not followed.
    pub offsite_redirect: Option<String>,
    /// The HTTP status of the final response.
    pub status: u16,
    /// The body, at most the configured cap.
    pub body: Vec<u8>,
    /// True when the body was longer than the cap and was cut.
    pub truncated: bool,
    /// SHA-256 of the server's TLS certificate (DER), hex, for https.
    pub tls_certificate: Option<String>,
}

/// What one check of one URL found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outcome {
    /// The URL.
    pub url: String,
    /// The result.
    #[serde(flatten)]
    pub status: Status,
    /// Facts worth showing whatever the result: a capped body, a redirect
    /// to another site that was not followed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// The fingerprint of this fetch (`None` when the URL was
    /// unreachable). Not printed: it is what a caller compares or keys
    /// alerts on (with the approved one in the state).
    #[serde(skip)]
    pub fingerprint: Option<Fingerprint>,
}

/// The result of checking one URL.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Status {
    /// No baseline existed; this fetch was recorded as the baseline.
    Baselined,
    /// Nothing that matters changed. `similarity` is 1.0 when the
    /// normalised content is identical.
    Unchanged {
        /// Text similarity with the baseline, 0.0 to 1.0.
        similarity: f64,
    },
    /// The page changed.
    Changed {
        /// A readable summary of what changed.
        summary: String,
        /// The detection (policy `web_change`).
        detection: Box<Detection>,
    },
    /// The URL could not be fetched: it does not resolve, refuses, or
    /// timed out. Not a change.
    Unreachable {
        /// Why.
        reason: String,
    },
}

/// Checks every URL of `config` once against `state`, recording a baseline
/// for URLs that have none. Returns one outcome per URL, in config order.
pub async fn check_once(config: &WebConfig, state: &mut WebState, now: Timestamp) -> Vec<Outcome> {
    let client = match client(config) {
        Ok(client) => client,
        Err(error) => {
            let reason = crate::describe(&error);
            return config
                .url
                .iter()
                .map(|u| Outcome {
                    url: u.url.clone(),
                    status: Status::Unreachable {
                        reason: reason.clone(),
                    },
                    notes: Vec::new(),
                    fingerprint: None,
                })
                .collect();
        }
    };
    let mut out = Vec::with_capacity(config.url.len());
    for url in &config.url {
        let fetched = fetch_url(&client, config, url).await;
        out.push(judge(config, url, fetched, state, now));
    }
    out
}

/// Fetches one watched URL with the limits of `config`: the network half
/// of a check, which needs no state (the server fetches URLs on their own
/// schedules and takes the state only for [`judge`]).
pub async fn fetch_url(
    client: &reqwest::Client,
    config: &WebConfig,
    url: &UrlConfig,
) -> Result<Page, FetchError> {
    fetch::fetch(client, &url.url, &config.limits()).await
}

/// The outcome of one fetch of `url` against its baseline in `state`: a
/// failed fetch is [`Status::Unreachable`]; with no baseline, the page's
/// fingerprint becomes one ([`Status::Baselined`], the only case that
/// changes `state`); otherwise it is compared with the approved
/// fingerprint, which a check never replaces.
pub fn judge(
    config: &WebConfig,
    url: &UrlConfig,
    fetched: Result<Page, FetchError>,
    state: &mut WebState,
    now: Timestamp,
) -> Outcome {
    let page = match fetched {
        Ok(page) => page,
        Err(error) => {
            return Outcome {
                url: url.url.clone(),
                status: Status::Unreachable {
                    reason: crate::describe(&error),
                },
                notes: Vec::new(),
                fingerprint: None,
            };
        }
    };
    let notes = page_notes(&page, config.max_bytes);
    let current = compare::fingerprint(&page, &url.ignore_patterns(), now);
    let status = match state.urls.get(&url.url) {
        None => {
            state.urls.insert(url.url.clone(), current.clone());
            Status::Baselined
        }
        Some(approved) => {
            let differences = compare::compare(approved, &current);
            match compare::decide(
                &differences,
                url.min_similarity.unwrap_or(config.min_similarity),
            ) {
                compare::Verdict::Unchanged { similarity } => Status::Unchanged { similarity },
                compare::Verdict::Changed { summary } => Status::Changed {
                    detection: Box::new(compare::detection(&url.url, &differences, &summary, now)),
                    summary,
                },
            }
        }
    };
    Outcome {
        url: url.url.clone(),
        status,
        notes,
        fingerprint: Some(current),
    }
}

/// Fetches `url` (with the limits of `config`) and makes the result its
/// approved baseline in `state`. Returns the new fingerprint, or why the
/// URL could not be fetched.
pub async fn approve(
    config: &WebConfig,
    url: &UrlConfig,
    state: &mut WebState,
    now: Timestamp,
) -> Result<(Fingerprint, Vec<String>), WebError> {
    let client = client(config)?;
    let page = fetch::fetch(&client, &url.url, &config.limits()).await?;
    let notes = page_notes(&page, config.max_bytes);
    let fp = compare::fingerprint(&page, &url.ignore_patterns(), now);
    state.urls.insert(url.url.clone(), fp.clone());
    Ok((fp, notes))
}

/// The HTTP client for `config`: its limits and its extra CA certificates.
/// Build it once and reuse it for every [`fetch_url`].
pub fn client(config: &WebConfig) -> Result<reqwest::Client, WebError> {
    Ok(fetch::client(&config.limits(), config.extra_roots()?)?)
}

fn page_notes(page: &Page, max_bytes: u64) -> Vec<String> {
    let mut notes = Vec::new();
    if page.truncated {
        notes.push(format!(
            "response body larger than {max_bytes} bytes: only the first {max_bytes} bytes were read and compared"
        ));
    }
    if let Some(target) = &page.offsite_redirect {
        notes.push(format!("redirect to another site not followed: {target}"));
    }
    notes
}

/// Runs a future to completion on a fresh single-threaded runtime, for the
/// command line, which has no runtime of its own.
pub fn run_blocking<F: Future>(future: F) -> std::io::Result<F::Output> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(future))
}
