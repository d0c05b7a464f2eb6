//! The URL monitor's configuration: the `[web]` table of the config file.
//!
//! ```toml
//! [web]
//! max_bytes = 2097152
//! timeout = "30s"
//!
//! [[web.url]]
//! url = "https://www.example.org/"
//! interval = "5m"
//! ignore = ['Generated at [0-9:]+']
//! ```
//!
//! Unknown keys are errors. Other top-level tables of the same file belong
//! to other components and are left alone.

use std::path::{Path, PathBuf};
use std::time::Duration;

use regex::Regex;
use serde::Deserialize;

use super::fetch::Limits;
use crate::duration::deserialize as duration;
pub use crate::duration::{DurationError, parse_duration};

/// The URL monitor settings.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebConfig {
    /// The URLs to watch.
    #[serde(default)]
    pub url: Vec<UrlConfig>,
    /// The most bytes of a response body that are read; the rest is cut
    /// and the cut is reported. Default 2 MiB.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u64,
    /// How long connecting (DNS, TCP, TLS) may take. Default 10s.
    #[serde(default = "default_connect_timeout", deserialize_with = "duration")]
    pub connect_timeout: Duration,
    /// How long a whole fetch (all redirects and the body) may take.
    /// Default 30s.
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    pub timeout: Duration,
    /// The most same-site redirects followed. Default 10.
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// Content whose text similarity with the baseline is at least this
    /// (0.0 to 1.0) is not reported as changed on its own (title, scripts,
    /// redirects, status and certificate are always compared). Default 0.9.
    #[serde(default = "default_min_similarity")]
    pub min_similarity: f64,
    /// Extra CA certificates (PEM files, relative to the working directory)
    /// trusted besides the system's, for sites with a private CA.
    #[serde(default)]
    pub ca_certificates: Vec<PathBuf>,
}

/// One watched URL.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlConfig {
    /// The URL (http or https).
    pub url: String,
    /// How often the server checks it (`30s`, `5m`, `1h`, `1d`). Default 5m.
    /// `watchpost web check` ignores it and checks once.
    #[serde(default = "default_interval", deserialize_with = "duration")]
    pub interval: Duration,
    /// Regular expressions whose matches are removed from the body before
    /// it is normalised and hashed (timestamps, counters, rotating banners).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Overrides the global `min_similarity` for this URL.
    #[serde(default)]
    pub min_similarity: Option<f64>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            url: Vec::new(),
            max_bytes: default_max_bytes(),
            connect_timeout: default_connect_timeout(),
            timeout: default_timeout(),
            max_redirects: default_max_redirects(),
            min_similarity: default_min_similarity(),
            ca_certificates: Vec::new(),
        }
    }
}

/// Why the configuration could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has unknown or wrong keys, or has
    /// values that cannot be used.
    #[error("config file {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: InvalidConfig,
    },
}

/// What is wrong with a `[web]` table.
#[derive(Debug, thiserror::Error)]
pub enum InvalidConfig {
    /// Not TOML, or unknown or wrong keys (the parser's message, with line
    /// and column).
    #[error("{}", .0.to_string().trim_end())]
    Toml(toml::de::Error),
    /// A similarity ratio outside 0.0 to 1.0.
    #[error("{key} must be between 0.0 and 1.0, not {value}")]
    Ratio {
        /// The key.
        key: &'static str,
        /// The value.
        value: f64,
    },
    /// `max_bytes` is 0.
    #[error("web.max_bytes must be more than 0")]
    NoBytes,
    /// A URL that does not parse.
    #[error("web.url {url:?}")]
    Url {
        /// The URL as written.
        url: String,
        /// Why it does not parse.
        source: url::ParseError,
    },
    /// A URL that is not http or https.
    #[error("web.url {url:?}: only http and https are supported")]
    Scheme {
        /// The URL as written.
        url: String,
    },
    /// An `ignore` pattern that is not a regular expression.
    #[error("web.url {url:?}: ignore pattern {pattern:?}")]
    Pattern {
        /// The URL the pattern is for.
        url: String,
        /// The pattern.
        pattern: String,
        /// Why it does not compile.
        source: Box<regex::Error>,
    },
    /// An `interval` of zero.
    #[error("web.url {url:?}: interval must be more than 0")]
    Interval {
        /// The URL as written.
        url: String,
    },
    /// A `ca_certificates` file could not be read.
    #[error("cannot read CA certificate file {}", path.display())]
    CaRead {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A `ca_certificates` file is not PEM.
    #[error("CA certificate file {}", path.display())]
    CaParse {
        /// The file.
        path: PathBuf,
        /// Why it could not be read as certificates.
        source: reqwest::Error,
    },
    /// A `ca_certificates` file holds no certificate.
    #[error("CA certificate file {} holds no PEM certificate", path.display())]
    CaEmpty {
        /// The file.
        path: PathBuf,
    },
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    web: Option<WebConfig>,
}

impl WebConfig {
    /// Reads the `[web]` table of a TOML config file (an absent table is an
    /// empty configuration).
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        Self::from_toml(&text).map_err(|source| ConfigError::Invalid {
            path: path.to_path_buf(),
            source,
        })
    }

    /// Parses a whole TOML config document and validates its `[web]` table.
    pub fn from_toml(text: &str) -> Result<Self, InvalidConfig> {
        let file: File = toml::from_str(text).map_err(InvalidConfig::Toml)?;
        let config = file.web.unwrap_or_default();
        config.validate()?;
        Ok(config)
    }

    /// Checks values serde cannot: URLs, patterns, ratios.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        check_ratio("web.min_similarity", self.min_similarity)?;
        if self.max_bytes == 0 {
            return Err(InvalidConfig::NoBytes);
        }
        for url in &self.url {
            url.validate()?;
        }
        self.extra_roots()?;
        Ok(())
    }

    /// Reads the `ca_certificates` files.
    pub fn extra_roots(&self) -> Result<Vec<reqwest::Certificate>, InvalidConfig> {
        let mut out = Vec::new();
        for path in &self.ca_certificates {
            let pem = std::fs::read(path).map_err(|source| InvalidConfig::CaRead {
                path: path.clone(),
                source,
            })?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|source| {
                InvalidConfig::CaParse {
                    path: path.clone(),
                    source,
                }
            })?;
            if certs.is_empty() {
                return Err(InvalidConfig::CaEmpty { path: path.clone() });
            }
            out.extend(certs);
        }
        Ok(out)
    }

    /// The URL entry for `url`, or a default entry when it is not
    /// configured.
    pub fn url_or_default(&self, url: &str) -> UrlConfig {
        self.url
            .iter()
            .find(|u| u.url == url)
            .cloned()
            .unwrap_or_else(|| UrlConfig::new(url))
    }

    /// The fetch limits.
    pub fn limits(&self) -> Limits {
        Limits {
            max_bytes: self.max_bytes,
            connect_timeout: self.connect_timeout,
            timeout: self.timeout,
            max_redirects: self.max_redirects,
        }
    }
}

impl UrlConfig {
    /// An entry with default settings.
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_string(),
            interval: default_interval(),
            ignore: Vec::new(),
            min_similarity: None,
        }
    }

    /// Checks the URL and patterns.
    pub fn validate(&self) -> Result<(), InvalidConfig> {
        let parsed = reqwest::Url::parse(&self.url).map_err(|source| InvalidConfig::Url {
            url: self.url.clone(),
            source,
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(InvalidConfig::Scheme {
                url: self.url.clone(),
            });
        }
        for pattern in &self.ignore {
            Regex::new(pattern).map_err(|source| InvalidConfig::Pattern {
                url: self.url.clone(),
                pattern: pattern.clone(),
                source: Box::new(source),
            })?;
        }
        if let Some(ratio) = self.min_similarity {
            check_ratio("min_similarity", ratio)?;
        }
        if self.interval.is_zero() {
            return Err(InvalidConfig::Interval {
                url: self.url.clone(),
            });
        }
        Ok(())
    }

    /// The compiled `ignore` patterns (invalid ones, which
    /// [`UrlConfig::validate`] reports, are left out).
    pub fn ignore_patterns(&self) -> Vec<Regex> {
        self.ignore
            .iter()
            .filter_map(|p| Regex::new(p).ok())
            .collect()
    }
}

fn check_ratio(key: &'static str, value: f64) -> Result<(), InvalidConfig> {
    if (0.0..=1.0).contains(&value) {
        Ok(())
    } else {
        Err(InvalidConfig::Ratio { key, value })
    }
}

fn default_max_bytes() -> u64 {
    2 * 1024 * 1024
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(10)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_max_redirects() -> usize {
    10
}
fn default_min_similarity() -> f64 {
    0.9
}
fn default_interval() -> Duration {
    Duration::from_secs(300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_web_table_and_ignores_other_tables() {
        let config = WebConfig::from_toml(
            r#"
[server]
listen = "x"

[web]
timeout = "5s"

[[web.url]]
url = "https://example.org/"
interval = "1h"
ignore = ['\d+ visitors']
"#,
        )
        .unwrap();
        assert_eq!(config.timeout, Duration::from_secs(5));
        assert_eq!(config.max_bytes, 2 * 1024 * 1024);
        assert_eq!(config.url[0].interval, Duration::from_secs(3600));
        assert_eq!(config.url[0].ignore_patterns().len(), 1);
    }

    #[test]
    fn bad_configs_are_refused_with_the_reason() {
        let cases = [
            ("[web]\ntimeout = \"5 parsecs\"", "invalid duration"),
            ("[web]\nbogus = 1", "unknown field `bogus`"),
            ("[[web.url]]\nurl = \"ftp://x/\"", "only http and https"),
            (
                "[[web.url]]\nurl = \"http://x/\"\nignore = ['(']",
                "ignore pattern",
            ),
            (
                "[[web.url]]\nurl = \"http://x/\"\nintervall = \"5m\"",
                "unknown field `intervall`",
            ),
            ("[web]\nmin_similarity = 2.0", "between 0.0 and 1.0"),
            (
                "[[web.url]]\nurl = \"http://x/\"\ninterval = \"0s\"",
                "interval must be more than 0",
            ),
        ];
        for (text, expected) in cases {
            let err = crate::describe(&WebConfig::from_toml(text).unwrap_err());
            assert!(err.contains(expected), "{text}: {err}");
        }
    }
}
