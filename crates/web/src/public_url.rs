//! The server's public address (`public_url` in the server config), from
//! which links that leave the server are made: links in chat messages and
//! mail, the `Canonical` line of security.txt, feed and advisory links.
//!
//! Only an absolute `http` or `https` URL with a host and no query,
//! fragment or credentials is accepted; a trailing `/` is dropped, so
//! [`PublicUrl::join`] never doubles one.

use std::fmt;

/// An absolute `http(s)` base URL, without a trailing slash.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

/// Why a `public_url` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicUrlError {
    /// Not a URL at all.
    #[error("public_url is not a URL: {0}")]
    Invalid(String),
    /// A scheme other than `http` or `https`.
    #[error("public_url must start with http:// or https://")]
    Scheme,
    /// No host, or a part that a base address cannot have.
    #[error(
        "public_url must be a plain address (a host and an optional path; no user, query or fragment)"
    )]
    NotABase,
}

impl PublicUrl {
    /// Checks and normalises `text`.
    pub fn parse(text: &str) -> Result<Self, PublicUrlError> {
        let url =
            url::Url::parse(text.trim()).map_err(|e| PublicUrlError::Invalid(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(PublicUrlError::Scheme);
        }
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(PublicUrlError::NotABase);
        }
        Ok(PublicUrl(url.as_str().trim_end_matches('/').to_owned()))
    }

    /// The base, without a trailing slash.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The base followed by `path` (which should start with `/`).
    pub fn join(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.0)
        } else {
            format!("{}/{path}", self.0)
        }
    }

    /// Whether this base is served over TLS.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }
}

impl fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for PublicUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicUrl({})", self.0)
    }
}

impl<'de> serde::Deserialize<'de> for PublicUrl {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        PublicUrl::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_refused() {
        // (input, Ok(normalised) or Err) — written by hand.
        let table: &[(&str, Result<&str, PublicUrlError>)] = &[
            (
                "https://watchpost.example.com",
                Ok("https://watchpost.example.com"),
            ),
            (
                "https://watchpost.example.com/",
                Ok("https://watchpost.example.com"),
            ),
            ("http://127.0.0.1:8080/", Ok("http://127.0.0.1:8080")),
            (
                "https://example.com/security/",
                Ok("https://example.com/security"),
            ),
            ("  https://example.com  ", Ok("https://example.com")),
            ("ftp://example.com", Err(PublicUrlError::Scheme)),
            ("https://u:p@example.com", Err(PublicUrlError::NotABase)),
            ("https://example.com/?a=1", Err(PublicUrlError::NotABase)),
            ("https://example.com/#x", Err(PublicUrlError::NotABase)),
        ];
        for (input, expected) in table {
            let got = PublicUrl::parse(input).map(|u| u.as_str().to_owned());
            assert_eq!(got, expected.clone().map(str::to_owned), "{input}");
        }
        assert!(matches!(
            PublicUrl::parse("not a url"),
            Err(PublicUrlError::Invalid(_))
        ));
    }

    #[test]
    fn join_adds_one_slash() {
        let base = PublicUrl::parse("https://example.com/wp/").unwrap();
        assert_eq!(
            base.join("/incidents/7"),
            "https://example.com/wp/incidents/7"
        );
        assert_eq!(base.join("advisories"), "https://example.com/wp/advisories");
        assert!(base.is_https());
    }
}
