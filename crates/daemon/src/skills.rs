//! Skill packages on the host. amc installs each skill its runtime is given in a folder of the
//! agent's skills directory named after the skill, marked with [`MARKER`] (the package's id,
//! version and checksum), and removes only folders it marked: the user's own skills stay. A
//! package is downloaded to the daemon's directory, its size and SHA-256 checked against the
//! desired state, unpacked beside its final place and renamed into it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use agent_proto::{Product, SkillPackage};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::DaemonError;
use crate::client::Client;

/// The file in an installed skill's folder that says amc put it there.
pub const MARKER: &str = ".amc-skill.json";
/// Bounds of what a package may unpack to, whatever the server says of it.
const MAX_ENTRIES: usize = 4_096;
const MAX_UNPACKED_BYTES: u64 = 512 * 1024 * 1024;

/// What amc installed in a folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Marker {
    pub id: String,
    pub version: String,
    pub sha256: String,
}

/// The folder amc installs skills in: the agent's shared skills folder (OpenClaw's
/// `~/.openclaw/skills`), or a category of its own in Hermes's (`~/.hermes/skills/amc`, Hermes
/// reads `<category>/<name>/SKILL.md`).
pub fn root(layout: &render::Layout) -> PathBuf {
    match layout.product {
        Product::OpenClaw => layout.skills_dir.clone(),
        Product::Hermes => layout.skills_dir.join("amc"),
    }
}

/// The skills amc installed under `root`, by name.
pub fn installed(root: &Path) -> BTreeMap<String, Marker> {
    let Ok(entries) = fs::read_dir(root) else {
        return BTreeMap::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let name = entry.file_name().into_string().ok()?;
            let text = fs::read_to_string(entry.path().join(MARKER)).ok()?;
            let marker: Marker = serde_json::from_str(&text).ok()?;
            Some((name, marker))
        })
        .collect()
}

/// The desired skills not installed as desired.
pub fn to_install<'a>(
    installed: &BTreeMap<String, Marker>,
    desired: &'a [SkillPackage],
) -> Vec<&'a SkillPackage> {
    desired
        .iter()
        .filter(|skill| {
            installed
                .get(&skill.name)
                .is_none_or(|m| m.sha256 != skill.sha256 || m.id != skill.id)
        })
        .collect()
}

/// What is installed differs from what is desired.
pub fn differ(installed: &BTreeMap<String, Marker>, desired: &[SkillPackage]) -> bool {
    installed.len() != desired.len() || !to_install(installed, desired).is_empty()
}

/// Downloads a package into `dir/downloads`, checking its size and checksum as it streams.
pub async fn download(
    client: &Client,
    skill: &SkillPackage,
    dir: &Path,
) -> Result<PathBuf, DaemonError> {
    // The Agent Skills name rule also keeps a name from leaving the skills folder.
    if !::skills::valid_name(&skill.name) || !skill.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(DaemonError::Usage(format!(
            "skill {:?}: not a name or checksum the daemon installs",
            skill.name
        )));
    }
    let downloads = dir.join("downloads");
    fs::create_dir_all(&downloads).map_err(|e| DaemonError::io(&downloads, e))?;
    let path = downloads.join(format!("{}.zip", skill.sha256));
    let partial = downloads.join(format!("{}.zip.part", skill.sha256));
    let mut response = client.download(&skill.download_path()).await?;
    let mut file = fs::File::create(&partial).map_err(|e| DaemonError::io(&partial, e))?;
    let mut hasher = Sha256::new();
    let mut received: u64 = 0;
    let result = async {
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            received += chunk.len() as u64;
            if received > skill.size {
                return Err(format!("larger than its {} bytes", skill.size));
            }
            hasher.update(&chunk);
            file.write_all(&chunk)
                .map_err(|e| format!("{}: {e}", partial.display()))?;
        }
        if received != skill.size {
            return Err(format!("{received} bytes, not {}", skill.size));
        }
        if hex::encode(hasher.finalize()) != skill.sha256.to_ascii_lowercase() {
            return Err("its SHA-256 is not the one the server named".into());
        }
        file.sync_all()
            .map_err(|e| format!("{}: {e}", partial.display()))
    }
    .await;
    match result {
        Ok(()) => {
            fs::rename(&partial, &path).map_err(|e| DaemonError::io(&path, e))?;
            Ok(path)
        }
        Err(reason) => {
            let _ = fs::remove_file(&partial);
            Err(DaemonError::Corrupt {
                path: PathBuf::from(skill.download_path()),
                reason: format!("skill {}: {reason}", skill.name),
            })
        }
    }
}

/// Unpacks the downloaded package of `skill` as `root/<name>` (replacing what was there) and
/// removes the download.
pub fn install(root: &Path, skill: &SkillPackage, package: &Path) -> Result<(), DaemonError> {
    if !::skills::valid_name(&skill.name) {
        return Err(DaemonError::Usage(format!(
            "skill {:?}: bad name",
            skill.name
        )));
    }
    fs::create_dir_all(root).map_err(|e| DaemonError::io(root, e))?;
    let target = root.join(&skill.name);
    let staging = root.join(format!(".amc-new-{}", skill.name));
    let old = root.join(format!(".amc-old-{}", skill.name));
    let _ = fs::remove_dir_all(&staging);
    let result = unpack(package, &staging).and_then(|()| {
        let marker = Marker {
            id: skill.id.clone(),
            version: skill.version.clone(),
            sha256: skill.sha256.to_ascii_lowercase(),
        };
        let text = serde_json::to_vec_pretty(&marker).map_err(|e| DaemonError::Corrupt {
            path: staging.join(MARKER),
            reason: e.to_string(),
        })?;
        fs::write(staging.join(MARKER), text).map_err(|e| DaemonError::io(&staging, e))?;
        let _ = fs::remove_dir_all(&old);
        if target.exists() {
            fs::rename(&target, &old).map_err(|e| DaemonError::io(&target, e))?;
        }
        fs::rename(&staging, &target).map_err(|e| DaemonError::io(&target, e))?;
        let _ = fs::remove_dir_all(&old);
        Ok(())
    });
    if result.is_err() {
        let _ = fs::remove_dir_all(&staging);
    }
    let _ = fs::remove_file(package);
    result
}

/// Unpacks a package into `into`: the files under the folder holding its `SKILL.md` (the root or
/// one top folder), never outside `into`, never a link.
fn unpack(package: &Path, into: &Path) -> Result<(), DaemonError> {
    let corrupt = |reason: String| DaemonError::Corrupt {
        path: package.to_path_buf(),
        reason,
    };
    let file = fs::File::open(package).map_err(|e| DaemonError::io(package, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| corrupt(e.to_string()))?;
    if archive.len() > MAX_ENTRIES {
        return Err(corrupt(format!("more than {MAX_ENTRIES} entries")));
    }
    let names: Vec<PathBuf> = (0..archive.len())
        .map(|i| {
            let entry = archive
                .by_index_raw(i)
                .map_err(|e| corrupt(e.to_string()))?;
            entry
                .enclosed_name()
                .filter(|p| p.components().all(|c| matches!(c, Component::Normal(_))))
                .ok_or_else(|| corrupt(format!("unsafe path {:?}", entry.name())))
        })
        .collect::<Result<_, _>>()?;
    let skill_md = names
        .iter()
        .find(|p| p.file_name().is_some_and(|n| n == "SKILL.md") && p.components().count() <= 2)
        .ok_or_else(|| corrupt("no SKILL.md".into()))?;
    let top = skill_md.parent().map(Path::to_path_buf).unwrap_or_default();
    fs::create_dir_all(into).map_err(|e| DaemonError::io(into, e))?;
    let mut unpacked: u64 = 0;
    for (index, name) in names.iter().enumerate() {
        let Ok(relative) = name.strip_prefix(&top) else {
            continue;
        };
        if relative.as_os_str().is_empty() {
            continue;
        }
        let mut entry = archive
            .by_index(index)
            .map_err(|e| corrupt(e.to_string()))?;
        if entry.is_symlink() {
            return Err(corrupt(format!("{} is a link", name.display())));
        }
        let path = into.join(relative);
        if entry.is_dir() {
            fs::create_dir_all(&path).map_err(|e| DaemonError::io(&path, e))?;
            continue;
        }
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| DaemonError::io(parent, e))?;
        }
        let mut out = fs::File::create(&path).map_err(|e| DaemonError::io(&path, e))?;
        let budget = MAX_UNPACKED_BYTES - unpacked;
        let copied = std::io::copy(&mut (&mut entry).take(budget + 1), &mut out)
            .map_err(|e| DaemonError::io(&path, e))?;
        unpacked += copied;
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(corrupt(format!(
                "unpacks to more than {MAX_UNPACKED_BYTES} bytes"
            )));
        }
        #[cfg(unix)]
        if let Some(mode) = entry.unix_mode() {
            use std::os::unix::fs::PermissionsExt;
            // Scripts keep their execute bit; nothing gains set-id or world-write bits.
            let mode = if mode & 0o111 != 0 { 0o755 } else { 0o644 };
            let _ = fs::set_permissions(&path, fs::Permissions::from_mode(mode));
        }
    }
    Ok(())
}

/// Removes the skills amc installed under `root` that are not desired.
pub fn remove_unlisted(root: &Path, desired: &[SkillPackage]) -> Result<(), DaemonError> {
    for name in installed(root).into_keys() {
        if !desired.iter().any(|s| s.name == name) {
            let path = root.join(&name);
            fs::remove_dir_all(&path).map_err(|e| DaemonError::io(&path, e))?;
            tracing::info!(skill = %name, "removed a skill no longer given");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("amc-skills-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    fn package(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
        for (name, bytes) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            writer.write_all(bytes).expect("write");
        }
        writer.finish().expect("finish").into_inner()
    }

    fn skill(name: &str) -> SkillPackage {
        SkillPackage {
            id: format!("sk-{name}"),
            name: name.into(),
            version: "1.0.0".into(),
            sha256: "ab".into(),
            size: 0,
            env: Default::default(),
            api_key: None,
        }
    }

    #[test]
    fn installs_from_a_top_folder_replaces_and_removes_only_its_own() -> Result<(), DaemonError> {
        let dir = scratch("install");
        let root = dir.join("skills");
        fs::create_dir_all(root.join("users-own")).map_err(|e| DaemonError::io(&root, e))?;
        let zip = dir.join("weather.zip");
        fs::write(
            &zip,
            package(&[
                ("weather/SKILL.md", b"---\nname: weather\n---\n"),
                ("weather/scripts/get.sh", b"curl wttr.in"),
            ]),
        )
        .map_err(|e| DaemonError::io(&zip, e))?;
        install(&root, &skill("weather"), &zip)?;
        assert!(root.join("weather/SKILL.md").is_file());
        assert!(root.join("weather/scripts/get.sh").is_file());
        assert!(!zip.exists(), "the download is removed once installed");
        let found = installed(&root);
        assert_eq!(found.keys().collect::<Vec<_>>(), vec!["weather"]);
        assert!(!differ(&found, &[skill("weather")]));
        assert!(differ(&found, &[]));

        remove_unlisted(&root, &[])?;
        assert!(!root.join("weather").exists());
        assert!(root.join("users-own").is_dir(), "a user's own skill stays");
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }

    #[test]
    fn packages_that_would_escape_or_lack_skill_md_are_refused() -> Result<(), DaemonError> {
        let dir = scratch("refuse");
        let root = dir.join("skills");
        for (case, entries) in [
            (
                "slip",
                vec![("SKILL.md", &b"x"[..]), ("../evil.sh", &b"x"[..])],
            ),
            (
                "absolute",
                vec![("SKILL.md", &b"x"[..]), ("/etc/x", &b"x"[..])],
            ),
            ("no-skill-md", vec![("README.md", &b"x"[..])]),
        ] {
            let zip = dir.join(format!("{case}.zip"));
            fs::create_dir_all(&dir).map_err(|e| DaemonError::io(&dir, e))?;
            fs::write(&zip, package(&entries)).map_err(|e| DaemonError::io(&zip, e))?;
            assert!(install(&root, &skill("case"), &zip).is_err(), "{case}");
            assert!(!root.join("case").exists(), "{case}");
            assert!(!dir.join("evil.sh").exists());
        }
        assert!(install(&root, &skill("../up"), &dir.join("none.zip")).is_err());
        let _ = fs::remove_dir_all(&dir);
        Ok(())
    }
}
