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

/// Builds the HTTP client: no automatic redirects, timeouts set, TLS
/// details kept, `extra_roots` trusted besides the system's CAs.
pub fn client(limits: &Limits, extra_roots: Vec<reqwest::Certificate>) -> Result<Client, String> {
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
        .map_err(|e| format!("cannot build the HTTP client: {}", chain(&e)))
}

/// Fetches `url`. `Err` is the reason the URL is unreachable.
pub async fn fetch(client: &Client, url: &str, limits: &Limits) -> Result<Page, String> {
    match tokio::time::timeout(limits.timeout, fetch_inner(client, url, limits)).await {
        Ok(result) => result,
        Err(_) => Err(format!("timed out after {}", human(limits.timeout))),
    }
}

async fn fetch_inner(client: &Client, url: &str, limits: &Limits) -> Result<Page, String> {
    let start = Url::parse(url).map_err(|e| format!("invalid URL: {e}"))?;
    let mut current = start.clone();
    let mut redirects = Vec::new();
    let mut offsite_redirect = None;
    loop {
        let mut response = client
            .get(current.clone())
            .send()
            .await
            .map_err(|e| describe(&e, limits))?;
        let status = response.status();
        if status.is_redirection()
            && let Some(location) = response.headers().get(reqwest::header::LOCATION)
        {
            let location = location.to_str().unwrap_or_default();
            let next = current
                .join(location)
                .map_err(|e| format!("redirect to an invalid Location {location:?}: {e}"))?;
            if same_site(&start, &next) {
                if redirects.len() >= limits.max_redirects {
                    return Err(format!("more than {} redirects", limits.max_redirects));
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
        while let Some(chunk) = response.chunk().await.map_err(|e| describe(&e, limits))? {
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

fn describe(error: &reqwest::Error, limits: &Limits) -> String {
    if error.is_timeout() {
        format!(
            "timed out after {} ({})",
            human(limits.timeout),
            chain(error)
        )
    } else if error.is_connect() {
        format!("cannot connect: {}", chain(error))
    } else {
        chain(error)
    }
}

fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text.push_str(": ");
            text.push_str(&s_text);
        }
        source = s.source();
    }
    text
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
