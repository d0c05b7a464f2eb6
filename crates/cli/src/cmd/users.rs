//! `watchpost users add|list|password|disable|set-role`: user administration with
//! direct access to the store (no server needed). Running on the server
//! host is what lets these commands give the need-to-know roles
//! (`responder`, `finance-ops`) without a second person's approval; every
//! such change is audited and notified to the Security Team.

use std::process::ExitCode;

use incidents::enums::Role;

use crate::term;

/// Where the store is.
#[derive(Debug, Clone, clap::Args)]
pub struct StoreArgs {
    /// Data directory holding `watchpost.db`.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<std::path::PathBuf>,
    /// Use PostgreSQL at this URL instead of SQLite.
    #[arg(long, value_name = "URL", env = "WATCHPOST_DATABASE_URL")]
    pub database_url: Option<String>,
    /// The audit chain's key file, when the server's configuration names
    /// one (`audit_key_file`); default `DATA_DIR/audit.key`.
    #[arg(long, value_name = "FILE", env = "WATCHPOST_AUDIT_KEY_FILE")]
    pub audit_key_file: Option<std::path::PathBuf>,
}

impl StoreArgs {
    /// The store location these flags name.
    pub fn location(&self) -> server::StoreLocation {
        server::StoreLocation::new(self.data_dir.clone(), self.database_url.clone())
            .with_audit_key_file(self.audit_key_file.clone())
    }
}

/// `watchpost users ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Create a user and an API token. The token is printed once, alone on
    /// the last line.
    Add {
        /// Unique user name.
        name: String,
        /// Role: reporter, responder, finance-ops or admin.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Also set a password for signing in to the web pages, read from
        /// the first line of standard input (never from the command line,
        /// where other users could see it).
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a user's password for the web pages, read from the first line
    /// of standard input; `--clear` removes it. Either way the user's
    /// sessions end.
    Password {
        /// The user name.
        name: String,
        /// Remove the password instead (the user can no longer sign in to
        /// the pages; API tokens keep working).
        #[arg(long)]
        clear: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List users.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable a user: their tokens stop working.
    Disable {
        /// The user name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a user's role. On the server host this may give the
    /// need-to-know roles (responder, finance-ops) directly; through the
    /// API those need a responder's approval.
    SetRole {
        /// The user name.
        name: String,
        /// Role: reporter, responder, finance-ops or admin.
        #[arg(value_parser = parse_role)]
        role: Role,
        #[command(flatten)]
        store: StoreArgs,
    },
}

fn parse_role(s: &str) -> Result<Role, String> {
    s.parse()
        .map_err(|e: incidents::enums::ParseEnumError| e.to_string())
}

/// Runs a `users` subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        match command {
            Command::Add {
                name,
                role,
                password_stdin,
                store,
            } => {
                // Read and hashed before anything is created, so a bad
                // password creates nothing.
                let hash = if password_stdin {
                    Some(read_password_hash()?)
                } else {
                    None
                };
                let store = server::open_store(&store.location()).await?;
                let (user, token) =
                    server::create_user_with_token(store.as_ref(), &name, role).await?;
                if let Some(hash) = hash {
                    store
                        .set_password(&incidents::Viewer::system(), user.id, Some(hash))
                        .await?;
                    println!("password set for {}", term::line(&user.name));
                }
                println!(
                    "created user {} with role {}",
                    term::line(&user.name),
                    user.role
                );
                println!("API token (shown once; use it as \"Authorization: Bearer <token>\"):");
                println!("{token}");
                store.close().await;
            }
            Command::List { store } => {
                let store = server::open_store(&store.location()).await?;
                let users = server::list_users(store.as_ref()).await?;
                // Names were chosen by whoever created the user: escape them.
                let names: Vec<String> = users
                    .iter()
                    .map(|u| term::line(&u.name).into_owned())
                    .collect();
                let width = names
                    .iter()
                    .map(|n| n.chars().count())
                    .max()
                    .unwrap_or(4)
                    .max(4);
                println!(
                    "{:<width$}  {:<11}  {:<8}  CREATED",
                    "NAME", "ROLE", "STATE"
                );
                for (user, name) in users.iter().zip(&names) {
                    let state = if user.disabled { "disabled" } else { "active" };
                    let created = user
                        .created_at
                        .format(&time::format_description::well_known::Rfc3339)
                        .unwrap_or_default();
                    println!(
                        "{:<width$}  {:<11}  {:<8}  {created}",
                        name,
                        user.role.as_str(),
                        state
                    );
                }
                store.close().await;
            }
            Command::SetRole { name, role, store } => {
                let store = server::open_store(&store.location()).await?;
                let system = incidents::Viewer::system();
                let user = store.get_user_by_name(&system, &name).await?;
                let user = store.set_user_role(&system, user.id, role).await?;
                println!("{} is now {}", user.name, user.role);
                store.close().await;
            }
            Command::Password { name, clear, store } => {
                let hash = if clear {
                    None
                } else {
                    Some(read_password_hash()?)
                };
                let store = server::open_store(&store.location()).await?;
                let system = incidents::Viewer::system();
                let user = store.get_user_by_name(&system, &name).await?;
                store.set_password(&system, user.id, hash.clone()).await?;
                if hash.is_some() {
                    println!("password set for {}", term::line(&user.name));
                } else {
                    println!("password removed for {}", term::line(&user.name));
                }
                store.close().await;
            }
            Command::Disable { name, store } => {
                let store = server::open_store(&store.location()).await?;
                let user = server::disable_user(store.as_ref(), &name).await?;
                println!("disabled user {}", term::line(&user.name));
                store.close().await;
            }
        }
        Ok(ExitCode::SUCCESS)
    })
}

/// Reads a password from the first line of standard input and hashes it
/// (Argon2id). Refuses one shorter than
/// [`web::ui::MIN_PASSWORD_CHARS`] characters.
fn read_password_hash() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = line.trim_end_matches(['\n', '\r']);
    web::ui::hash_password(password).map_err(|e| anyhow::anyhow!(e))
}
