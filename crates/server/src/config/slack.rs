//! `[slack]`: the `/incident` slash command and posting non-sensitive
//! incidents to a channel. One table feeds both halves: the web intake
//! (`web::slack::Slack`, the signing secret) and the notify channel
//! (`notify::channel::slack::Config`, the bot token or webhook).

use notify::channel::slack as channel;
use notify::config::Secret;
use serde::Deserialize;

/// `[slack]`: a Slack app for `#incidents`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The app's signing secret (Basic Information → App Credentials):
    /// every request to `/slack/commands` and `/slack/interactions` must be
    /// signed with it. Required.
    pub signing_secret: Secret,
    /// The bot token (`xoxb-...`, scope `chat:write`): incidents are posted
    /// with `chat.postMessage`, and changes go in each incident's thread.
    pub bot_token: Option<Secret>,
    /// An incoming webhook URL, used instead of the Web API when there is
    /// no `bot_token` (no threads: every change is a new message). It is a
    /// credential, like the token.
    pub webhook_url: Option<Secret>,
    /// The channel incidents are posted to: a name such as `#incidents` or
    /// a channel id. Required with `bot_token` (a webhook has its own).
    pub channel: Option<String>,
    /// Slack's Web API base URL (default `https://slack.com/api`).
    #[serde(default = "default_api_url")]
    pub api_url: String,
}

/// `http(s)://host...` with a host and no spaces.
fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|r| {
        !r.is_empty() && !r.starts_with('/') && !r.chars().any(char::is_whitespace)
    })
}

fn default_api_url() -> String {
    channel::DEFAULT_API_URL.to_owned()
}

impl SlackConfig {
    /// The notify channel's configuration, links made from `public_url`;
    /// an error says which key is wrong (never a secret's value).
    pub fn channel(&self, public_url: Option<&web::PublicUrl>) -> Result<channel::Config, String> {
        if self.signing_secret.expose().trim().is_empty() {
            return Err("[slack] signing_secret is empty".into());
        }
        let posting = match (&self.bot_token, &self.webhook_url) {
            (Some(token), _) => {
                if token.expose().trim().is_empty() {
                    return Err("[slack] bot_token is empty".into());
                }
                let api_url = self.api_url.trim_end_matches('/');
                if !is_http_url(api_url) {
                    return Err(format!("[slack] api_url {api_url:?} is not an http(s) URL"));
                }
                channel::Posting::WebApi {
                    api_url: api_url.to_owned(),
                    bot_token: token.clone(),
                }
            }
            (None, Some(url)) => {
                if !is_http_url(url.expose()) {
                    return Err("[slack] webhook_url is not an http(s) URL".into());
                }
                channel::Posting::Webhook { url: url.clone() }
            }
            (None, None) => {
                return Err(
                    "[slack] needs bot_token (with channel) or webhook_url to post incidents"
                        .into(),
                );
            }
        };
        let channel = match (&posting, &self.channel) {
            (_, Some(c)) if !c.trim().is_empty() => c.trim().to_owned(),
            (channel::Posting::WebApi { .. }, _) => {
                return Err("[slack] channel is required with bot_token".into());
            }
            (channel::Posting::Webhook { .. }, _) => String::new(),
        };
        Ok(channel::Config {
            channel,
            posting,
            public_url: public_url.map(|u| u.as_str().to_owned()),
        })
    }

    /// The keys of this table that hold secrets.
    pub fn secret_keys(&self) -> Vec<&'static str> {
        let mut keys = vec!["slack.signing_secret"];
        if self.bot_token.is_some() {
            keys.push("slack.bot_token");
        }
        if self.webhook_url.is_some() {
            keys.push("slack.webhook_url");
        }
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use std::path::Path;

    fn parse(text: &str) -> Result<SlackConfig, String> {
        Config::parse(Path::new("c.toml"), text)
            .map(|c| c.slack.expect("a [slack] table"))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_documented_keys() {
        let text = "[slack]\nsigning_secret = \"sig-s3cret\"\nbot_token = \"xoxb-t0ken\"\nchannel = \"#incidents\"\n";
        let config = Config::parse(Path::new("c.toml"), text).unwrap();
        assert_eq!(
            config.secret_keys(),
            ["slack.signing_secret", "slack.bot_token"]
        );
        let slack = config.slack.unwrap();
        assert_eq!(slack.api_url, "https://slack.com/api");
        assert!(!format!("{slack:?}").contains("s3cret"));
        assert!(!format!("{slack:?}").contains("t0ken"));
        let public = web::PublicUrl::parse("https://wp.example.com/").unwrap();
        assert_eq!(
            slack.channel(Some(&public)).unwrap(),
            channel::Config {
                channel: "#incidents".into(),
                posting: channel::Posting::WebApi {
                    api_url: "https://slack.com/api".into(),
                    bot_token: Secret::new("xoxb-t0ken"),
                },
                public_url: Some("https://wp.example.com".into()),
            }
        );

        let webhook = parse(
            "[slack]\nsigning_secret = \"s\"\nwebhook_url = \"https://hooks.slack.com/services/T/B/x\"\napi_url = \"http://127.0.0.1:9/api/\"\n",
        )
        .unwrap();
        assert_eq!(
            webhook.channel(None).unwrap(),
            channel::Config {
                channel: String::new(),
                posting: channel::Posting::Webhook {
                    url: Secret::new("https://hooks.slack.com/services/T/B/x"),
                },
                public_url: None,
            }
        );
        assert_eq!(
            webhook.secret_keys(),
            ["slack.signing_secret", "slack.webhook_url"]
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_key() {
        let error = parse("[slack]\nbot_token = \"x\"\nchannel = \"#i\"\n").unwrap_err();
        assert!(error.contains("signing_secret"), "{error}");
        let error = parse("[slack]\nsigning_secret = \"s\"\nchanel = \"#i\"\n").unwrap_err();
        assert!(error.contains("chanel"), "{error}");
        for (text, expected) in [
            (
                "[slack]\nsigning_secret = \"s\"\n",
                "[slack] needs bot_token (with channel) or webhook_url to post incidents",
            ),
            (
                "[slack]\nsigning_secret = \"s\"\nbot_token = \"x\"\n",
                "[slack] channel is required with bot_token",
            ),
            (
                "[slack]\nsigning_secret = \"\"\nbot_token = \"x\"\nchannel = \"#i\"\n",
                "[slack] signing_secret is empty",
            ),
            (
                "[slack]\nsigning_secret = \"s\"\nbot_token = \"x\"\nchannel = \"#i\"\napi_url = \"ftp://x\"\n",
                "[slack] api_url \"ftp://x\" is not an http(s) URL",
            ),
            (
                "[slack]\nsigning_secret = \"s\"\nwebhook_url = \"not a url\"\n",
                "[slack] webhook_url is not an http(s) URL",
            ),
        ] {
            assert_eq!(
                parse(text).unwrap().channel(None),
                Err(expected.into()),
                "{text}"
            );
        }
    }
}
