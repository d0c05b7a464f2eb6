//! Data at rest: who may read the server's files.
//!
//! The data directory is created `0700`; the SQLite database and its `-wal`
//! and `-shm` files, and every attachment file, are `0600` (the database
//! file is created before SQLite opens it, and SQLite gives its `-wal` and
//! `-shm` files the database file's mode). Modes are set explicitly, so the
//! umask does not matter. On every start, files and directories that are
//! looser than that (from an older version, a restore, a hand copy) are
//! tightened, each with a warning naming the path and the mode it had.
//!
//! A configuration file that holds secrets (the SMTP password, the webhook
//! secret, a database URL with a password) and that group or others can
//! read gets a warning naming the file and its mode, never the secret.
//!
//! On systems without Unix modes these checks do nothing.

use std::path::Path;

use anyhow::Context;

/// Owner-only mode of directories.
pub const DIR_MODE: u32 = 0o700;
/// Owner-only mode of files.
pub const FILE_MODE: u32 = 0o600;

/// Creates `dir` (and missing parents) `0700`, or tightens an existing one.
pub fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    make_private_dir(dir).with_context(|| format!("cannot create directory {}", dir.display()))
}

/// [`create_private_dir`] for callers with an error type of their own (the
/// error does not name `dir`).
pub fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    builder.create(dir)?;
    tighten_io(dir, DIR_MODE)
}

/// Sets `options` to create files owner-only (`0600`) on Unix.
pub fn owner_only(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(options, FILE_MODE);
    options
}

/// Creates an empty SQLite database file `0600` if there is none yet, so
/// that SQLite (and its `-wal` and `-shm` files) inherit that mode.
pub fn precreate_private_file(path: &Path) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    match owner_only(options.write(true).create_new(true)).open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

/// Tightens the database files and everything under `DIR/attachments` to
/// owner-only, warning about each one that was looser.
pub fn secure_data(data_dir: &Path, database: Option<&Path>) -> anyhow::Result<()> {
    tighten(data_dir, DIR_MODE)?;
    if let Some(db) = database {
        for suffix in ["", "-wal", "-shm"] {
            let mut name = db.as_os_str().to_owned();
            name.push(suffix);
            let path = Path::new(&name);
            if path.exists() {
                tighten(path, FILE_MODE)?;
            }
        }
    }
    let attachments = data_dir.join("attachments");
    if attachments.is_dir() {
        secure_tree(&attachments)?;
    }
    Ok(())
}

/// Directories `0700` and files `0600`, all the way down (symbolic links
/// are left alone).
fn secure_tree(dir: &Path) -> anyhow::Result<()> {
    tighten(dir, DIR_MODE)?;
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let kind = entry
            .file_type()
            .with_context(|| format!("cannot read {}", entry.path().display()))?;
        if kind.is_dir() {
            secure_tree(&entry.path())?;
        } else if kind.is_file() {
            tighten(&entry.path(), FILE_MODE)?;
        }
    }
    Ok(())
}

/// The permission bits of `path` (`None` without Unix modes).
pub fn mode_of(path: &Path) -> std::io::Result<Option<u32>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        Ok(Some(std::fs::metadata(path)?.permissions().mode() & 0o7777))
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Sets `path` to `mode` when it grants anything `mode` does not, with a
/// warning naming the path and the mode it had.
fn tighten(path: &Path, mode: u32) -> anyhow::Result<()> {
    tighten_io(path, mode).with_context(|| format!("cannot restrict {}", path.display()))
}

/// [`tighten`] with an error that does not name `path`.
fn tighten_io(path: &Path, mode: u32) -> std::io::Result<()> {
    let Some(current) = mode_of(path)? else {
        return Ok(());
    };
    if current & !mode == 0 {
        return Ok(());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
    }
    tracing::warn!(
        path = %path.display(),
        was = %format!("{current:04o}"),
        now = %format!("{mode:04o}"),
        "file or directory was readable by others; restricted to its owner"
    );
    Ok(())
}

/// Warns when the configuration file `path`, which holds the secrets named
/// in `secrets`, can be read by group or others. Returns whether it warned.
pub fn warn_if_config_exposed(path: &Path, secrets: &[&str]) -> bool {
    if secrets.is_empty() {
        return false;
    }
    let Ok(Some(mode)) = mode_of(path) else {
        return false;
    };
    if mode & 0o077 == 0 {
        return false;
    }
    tracing::warn!(
        file = %path.display(),
        mode = %format!("{mode:04o}"),
        holds = %secrets.join(", "),
        "the configuration file holds secrets and can be read by other users; restrict it with chmod 600"
    );
    true
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn set_mode(path: &Path, mode: u32) {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_new_data_dir_is_owner_only_whatever_the_parent() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b/data");
        create_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir).unwrap(), Some(0o700));
        // An existing, looser one is tightened.
        set_mode(&dir, 0o755);
        create_private_dir(&dir).unwrap();
        assert_eq!(mode_of(&dir).unwrap(), Some(0o700));
    }

    #[test]
    fn loose_files_are_tightened_and_tight_ones_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path();
        let db = data.join("watchpost.db");
        precreate_private_file(&db).unwrap();
        assert_eq!(mode_of(&db).unwrap(), Some(0o600));
        let wal = data.join("watchpost.db-wal");
        std::fs::write(&wal, b"x").unwrap();
        set_mode(&wal, 0o644);
        let sub = data.join("attachments/ab");
        std::fs::create_dir_all(&sub).unwrap();
        set_mode(&sub, 0o755);
        let file = sub.join("abcdef");
        std::fs::write(&file, b"x").unwrap();
        set_mode(&file, 0o664);
        let private = sub.join("abc000");
        std::fs::write(&private, b"x").unwrap();
        set_mode(&private, 0o400);
        secure_data(data, Some(&db)).unwrap();
        for (path, mode) in [
            (&wal, 0o600),
            (&sub, 0o700),
            (&file, 0o600),
            (&private, 0o400),
            (&db, 0o600),
        ] {
            assert_eq!(mode_of(path).unwrap(), Some(mode), "{}", path.display());
        }
    }

    #[test]
    fn exposed_config_with_secrets_is_flagged() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.toml");
        std::fs::write(&path, "").unwrap();
        set_mode(&path, 0o644);
        assert!(warn_if_config_exposed(&path, &["notify.webhook.secret"]));
        assert!(!warn_if_config_exposed(&path, &[]));
        set_mode(&path, 0o600);
        assert!(!warn_if_config_exposed(&path, &["notify.webhook.secret"]));
        set_mode(&path, 0o640);
        assert!(warn_if_config_exposed(&path, &["notify.smtp.password"]));
    }
}

/// Replaces `path` with `bytes`: a temporary file (owner-only), fsync,
/// rename, directory fsync.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.as_os_str().to_owned();
    name.push(".tmp");
    let temporary = std::path::PathBuf::from(name);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    owner_only(&mut options);
    let mut file = options.open(&temporary)?;
    std::io::Write::write_all(&mut file, bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)?;
    #[cfg(unix)]
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}
