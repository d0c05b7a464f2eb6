//! `watchpost tokens list|create|revoke|rotate`: API token administration
//! with direct access to the store, on the server host (no server needed),
//! like `watchpost users`. A new token is printed once, alone on the last
//! line; every action is audited.

use std::process::ExitCode;

use incidents::{ApiToken, TokenId};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::users::StoreArgs;

/// `watchpost tokens ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List a user's tokens (metadata only; revoked and expired included).
    List {
        /// The user name.
        user: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Issue a token for a user. The token is printed once, alone on the
    /// last line.
    Create {
        /// The user name.
        user: String,
        /// The token stops working after this many days (1 to 3650);
        /// without it, it never expires.
        #[arg(long, value_name = "DAYS")]
        expires_in: Option<u32>,
        /// What the token is for.
        #[arg(long, value_name = "LABEL", default_value = "cli")]
        label: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke one token by id.
    Revoke {
        /// The token id (from `watchpost tokens list`).
        token_id: TokenId,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token and issue a new one with the same label and lifetime.
    /// The new token is printed once, alone on the last line.
    Rotate {
        /// The token id (from `watchpost tokens list`).
        token_id: TokenId,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn fmt_time(t: Option<OffsetDateTime>) -> String {
    t.and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "-".to_owned())
}

fn state(t: &ApiToken, now: OffsetDateTime) -> &'static str {
    if t.revoked {
        "revoked"
    } else if t.is_expired(now) {
        "expired"
    } else {
        "active"
    }
}

/// Prints a token's metadata line. The label came from input: it is
/// printed through `{:?}` escaping so it cannot carry terminal controls.
fn describe(t: &ApiToken) -> String {
    format!(
        "token {} ({:?}) of user {}, expires {}",
        t.id,
        t.label,
        t.user_id,
        fmt_time(t.expires_at)
    )
}

/// Runs a `tokens` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::List { user, store } => {
                let store = server::open_store(&store.location()).await?;
                let (_, tokens) = server::list_tokens(store.as_ref(), &user).await?;
                store.close().await;
                let now = OffsetDateTime::now_utc();
                println!(
                    "{:<36}  {:<7}  {:<25}  {:<25}  LABEL",
                    "ID", "STATE", "CREATED", "EXPIRES"
                );
                for t in tokens {
                    println!(
                        "{:<36}  {:<7}  {:<25}  {:<25}  {:?}",
                        t.id,
                        state(&t, now),
                        fmt_time(Some(t.created_at)),
                        fmt_time(t.expires_at),
                        t.label
                    );
                }
            }
            Command::Create {
                user,
                expires_in,
                label,
                store,
            } => {
                let store = server::open_store(&store.location()).await?;
                let result = server::issue_token(store.as_ref(), &user, &label, expires_in).await;
                store.close().await;
                let (issued, token) = result?;
                println!("issued {}", describe(&issued));
                println!("API token (shown once; use it as \"Authorization: Bearer <token>\"):");
                println!("{token}");
            }
            Command::Revoke { token_id, store } => {
                let store = server::open_store(&store.location()).await?;
                let result = server::revoke_token(store.as_ref(), token_id).await;
                store.close().await;
                println!("revoked {}", describe(&result?));
            }
            Command::Rotate { token_id, store } => {
                let store = server::open_store(&store.location()).await?;
                let result = server::rotate_token(store.as_ref(), token_id).await;
                store.close().await;
                let (issued, token) = result?;
                println!("revoked token {token_id}; issued {}", describe(&issued));
                println!("API token (shown once; use it as \"Authorization: Bearer <token>\"):");
                println!("{token}");
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}
