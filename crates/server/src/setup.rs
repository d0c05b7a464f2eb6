//! The first admin's one-time link to set a password for the web pages.
//!
//! On first start the server creates `admin` (see `bootstrap_admin`) and
//! this link: `BASE_URL/setup?token=SECRET`, valid for 24 hours and for one
//! use. It is printed when stdout is a terminal; either way it is kept in
//! `DATA_DIR/first-admin-setup` (`0600`, like the first admin's token
//! file), whose second line is `SECRET USER_ID EXPIRES_UNIX`. Using the
//! link deletes the file; a restart before then keeps it working.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use incidents::UserId;

/// The link's file in the data directory.
pub const SETUP_FILE: &str = "first-admin-setup";
/// How long the link works.
pub const SETUP_TTL_SECS: i64 = 24 * 3600;

/// Creates the link for `user`; returns its URL.
pub(crate) fn create(data_dir: &Path, base_url: &str, user: UserId) -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    let secret = hex::encode(bytes);
    let expires = time::OffsetDateTime::now_utc().unix_timestamp() + SETUP_TTL_SECS;
    let url = format!("{base_url}/setup?token={secret}");
    super::write_private(
        &data_dir.join(SETUP_FILE),
        format!("{url}\n{secret} {user} {expires}\n").as_bytes(),
    )?;
    Ok(url)
}

/// The link as the pages check it.
#[derive(Debug)]
pub struct FileSetupLink {
    path: PathBuf,
    secret: String,
    user: UserId,
    expires: i64,
    used: AtomicBool,
}

impl FileSetupLink {
    /// The unused link of `data_dir`, if there is one.
    pub fn open(data_dir: &Path) -> Option<FileSetupLink> {
        let path = data_dir.join(SETUP_FILE);
        let text = std::fs::read_to_string(&path).ok()?;
        let line = text.lines().nth(1)?;
        let mut parts = line.split(' ');
        let secret = parts.next()?.to_owned();
        let user = parts.next()?.parse().ok()?;
        let expires = parts.next()?.parse().ok()?;
        (secret.len() == 64).then_some(FileSetupLink {
            path,
            secret,
            user,
            expires,
            used: AtomicBool::new(false),
        })
    }
}

impl web::ui::AdminSetup for FileSetupLink {
    fn user_for(&self, token: &str) -> Option<UserId> {
        let live = !self.used.load(Ordering::Acquire)
            && time::OffsetDateTime::now_utc().unix_timestamp() < self.expires;
        (live && web::ui::same_secret(token, &self.secret)).then_some(self.user)
    }

    fn used(&self) {
        self.used.store(true, Ordering::Release);
        if let Err(error) = std::fs::remove_file(&self.path) {
            tracing::warn!(path = %self.path.display(), %error, "cannot delete the used setup link");
        }
    }
}

#[cfg(test)]
mod tests {
    use web::ui::AdminSetup as _;

    use super::*;

    #[test]
    fn the_link_works_once_for_its_secret_only() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::new();
        let url = create(dir.path(), "http://127.0.0.1:8080", user).unwrap();
        let secret = url
            .strip_prefix("http://127.0.0.1:8080/setup?token=")
            .unwrap()
            .to_owned();
        assert_eq!(secret.len(), 64);
        let link = FileSetupLink::open(dir.path()).unwrap();
        assert_eq!(link.user_for(&secret), Some(user));
        assert_eq!(link.user_for(&secret[1..]), None);
        assert_eq!(link.user_for(&"0".repeat(64)), None);
        assert_eq!(link.user_for(""), None);
        link.used();
        assert_eq!(link.user_for(&secret), None);
        assert!(!dir.path().join(SETUP_FILE).exists());
        assert!(FileSetupLink::open(dir.path()).is_none());
    }

    #[test]
    fn an_expired_link_works_no_more() {
        let dir = tempfile::tempdir().unwrap();
        let user = UserId::new();
        let secret = "a".repeat(64);
        let expired = time::OffsetDateTime::now_utc().unix_timestamp() - 1;
        std::fs::write(
            dir.path().join(SETUP_FILE),
            format!("http://x/setup?token={secret}\n{secret} {user} {expired}\n"),
        )
        .unwrap();
        let link = FileSetupLink::open(dir.path()).unwrap();
        assert_eq!(link.user_for(&secret), None);
    }
}
