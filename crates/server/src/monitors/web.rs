//! The scheduled URL monitor: each `[[web.url]]` is checked on its own
//! `interval` (the first check at start) by a task of its own, so a slow
//! site never delays another.
//!
//! A check fetches the page with no lock held, then, holding the state
//! file's lock (shared by the URL tasks), reads the state file
//! (`DATA_DIR/web.json`, the one `watchpost web` keeps, so
//! `watchpost web approve` takes effect at the next check), judges the
//! page against the URL's approved fingerprint, and writes the file only
//! when the URL had no baseline. A change becomes an alert keyed by the
//! URL, the approved fingerprint (its content hash and when it was taken)
//! and what was seen (status, final URL, redirects, title, script
//! sources, certificate, content hash): the same defacement found on every
//! check is one alert; a different page, or the same one against a newly
//! approved baseline, is a new one. An unreachable URL is not a change:
//! it is counted and logged (a warning when it becomes unreachable).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use monitor::state;
use monitor::web::baseline::STATE_KIND;
use monitor::web::{
    Client, Fingerprint, Outcome, Status, WebConfig, WebState, client, fetch_url, judge,
};
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::watch;

use super::{AlertSink, Stored, alert_key, sleep_until, stopped, unix_now};

/// The default state file in the data directory.
pub const DEFAULT_STATE_FILE: &str = "web.json";

/// The URL monitor: its configuration, HTTP client and state file.
pub struct WebMonitor {
    config: WebConfig,
    client: Client,
    state: PathBuf,
    /// Held while the state file is read, judged against and written.
    lock: tokio::sync::Mutex<()>,
}

impl WebMonitor {
    /// Checks the `[web]` table and builds the HTTP client; `None` when it
    /// lists no URL.
    pub fn new(config: &WebConfig, data_dir: &Path) -> anyhow::Result<Option<Self>> {
        config
            .validate()
            .map_err(|e| anyhow::anyhow!("[web]: {}", monitor::describe(&e)))?;
        if config.url.is_empty() {
            return Ok(None);
        }
        let client =
            client(config).map_err(|e| anyhow::anyhow!("[web]: {}", monitor::describe(&e)))?;
        Ok(Some(WebMonitor {
            config: config.clone(),
            client,
            state: data_dir.join(DEFAULT_STATE_FILE),
            lock: tokio::sync::Mutex::new(()),
        }))
    }

    /// How many URLs are watched.
    pub fn urls(&self) -> usize {
        self.config.url.len()
    }

    /// The state file.
    pub fn state(&self) -> &Path {
        &self.state
    }

    /// One check of URL `index`: fetch, then judge under the state lock.
    /// Also returns the approved fingerprint the page was judged against.
    /// `None` when the state file cannot be used (logged).
    async fn check(&self, index: usize) -> Option<(Outcome, Option<Fingerprint>)> {
        let url = &self.config.url[index];
        let fetched = fetch_url(&self.client, &self.config, url).await;
        let now = OffsetDateTime::now_utc();
        let _held = self.lock.lock().await;
        let path = self.state.clone();
        let loaded =
            tokio::task::spawn_blocking(move || state::load::<WebState>(&path, STATE_KIND)).await;
        let mut web_state = match loaded {
            Ok(Ok(loaded)) => loaded.unwrap_or_default(),
            Ok(Err(error)) => {
                tracing::error!(url = %url.url, error = %monitor::describe(&error), "cannot check a URL against its baseline");
                return None;
            }
            Err(error) => {
                tracing::error!(url = %url.url, %error, "cannot read the web state file");
                return None;
            }
        };
        let approved = web_state.urls.get(&url.url).cloned();
        let outcome = judge(&self.config, url, fetched, &mut web_state, now);
        if outcome.status == Status::Baselined {
            let path = self.state.clone();
            let saved =
                tokio::task::spawn_blocking(move || state::save(&path, STATE_KIND, &web_state))
                    .await;
            match saved {
                Ok(Ok(())) => {}
                Ok(Err(error)) => {
                    tracing::error!(url = %url.url, error = %monitor::describe(&error), "cannot record a URL's baseline; it is tried again at the next check");
                    return None;
                }
                Err(error) => {
                    tracing::error!(url = %url.url, %error, "cannot record a URL's baseline");
                    return None;
                }
            }
        }
        Some((outcome, approved))
    }
}

/// Checks URL `index` of `monitor` on its interval until told to stop.
pub(super) async fn run(
    monitor: Arc<WebMonitor>,
    index: usize,
    mut sink: AlertSink,
    mut stop: watch::Receiver<bool>,
) {
    let url = monitor.config.url[index].url.clone();
    let interval = monitor.config.url[index].interval;
    let stats = Arc::clone(&sink.stats);
    let mut reachable = true;
    let mut number: u64 = 0;
    loop {
        let next = tokio::time::Instant::now() + interval;
        number += 1;
        let checked = tokio::select! {
            checked = monitor.check(index) => checked,
            () = stopped(&mut stop) => return,
        };
        stats.web_checks.fetch_add(1, Ordering::Relaxed);
        if let Some((outcome, approved)) = checked {
            for note in &outcome.notes {
                tracing::debug!(url = %url, %note, "web check note");
            }
            let result = match &outcome.status {
                Status::Baselined => {
                    stats.web_baselined.fetch_add(1, Ordering::Relaxed);
                    tracing::info!(url = %url, state = %monitor.state.display(), "no baseline for this URL yet: recorded this fetch as its baseline");
                    "baselined"
                }
                Status::Unchanged { .. } => "unchanged",
                Status::Changed { summary, detection } => {
                    stats.web_changed.fetch_add(1, Ordering::Relaxed);
                    let key = change_key(&url, approved.as_ref(), outcome.fingerprint.as_ref());
                    let evidence = json!({
                        "monitor": "web",
                        "url": &url,
                        "summary": summary,
                        "notes": &outcome.notes,
                        "fields": &detection.fields,
                    });
                    match sink.store(detection, key, evidence).await {
                        Stored::New => {
                            tracing::warn!(url = %url, %summary, "page changed");
                        }
                        Stored::Duplicate | Stored::Refused => {}
                        Stored::Stopped => return,
                    }
                    "changed"
                }
                Status::Unreachable { reason } => {
                    stats.web_unreachable.fetch_add(1, Ordering::Relaxed);
                    if reachable {
                        tracing::warn!(url = %url, %reason, "URL unreachable (not a change)");
                    } else {
                        tracing::debug!(url = %url, %reason, "URL still unreachable");
                    }
                    "unreachable"
                }
            };
            let now_reachable = !matches!(outcome.status, Status::Unreachable { .. });
            if now_reachable && !reachable {
                tracing::info!(url = %url, "URL reachable again");
            }
            reachable = now_reachable;
            tracing::debug!(url = %url, check = number, outcome = result, "web check done");
        }
        stats.web_last_check.store(unix_now(), Ordering::Relaxed);
        if !sleep_until(next, &mut stop).await {
            return;
        }
    }
}

/// The alert key of a page change (see the module doc).
fn change_key(url: &str, approved: Option<&Fingerprint>, seen: Option<&Fingerprint>) -> String {
    let mut parts: Vec<Vec<u8>> = vec![b"web".to_vec(), url.as_bytes().to_vec()];
    for fingerprint in [approved, seen] {
        let Some(f) = fingerprint else {
            parts.push(b"none".to_vec());
            continue;
        };
        parts.push(f.content_hash.as_bytes().to_vec());
        parts.push(f.status.to_le_bytes().to_vec());
        parts.push(f.final_url.as_bytes().to_vec());
        parts.push(f.redirects.join("\n").into_bytes());
        parts.push(f.offsite_redirect.clone().unwrap_or_default().into_bytes());
        parts.push(f.title.clone().unwrap_or_default().into_bytes());
        parts.push(
            f.scripts
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
                .into_bytes(),
        );
        parts.push(f.tls_certificate.clone().unwrap_or_default().into_bytes());
    }
    // When the baseline was approved: the same page against a newly
    // approved baseline is a new finding.
    if let Some(f) = approved {
        parts.push(f.taken_at.unix_timestamp().to_le_bytes().to_vec());
    }
    let parts: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    alert_key(&parts)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use time::macros::datetime;

    use super::*;

    fn fingerprint(content: &str, title: &str) -> Fingerprint {
        Fingerprint {
            status: 200,
            final_url: "http://shop.test/".into(),
            redirects: Vec::new(),
            offsite_redirect: None,
            title: Some(title.into()),
            scripts: BTreeSet::new(),
            content_hash: content.into(),
            shingles: Vec::new(),
            tls_certificate: None,
            bytes: 10,
            truncated: false,
            taken_at: datetime!(2026-11-30 12:00 UTC),
        }
    }

    #[test]
    fn the_same_change_has_the_same_key() {
        let url = "http://shop.test/";
        let approved = fingerprint("aaaa", "Tea Shop");
        let mut hacked = fingerprint("bbbb", "HACKED");
        let key = change_key(url, Some(&approved), Some(&hacked));
        // Seen again later: the same key.
        hacked.taken_at = datetime!(2026-12-01 12:00 UTC);
        assert_eq!(key, change_key(url, Some(&approved), Some(&hacked)));
        // Another defacement: another key.
        let other = fingerprint("cccc", "HACKED");
        assert_ne!(key, change_key(url, Some(&approved), Some(&other)));
        // The same page against a baseline approved again: another key.
        let mut reapproved = approved.clone();
        reapproved.taken_at = datetime!(2026-12-02 12:00 UTC);
        assert_ne!(key, change_key(url, Some(&reapproved), Some(&hacked)));
        assert_ne!(
            key,
            change_key("http://other.test/", Some(&approved), Some(&hacked))
        );
    }
}
