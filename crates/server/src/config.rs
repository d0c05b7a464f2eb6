//! The optional TOML configuration file of `watchpost serve`.
//!
//! Every table refuses unknown keys, and an error names the file, the line
//! and the key. Command-line flags override the file; the file overrides the
//! built-in defaults, which need no file at all.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

mod slack;

pub use slack::SlackConfig;

/// The server configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The data directory (default `./watchpost-data`). The SQLite database
    /// lives at `DATA_DIR/watchpost.db`.
    pub data_dir: Option<PathBuf>,
    /// A `postgres://` URL; when set, PostgreSQL is used instead of SQLite.
    pub database_url: Option<String>,
    /// A `nats://` URL: run as one node of a cluster, with events on NATS
    /// JetStream and partitions of detection shared with the other nodes
    /// through PostgreSQL (`database_url` must be PostgreSQL, and every
    /// node must use the same `audit_key_file`). See `[cluster]` and
    /// ARCHITECTURE.md "Scale-out".
    pub nats_url: Option<String>,
    /// A node's part in a cluster (`[cluster]`: `node_id`, `partitions`,
    /// `stream`, `subject`, `max_deliver`, `ack_wait_secs`,
    /// `stream_max_age_secs`, `stream_max_bytes`, `rebalance_millis`,
    /// `checkpoint_millis`); used only with `nats_url`.
    #[serde(default)]
    pub cluster: crate::ingest::cluster::ClusterConfig,
    /// The audit chain's HMAC key file (64 hex digits; created `0600` with
    /// a random key when missing). Default `DATA_DIR/audit.key`. Keep it
    /// outside the database, and out of the database's backups if they
    /// travel separately; `watchpost audit verify` needs the same file.
    pub audit_key_file: Option<PathBuf>,
    /// The address people reach this server at (e.g.
    /// `https://watchpost.example.com`): links in chat messages and mail,
    /// security.txt's `Canonical` and the advisories feed are made from it.
    /// An absolute `http(s)` URL with no query or fragment; unset, such
    /// links are not made (or use the listen address where a page says so).
    pub public_url: Option<web::PublicUrl>,
    /// The listen address (default `127.0.0.1:8080`; port 0 picks one).
    pub listen: Option<SocketAddr>,
    /// The largest accepted request body in bytes (default 1 MiB).
    pub max_body_bytes: Option<usize>,
    /// How long reading and handling one API request may take, in seconds
    /// (default 30; 0 is refused); past it the request is answered 408.
    pub request_timeout_secs: Option<std::num::NonZeroU64>,
    /// How long a request's headers may take to arrive in full, in seconds
    /// (default 10; 0 is refused). The clock starts when the connection
    /// opens and again after each response; a client that sends its headers
    /// slower than this is disconnected.
    pub header_read_timeout_secs: Option<std::num::NonZeroU64>,
    /// How long a connection may stay open with no request in progress and
    /// nothing sent either way, in seconds (default 5; 0 is refused). An
    /// idle connection is closed after the smaller of this and
    /// `header_read_timeout_secs`.
    pub keep_alive_timeout_secs: Option<std::num::NonZeroU64>,
    /// The most client connections open at once (default 1024; 0 is
    /// refused). Connections past it are answered 503 and closed. Lowered at
    /// start, with a warning, when the process may not open that many files.
    pub max_connections: Option<std::num::NonZeroUsize>,
    /// The most reports one user may file in an hour (default 30; 0 is
    /// refused); past it the API answers 429 with `Retry-After`.
    pub reports_per_hour: Option<std::num::NonZeroU32>,
    /// The largest single attachment in bytes (default 10 MiB).
    pub max_attachment_bytes: Option<std::num::NonZeroUsize>,
    /// The most attachment bytes one user may upload in all (default
    /// 200 MiB); past it the API answers 413.
    pub attachment_bytes_per_user: Option<u64>,
    /// The most attachment bytes stored in all (default 10 GiB); past it the
    /// API answers 413.
    pub attachment_bytes_total: Option<u64>,
    /// Notifications: email and webhook destinations, retry policy.
    #[serde(default)]
    pub notify: notify::NotifyConfig,
    /// Sigma rule files and folders the live detection runs (with the
    /// bundled policy pack), like `hunt -r`; `serve -r` adds to them.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Run without the bundled policy pack and native policy detectors.
    #[serde(default)]
    pub no_policy: bool,
    /// Thresholds of the native policy detectors (`[policy.login]`,
    /// `[policy.reboot]`, ...; see docs/policy.md).
    pub policy: Option<policy::PolicyConfig>,
    /// Live inputs, the event spool and the detection worker.
    #[serde(default)]
    pub ingest: crate::ingest::IngestConfig,
    /// Port snapshots checked on a schedule (`[ports]`: a folder or globs
    /// of nmap XML, `ss`, `netstat` and osquery files, an `interval`, the
    /// baseline `state` file, default `DATA_DIR/ports.json`); see
    /// docs/monitor.md.
    pub ports: Option<monitor::ports::config::PortsConfig>,
    /// The URL monitor (`[web]` limits and `[[web.url]]` entries, each
    /// checked on its own `interval`; state in `DATA_DIR/web.json`). The
    /// same table `watchpost web check --config` reads; see docs/monitor.md.
    pub web: Option<monitor::web::WebConfig>,
    /// Single sign-on to the web pages with OpenID Connect (`[oidc]`:
    /// `issuer_url`, `client_id`, the client secret from `client_secret`,
    /// `client_secret_file` or `client_secret_env`, `redirect_url`,
    /// `display_name`, `scopes`, `role_claim`, `[oidc.roles]` and
    /// `default_role`); see docs/oidc.md. Without it the pages offer only
    /// passwords.
    pub oidc: Option<OidcConfig>,
    /// Slack (`[slack]`: `signing_secret`, `bot_token`, `webhook_url`,
    /// `channel`, `api_url`): the `/incident` slash command and posts of
    /// non-sensitive incidents to a channel; see README "Slack". Without it
    /// the Slack routes answer 404.
    pub slack: Option<SlackConfig>,
    /// SLA clocks and escalation (`[sla]`: `check_every`, `second_after`,
    /// `[sla.business_hours]`, `[[sla.target]]`); see docs/sla.md. Without
    /// it the built-in targets apply.
    pub sla: Option<crate::sla::SlaConfig>,
    /// The security@ mailbox (`[mailbox]`: `imap_host`, `imap_port`, `tls`,
    /// `username`, `password`, `folder`, `address`, `idle`, `poll_every`,
    /// `max_message_bytes`, `[mailbox.smtp]`): new mail becomes third-party
    /// reports, acknowledged and answerable by mail. Without it no mailbox
    /// is read.
    pub mailbox: Option<crate::mailbox::MailboxConfig>,
    /// "I didn't do this" mail (`[user_check]`: `email_domain`,
    /// `valid_for`): a password-reset or MFA-change alert mails the
    /// affected user a link to say it was not them; see README. Needs
    /// `public_url` and `[notify.smtp]`. Without it nothing is mailed and
    /// `/check/...` answers 404.
    pub user_check: Option<crate::user_check::UserCheckConfig>,
    /// `/.well-known/security.txt` (RFC 9116): `contact` (a list of
    /// `mailto:`/`https:` URIs), `expires` (RFC 3339), and optionally
    /// `policy`, `preferred_languages`, `encryption`, `acknowledgments` and
    /// `hiring`; `Canonical` is made from `public_url`, which it needs. See
    /// docs/disclosure.md.
    pub security_txt: Option<web::disclosure::SecurityTxtConfig>,
    /// Who publishes the advisories (`publisher_name`,
    /// `publisher_namespace`, `contact_details`, all optional). With it or
    /// `[security_txt]`, the public side is served (the report form,
    /// `/advisories`, the Atom feed, CSAF); it needs `public_url`. See
    /// docs/disclosure.md.
    pub disclosure: Option<web::disclosure::DisclosureConfig>,
}

/// `[oidc]`: single sign-on to the web pages with an OpenID Connect
/// provider (authorization code flow with PKCE). Every key but
/// `client_id`, `issuer_url` and `redirect_url` has a default.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer URL, exactly as its ID tokens' `iss` (its
    /// discovery document is at `ISSUER/.well-known/openid-configuration`).
    pub issuer_url: String,
    /// This server's client id at the provider (the ID tokens' `aud`).
    pub client_id: String,
    /// The client secret, in the file itself (then keep the file `0600`).
    pub client_secret: Option<notify::config::Secret>,
    /// A file holding the client secret (surrounding whitespace ignored).
    pub client_secret_file: Option<PathBuf>,
    /// An environment variable holding the client secret.
    pub client_secret_env: Option<String>,
    /// The public URL of this server's `/login/oidc/callback`, as
    /// registered at the provider.
    pub redirect_url: String,
    /// The provider's name on the sign-in button ("Sign in with ...";
    /// default "single sign-on").
    #[serde(default = "default_display_name")]
    pub display_name: String,
    /// Scopes asked for besides `openid` (default `["email", "profile"]`).
    #[serde(default = "default_scopes")]
    pub scopes: Vec<String>,
    /// The ID token claim that carries the role (a string or a list of
    /// strings, e.g. `groups`); unset: everyone gets `default_role`.
    pub role_claim: Option<String>,
    /// Claim value → role (`reporter`, `responder`, `finance-ops` or
    /// `admin`; `ingest` is refused). When several values map, the first of
    /// responder, finance-ops, admin, reporter wins. The role is set again
    /// at every sign-in, so a change at the provider takes effect at the
    /// user's next sign-in.
    #[serde(default)]
    pub roles: std::collections::BTreeMap<String, OidcRole>,
    /// The role of someone whose claim maps to no role: `reporter`
    /// (default) or `none`, which refuses them.
    #[serde(default)]
    pub default_role: OidcDefaultRole,
}

impl std::fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcConfig")
            .field("issuer_url", &self.issuer_url)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret)
            .field("client_secret_file", &self.client_secret_file)
            .field("client_secret_env", &self.client_secret_env)
            .field("redirect_url", &self.redirect_url)
            .field("display_name", &self.display_name)
            .field("scopes", &self.scopes)
            .field("role_claim", &self.role_claim)
            .field("roles", &self.roles)
            .field("default_role", &self.default_role)
            .finish()
    }
}

fn default_display_name() -> String {
    "single sign-on".into()
}

fn default_scopes() -> Vec<String> {
    vec!["email".into(), "profile".into()]
}

/// A role single sign-on may give (never `ingest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OidcRole {
    /// `reporter`.
    Reporter,
    /// `responder`.
    Responder,
    /// `finance-ops`.
    FinanceOps,
    /// `admin`.
    Admin,
}

impl From<OidcRole> for incidents::enums::Role {
    fn from(role: OidcRole) -> Self {
        match role {
            OidcRole::Reporter => Self::Reporter,
            OidcRole::Responder => Self::Responder,
            OidcRole::FinanceOps => Self::FinanceOps,
            OidcRole::Admin => Self::Admin,
        }
    }
}

/// `default_role`: `reporter`, or `none` to refuse.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OidcDefaultRole {
    /// Everyone the provider signs in may report.
    #[default]
    Reporter,
    /// Only those whose claim maps to a role may sign in.
    None,
}

impl OidcConfig {
    /// The settings the pages use: the client secret read from wherever
    /// it is (at most one of `client_secret`, `client_secret_file`,
    /// `client_secret_env`; an error never shows it).
    pub fn settings(&self) -> anyhow::Result<web::ui::oidc::OidcSettings> {
        let sources = usize::from(self.client_secret.is_some())
            + usize::from(self.client_secret_file.is_some())
            + usize::from(self.client_secret_env.is_some());
        if sources > 1 {
            anyhow::bail!(
                "[oidc]: set at most one of client_secret, client_secret_file and client_secret_env"
            );
        }
        let client_secret = if let Some(secret) = &self.client_secret {
            Some(secret.expose().to_owned())
        } else if let Some(path) = &self.client_secret_file {
            let text = std::fs::read_to_string(path).map_err(|e| {
                anyhow::anyhow!("[oidc] client_secret_file {}: {e}", path.display())
            })?;
            Some(text.trim().to_owned())
        } else if let Some(var) = &self.client_secret_env {
            Some(std::env::var(var).map_err(|_| {
                anyhow::anyhow!("[oidc] client_secret_env: {var} is not set (or not UTF-8)")
            })?)
        } else {
            None
        };
        if client_secret.as_deref() == Some("") {
            anyhow::bail!("[oidc]: the client secret is empty");
        }
        Ok(web::ui::oidc::OidcSettings {
            issuer_url: self.issuer_url.clone(),
            client_id: self.client_id.clone(),
            client_secret,
            redirect_url: self.redirect_url.clone(),
            display_name: self.display_name.clone(),
            scopes: self.scopes.clone(),
            role_claim: self.role_claim.clone(),
            roles: self
                .roles
                .iter()
                .map(|(value, role)| (value.clone(), (*role).into()))
                .collect(),
            default_role: match self.default_role {
                OidcDefaultRole::Reporter => Some(incidents::enums::Role::Reporter),
                OidcDefaultRole::None => None,
            },
        })
    }
}

/// A configuration file that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not fit the configuration.
    #[error("{path}:{line}:{column}: {message}{}", key.as_ref().map(|k| format!(" (key `{k}`)")).unwrap_or_default())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// The key at the error, when the error is about a key.
        key: Option<String>,
        /// The parser's message.
        message: String,
    },
}

impl Config {
    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse(path, &text)
    }

    /// The keys of this configuration that hold secrets, for the warning
    /// about a configuration file others can read (the values are never
    /// shown).
    pub fn secret_keys(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        if self.database_url.as_deref().is_some_and(url_has_password) {
            keys.push("database_url");
        }
        if self.nats_url.as_deref().is_some_and(url_has_password) {
            keys.push("nats_url");
        }
        if self
            .notify
            .email
            .as_ref()
            .is_some_and(|email| email.smtp.password.is_some())
        {
            keys.push("notify.smtp.password");
        }
        if self.notify.webhook.is_some() {
            keys.push("notify.webhook.secret");
        }
        if self
            .oidc
            .as_ref()
            .is_some_and(|oidc| oidc.client_secret.is_some())
        {
            keys.push("oidc.client_secret");
        }
        if let Some(mailbox) = &self.mailbox {
            keys.push("mailbox.password");
            if mailbox
                .smtp
                .as_ref()
                .is_some_and(|smtp| smtp.password.is_some())
            {
                keys.push("mailbox.smtp.password");
            }
        }
        if let Some(slack) = &self.slack {
            keys.extend(slack.secret_keys());
        }
        keys
    }

    /// Parses configuration text; `path` is only used in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|error| {
            let span = error.span().unwrap_or(0..0);
            let (line, column) = line_column(text, span.start);
            let snippet = text.get(span.clone()).unwrap_or_default();
            let key = snippet
                .lines()
                .next()
                .map(|s| {
                    s.split('=')
                        .next()
                        .unwrap_or(s)
                        .trim()
                        .trim_matches(['[', ']', '"'])
                        .to_owned()
                })
                .filter(|k| !k.is_empty() && k.len() < 100);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                column,
                key,
                message: error.message().trim().to_owned(),
            }
        })
    }
}

/// Whether a `scheme://user:password@host/...` URL carries a password.
fn url_has_password(url: &str) -> bool {
    let Some((_, rest)) = url.split_once("://") else {
        return false;
    };
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    authority
        .rsplit_once('@')
        .is_some_and(|(userinfo, _)| userinfo.contains(':'))
}

/// 1-based line and column of a byte offset.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_is_the_defaults() {
        let config = Config::parse(Path::new("c.toml"), "").unwrap();
        assert!(config.listen.is_none() && config.data_dir.is_none());
        assert!(config.notify.webhook.is_none());
    }

    #[test]
    fn full_file_parses() {
        let text = r#"
listen = "127.0.0.1:0"
data_dir = "/tmp/x"
[notify]
security_team = "sec@example.test"
[notify.smtp]
host = "127.0.0.1"
port = 2525
tls = "none"
[notify.webhook]
url = "http://127.0.0.1:9/hook"
secret = "s"
"#;
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(config.listen.unwrap().port(), 0);
        let email = config.notify.email.unwrap();
        assert_eq!(email.smtp.port, 2525);
        assert_eq!(email.to.security_team.as_deref(), Some("sec@example.test"));
        assert!(config.notify.webhook.is_some());
    }

    #[test]
    fn public_url_is_checked_where_it_is_written() {
        let config = Config::parse(
            Path::new("c.toml"),
            "public_url = \"https://wp.example.com/\"\n",
        )
        .unwrap();
        assert_eq!(
            config.public_url.map(|u| u.as_str().to_owned()).as_deref(),
            Some("https://wp.example.com")
        );
        let err = Config::parse(Path::new("c.toml"), "\npublic_url = \"ftp://x\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
        assert!(err.contains("http:// or https://"), "{err}");
    }

    #[test]
    fn unknown_key_names_file_line_and_key() {
        let text =
            "listen = \"127.0.0.1:0\"\n\n[notify]\nsecurity_team = \"a@b\"\nwebhok_url = \"x\"\n";
        let err = Config::parse(Path::new("/etc/wp.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("/etc/wp.toml:5:"), "{err}");
        assert!(err.contains("webhok_url"), "{err}");
    }

    #[test]
    fn unknown_key_in_nested_table_is_refused() {
        let text = "[notify.smtp]\nhost = \"h\"\nhots = \"h\"\n";
        let err = Config::parse(Path::new("c.toml"), text)
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:3:"), "{err}");
        assert!(err.contains("hots"), "{err}");
    }

    #[test]
    fn request_timeout_is_whole_seconds_and_not_zero() {
        let config = Config::parse(Path::new("c.toml"), "request_timeout_secs = 5\n").unwrap();
        assert_eq!(config.request_timeout_secs.map(|s| s.get()), Some(5));
        let err = Config::parse(Path::new("c.toml"), "\nrequest_timeout_secs = 0\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
    }

    #[test]
    fn secrets_are_found_by_key() {
        let keys = |text: &str| {
            Config::parse(Path::new("c.toml"), text)
                .unwrap()
                .secret_keys()
        };
        assert!(keys("listen = \"127.0.0.1:0\"\n").is_empty());
        assert!(keys("database_url = \"postgres://wp@db/wp\"\n").is_empty());
        assert_eq!(
            keys("database_url = \"postgres://wp:pw@db/wp\"\n"),
            ["database_url"]
        );
        assert!(keys("[notify.smtp]\nhost = \"h\"\n").is_empty());
        assert_eq!(
            keys(
                "[notify.smtp]\nhost = \"h\"\npassword = \"p\"\n[notify.webhook]\nurl = \"http://127.0.0.1:9/\"\nsecret = \"s\"\n"
            ),
            ["notify.smtp.password", "notify.webhook.secret"]
        );
        assert_eq!(
            keys(
                "[mailbox]\nimap_host = \"h\"\nusername = \"u\"\npassword = \"p\"\naddress = \"s@example.com\"\n[mailbox.smtp]\nhost = \"h\"\npassword = \"q\"\n"
            ),
            ["mailbox.password", "mailbox.smtp.password"]
        );
    }

    #[test]
    fn limits_parse_and_zero_is_refused() {
        let text = "header_read_timeout_secs = 2\nkeep_alive_timeout_secs = 3\nmax_connections = 100\nreports_per_hour = 4\nmax_attachment_bytes = 5\nattachment_bytes_per_user = 6\nattachment_bytes_total = 7\n";
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(config.header_read_timeout_secs.map(|s| s.get()), Some(2));
        assert_eq!(config.keep_alive_timeout_secs.map(|s| s.get()), Some(3));
        assert_eq!(config.max_connections.map(|s| s.get()), Some(100));
        assert_eq!(config.reports_per_hour.map(|s| s.get()), Some(4));
        assert_eq!(config.max_attachment_bytes.map(|s| s.get()), Some(5));
        assert_eq!(config.attachment_bytes_per_user, Some(6));
        assert_eq!(config.attachment_bytes_total, Some(7));
        for key in [
            "header_read_timeout_secs",
            "keep_alive_timeout_secs",
            "max_connections",
            "reports_per_hour",
        ] {
            let err = Config::parse(Path::new("c.toml"), &format!("\n{key} = 0\n"))
                .unwrap_err()
                .to_string();
            assert!(err.starts_with("c.toml:2:"), "{key}: {err}");
        }
    }

    #[test]
    fn monitor_tables_parse() {
        let text = r#"
[ports]
dir = "/var/lib/watchpost/snapshots"
paths = ["/srv/scans/*.xml"]
interval = "10m"
host = "web01"

[web]
timeout = "5s"

[[web.url]]
url = "https://www.example.org/"
interval = "1m"
"#;
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        let ports = config.ports.unwrap();
        assert_eq!(
            ports.dir,
            Some(PathBuf::from("/var/lib/watchpost/snapshots"))
        );
        assert_eq!(ports.paths, ["/srv/scans/*.xml"]);
        assert_eq!(ports.interval, std::time::Duration::from_secs(600));
        assert_eq!(ports.state, None);
        assert_eq!(ports.host.as_deref(), Some("web01"));
        let web = config.web.unwrap();
        assert_eq!(web.timeout, std::time::Duration::from_secs(5));
        assert_eq!(web.url[0].url, "https://www.example.org/");
        assert_eq!(web.url[0].interval, std::time::Duration::from_secs(60));
        assert!(
            Config::parse(Path::new("c.toml"), "")
                .unwrap()
                .ports
                .is_none()
        );
    }

    #[test]
    fn unknown_monitor_keys_name_the_line() {
        for (text, key) in [
            ("[ports]\ndir = \"/s\"\nintervall = \"5m\"\n", "intervall"),
            (
                "[web]\n\n[[web.url]]\nurl = \"http://x/\"\nevery = \"5m\"\n",
                "every",
            ),
        ] {
            let err = Config::parse(Path::new("c.toml"), text)
                .unwrap_err()
                .to_string();
            let line = text.lines().position(|l| l.starts_with(key)).unwrap() + 1;
            assert!(err.starts_with(&format!("c.toml:{line}:")), "{err}");
            assert!(err.contains(key), "{err}");
        }
    }

    #[test]
    fn oidc_table_parses() {
        let text = r#"
[oidc]
issuer_url = "https://idp.example.org/realms/staff"
client_id = "watchpost"
client_secret = "s3cret-value"
redirect_url = "https://watchpost.example.org/login/oidc/callback"
display_name = "Example SSO"
scopes = ["email"]
role_claim = "groups"
default_role = "none"

[oidc.roles]
security-team = "responder"
finance = "finance-ops"
it-admins = "admin"
staff = "reporter"
"#;
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        let oidc = config.oidc.as_ref().unwrap();
        assert_eq!(oidc.issuer_url, "https://idp.example.org/realms/staff");
        assert_eq!(oidc.role_claim.as_deref(), Some("groups"));
        assert_eq!(oidc.roles["security-team"], OidcRole::Responder);
        assert_eq!(oidc.roles["finance"], OidcRole::FinanceOps);
        assert_eq!(oidc.default_role, OidcDefaultRole::None);
        assert!(!format!("{oidc:?}").contains("s3cret-value"));
        assert_eq!(config.secret_keys(), ["oidc.client_secret"]);
        let settings = oidc.settings().unwrap();
        assert_eq!(settings.client_secret.as_deref(), Some("s3cret-value"));
        assert_eq!(settings.default_role, None);
        assert_eq!(settings.display_name, "Example SSO");
        assert!(!format!("{settings:?}").contains("s3cret-value"));
        assert!(
            settings
                .roles
                .contains(&("it-admins".to_owned(), incidents::enums::Role::Admin))
        );

        // The defaults: reporter for everyone, "single sign-on", email and
        // profile.
        let minimal = "[oidc]\nissuer_url = \"https://idp.example.org\"\nclient_id = \"wp\"\nredirect_url = \"https://wp.example.org/login/oidc/callback\"\n";
        let oidc = Config::parse(Path::new("c.toml"), minimal)
            .unwrap()
            .oidc
            .unwrap();
        assert_eq!(oidc.default_role, OidcDefaultRole::Reporter);
        assert_eq!(oidc.display_name, "single sign-on");
        assert_eq!(oidc.scopes, ["email", "profile"]);
        let settings = oidc.settings().unwrap();
        assert_eq!(settings.client_secret, None);
        assert_eq!(
            settings.default_role,
            Some(incidents::enums::Role::Reporter)
        );
    }

    #[test]
    fn oidc_refuses_ingest_unknown_keys_and_two_secrets() {
        let base = "[oidc]\nissuer_url = \"https://idp.example.org\"\nclient_id = \"wp\"\nredirect_url = \"https://wp.example.org/cb\"\n";
        let err = Config::parse(
            Path::new("c.toml"),
            &format!("{base}[oidc.roles]\nbots = \"ingest\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.toml:6:"), "{err}");
        let err = Config::parse(
            Path::new("c.toml"),
            &format!("{base}default_role = \"admin\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("c.toml:5:"), "{err}");
        let err = Config::parse(
            Path::new("c.toml"),
            &format!("{base}client_secrt = \"x\"\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("client_secrt"), "{err}");
        let two = Config::parse(
            Path::new("c.toml"),
            &format!("{base}client_secret = \"hidden-one\"\nclient_secret_env = \"WP_NOPE\"\n"),
        )
        .unwrap()
        .oidc
        .unwrap();
        let err = two.settings().unwrap_err().to_string();
        assert!(err.contains("at most one"), "{err}");
        assert!(!err.contains("hidden-one"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("secret");
        std::fs::write(&file, "from-a-file\n").unwrap();
        let from_file = Config::parse(
            Path::new("c.toml"),
            &format!(
                "{base}client_secret_file = {:?}\n",
                file.display().to_string()
            ),
        )
        .unwrap()
        .oidc
        .unwrap();
        assert_eq!(
            from_file.settings().unwrap().client_secret.as_deref(),
            Some("from-a-file")
        );
    }

    #[test]
    fn bad_value_names_the_line() {
        let err = Config::parse(Path::new("c.toml"), "\nlisten = \"nowhere\"\n")
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("c.toml:2:"), "{err}");
    }
}
