//! HTTP fetching for the URL monitor: the only module here that does
//! network IO.
//!
//! Redirects are followed by hand, so that each hop can be checked: a
//! `Location` on the same site (same scheme, host and port) is followed, up
//! to a limit; one to another site is recorded and not followed, and the
//! redirect response itself is the page. Bodies are read in chunks up to
//! the size cap; what is past the cap is never read. Every fetch has a
//! connect timeout and a total timeout (all hops and the body).
//!
//! TLS uses rustls with the aws-lc-rs provider, installed once as the
//! process default; the certificate of an https server is fingerprinted
//! (SHA-256 of the DER).

use std::time::Duration;

use reqwest::{Client, Url};
use sha2::{Digest, Sha256};

use super::Page;

/// Size and time limits of one fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most body bytes read.
    pub max_bytes: u64,
    /// The connect timeout.
    pub connect_timeout: Duration,
    /// The total timeout of one fetch.
    pub timeout: Duration,
    /// The most same-site redirects followed.
    pub max_redirects: usize,
}

/// Why a URL could not be fetched (it is "unreachable"). Variants that wrap
/// another error keep it as their [`source`](std::error::Error::source);
/// [`crate::describe`] writes the whole chain.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client")]
    Client(#[source] reqwest::Error),
    /// The URL does not parse.
    #[error("invalid URL")]
    Url(#[source] url::ParseError),
    /// The whole fetch (all redirects and the body) took too long.
    #[error("timed out after {}", human(*limit))]
    Timeout {
        /// The time limit.
        limit: Duration,
        /// The client's error, when the client noticed first.
        #[source]
        source: Option<reqwest::Error>,
    },
    /// No connection could be made (no such name, refused, TLS failed).
    #[error("cannot connect")]
    Connect(#[source] reqwest::Error),
    /// The request or the body failed in another way.
    #[error("request failed")]
    Request(#[source] reqwest::Error),
    /// A redirect's `Location` is not a URL.
    #[error("redirect to an invalid Location {location:?}")]
    Redirect {
        /// The `Location` header.
        location: String,
        /// Why it does not parse.
        #[source]
        source: url::ParseError,
    },
    /// More same-site redirects than the limit.
    #[error("more than {0} redirects")]
    TooManyRedirects(usize),
}

impl FetchError {
    /// Classifies a client error (time limit, connection, other).
    fn from_client(error: reqwest::Error, limits: &Limits) -> Self {
        if error.is_timeout() {
            Self::Timeout {
                limit: limits.timeout,
                source: Some(error),
            }
        } else if error.is_connect() {
            Self::Connect(error)
        } else {
            Self::Request(error)
        }
    }
}

/// Builds the HTTP client: no automatic redirects, timeouts set, TLS
/// details kept, `extra_roots` trusted besides the system's CAs.
pub fn client(
    limits: &Limits,
    extra_roots: Vec<reqwest::Certificate>,
) -> Result<Client, FetchError> {
    // Both aws-lc-rs and ring can be linked in; pick one explicitly. An
    // error only means a provider is already installed.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(limits.connect_timeout)
        .timeout(limits.timeout)
        .tls_info(true)
        .tls_certs_merge(extra_roots)
        .user_agent(concat!("watchpost-web-monitor/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(FetchError::Client)
}

/// Fetches `url`. `Err` is the reason the URL is unreachable.
pub async fn fetch(client: &Client, url: &str, limits: &Limits) -> Result<Page, FetchError> {
    match tokio::time::timeout(limits.timeout, fetch_inner(client, url, limits)).await {
        Ok(result) => result,
        Err(_) => Err(FetchError::Timeout {
            limit: limits.timeout,
            source: None,
        }),
    }
}

async fn fetch_inner(client: &Client, url: &str, limits: &Limits) -> Result<Page, FetchError> {
    let start = Url::parse(url).map_err(FetchError::Url)?;
    let mut current = start.clone();
    let mut redirects = Vec::new();
    let mut offsite_redirect = None;
    loop {
        let mut response = client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| FetchError::from_client(e, limits))?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response.headers().get(reqwest::header::LOCATION)
        {
            let location = location.to_str().unwrap_or_default();
            let next = current
                .join(location)
                .map_err(|source| FetchError::Redirect {
                    location: location.to_owned(),
                    source,
                })?;
            if same_site(&start, &next) {
                if redirects.len() >= limits.max_redirects {
                    return Err(FetchError::TooManyRedirects(limits.max_redirects));
                }
                redirects.push(next.to_string());
                current = next;
                continue;
            }
            offsite_redirect = Some(next.to_string());
        }
        let tls_certificate = response
            .extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|info| info.peer_certificate())
            .map(|der| hex::encode(Sha256::digest(der)));
        let mut body = Vec::new();
        let mut truncated = false;
        let cap = usize::try_from(limits.max_bytes).unwrap_or(usize::MAX);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| FetchError::from_client(e, limits))?
        {
            let room = cap - body.len();
            if chunk.len() > room {
                body.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            body.extend_from_slice(&chunk);
        }
        return Ok(Page {
            url: url.to_string(),
            final_url: current.to_string(),
            redirects,
            offsite_redirect,
            status: status.as_u16(),
            body,
            truncated,
            tls_certificate,
        });
    }
}

/// Same scheme, host and port (default ports filled in).
pub fn same_site(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme()
        && a.host_str() == b.host_str()
        && a.port_or_known_default() == b.port_or_known_default()
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_before() {
        let limits = Limits {
            max_bytes: 1,
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_millis(1500),
            max_redirects: 3,
        };
        let timeout = FetchError::Timeout {
            limit: limits.timeout,
            source: None,
        };
        assert_eq!(timeout.to_string(), "timed out after 1500ms");
        assert_eq!(
            FetchError::TooManyRedirects(3).to_string(),
            "more than 3 redirects"
        );
        let bad = Url::parse("http://[::1").unwrap_err();
        let error = FetchError::Redirect {
            location: "http://[::1".into(),
            source: bad,
        };
        assert_eq!(
            crate::describe(&error),
            format!("redirect to an invalid Location \"http://[::1\": {bad}")
        );
    }

    #[test]
    fn same_site_needs_scheme_host_and_port() {
        let a = Url::parse("http://127.0.0.1:8080/a").unwrap();
        assert!(same_site(
            &a,
            &Url::parse("http://127.0.0.1:8080/b?x").unwrap()
        ));
        assert!(!same_site(
            &a,
            &Url::parse("http://localhost:8080/").unwrap()
        ));
        assert!(!same_site(
            &a,
            &Url::parse("http://127.0.0.1:8081/").unwrap()
        ));
        assert!(!same_site(
            &a,
            &Url::parse("https://127.0.0.1:8080/").unwrap()
        ));
        let b = Url::parse("https://example.org/").unwrap();
        assert!(same_site(
            &b,
            &Url::parse("https://example.org:443/x").unwrap()
        ));
    }
}
