//! File I/O of the daemon: reads that treat a missing file as absent, and atomic writes (a
//! temporary file beside the target, synced, then renamed over it) that keep a backup of what
//! they replace. Other writers of the same files (the agent itself, its plugin installer) are
//! expected: every plan starts from a fresh read.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::DaemonError;

/// The largest agent file the daemon reads; bigger ones are refused rather than buffered.
const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

pub fn read_optional(path: &Path) -> Result<Option<String>, DaemonError> {
    match fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(DaemonError::io(path, e)),
        Ok(meta) if meta.len() > MAX_FILE_BYTES => {
            return Err(DaemonError::Corrupt {
                path: path.to_path_buf(),
                reason: format!("larger than {MAX_FILE_BYTES} bytes"),
            });
        }
        Ok(_) => {}
    }
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| DaemonError::Corrupt {
                path: path.to_path_buf(),
                reason: "not UTF-8".into(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(DaemonError::io(path, e)),
    }
}

/// Entry names of a directory; none when it does not exist or cannot be read.
pub fn list_dir(path: &Path) -> Vec<String> {
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> Result<(), DaemonError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .map_err(|e| DaemonError::io(path, e))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> Result<(), DaemonError> {
    Ok(())
}

fn create_parent(path: &Path) -> Result<(), DaemonError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty())
        && !parent.exists()
    {
        fs::create_dir_all(parent).map_err(|e| DaemonError::io(parent, e))?;
        set_mode(parent, 0o700)?;
    }
    Ok(())
}

/// Writes `contents` to `path` atomically. A file holding a secret gets mode 0600; any other
/// keeps the mode of the file it replaces (0644 when new). The replaced file is kept as
/// `<name>.amc-backup` (0600: it may hold secrets too).
pub fn write_atomic(path: &Path, contents: &[u8], secret: bool) -> Result<(), DaemonError> {
    create_parent(path)?;
    let existing_mode = existing_mode(path);
    let mode = if secret {
        0o600
    } else {
        existing_mode.unwrap_or(0o644)
    };
    if existing_mode.is_some() {
        let backup = sibling(path, ".amc-backup");
        fs::copy(path, &backup).map_err(|e| DaemonError::io(&backup, e))?;
        set_mode(&backup, 0o600)?;
    }
    replace(path, contents, mode, ".amc-tmp")
}

/// Writes a file of the daemon's own, 0600 in a 0700 directory.
pub fn write_private(path: &Path, contents: &[u8]) -> Result<(), DaemonError> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| DaemonError::io(parent, e))?;
        set_mode(parent, 0o700)?;
    }
    replace(path, contents, 0o600, ".tmp")
}

/// Writes `contents` to a temporary file beside `path` (mode `mode`), syncs it and renames it
/// over `path`; the temporary file is removed when any step fails.
fn replace(path: &Path, contents: &[u8], mode: u32, suffix: &str) -> Result<(), DaemonError> {
    let temporary = sibling(path, &format!("{suffix}-{}", std::process::id()));
    let result = (|| {
        let mut file = fs::File::create(&temporary).map_err(|e| DaemonError::io(&temporary, e))?;
        set_mode(&temporary, mode)?;
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| DaemonError::io(&temporary, e))?;
        fs::rename(&temporary, path).map_err(|e| DaemonError::io(path, e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    result
}

fn sibling(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

#[cfg(unix)]
fn existing_mode(path: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path)
        .ok()
        .map(|m| m.permissions().mode() & 0o7777)
}

#[cfg(not(unix))]
fn existing_mode(path: &Path) -> Option<u32> {
    path.exists().then_some(0o644)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("amc-daemon-files-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn atomic_writes_keep_a_backup_and_secret_files_are_private() -> Result<(), DaemonError> {
        let dir = scratch("atomic");
        let path = dir.join("agent").join("config.json");
        write_atomic(&path, b"one", false)?;
        let mode = |p: &Path| fs::metadata(p).map(|m| m.permissions().mode() & 0o777).ok();
        assert_eq!(mode(&path), Some(0o644));
        assert_eq!(mode(&dir.join("agent")), Some(0o700));
        write_atomic(&path, b"two", true)?;
        assert_eq!(read_optional(&path)?.as_deref(), Some("two"));
        assert_eq!(mode(&path), Some(0o600));
        let backup = dir.join("agent").join("config.json.amc-backup");
        assert_eq!(read_optional(&backup)?.as_deref(), Some("one"));
        assert_eq!(mode(&backup), Some(0o600));
        // No temporary file is left behind.
        assert_eq!(list_dir(&dir.join("agent")).len(), 2);
        assert_eq!(read_optional(&dir.join("missing"))?, None);
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }
}
