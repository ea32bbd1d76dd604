//! The package rules: what a zip must be before amc keeps it.

use std::io::{Read, Seek, SeekFrom};

use serde_norway::Value;
use sha2::{Digest, Sha256};

use crate::scan::{ScanContext, ScanReport, scan_file};

/// Bounds of a package.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_files: usize,
    pub max_file_bytes: u64,
    pub max_total_bytes: u64,
    /// Uncompressed over compressed size of one entry.
    pub max_ratio: u64,
    pub max_path_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_files: 256,
            max_file_bytes: 8 * 1024 * 1024,
            max_total_bytes: 64 * 1024 * 1024,
            max_ratio: 100,
            max_path_len: 255,
        }
    }
}

/// Why a package is refused: the rule (`Package.*`), the file, and what was wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}{}", file.as_ref().map(|f| format!(" ({f})")).unwrap_or_default())]
pub struct PackageError {
    pub code: &'static str,
    pub file: Option<String>,
    pub message: String,
}

fn refuse(code: &'static str, file: Option<&str>, message: impl Into<String>) -> PackageError {
    PackageError {
        code,
        file: file.map(str::to_string),
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageFile {
    /// Relative to the skill's folder.
    pub path: String,
    pub size: u64,
}

/// A package that passed every rule, with what its scan found.
#[derive(Debug, Clone)]
pub struct Package {
    pub name: String,
    pub description: String,
    pub version: Option<String>,
    /// `metadata.openclaw.requires.env`.
    pub required_env_vars: Vec<String>,
    /// `metadata.openclaw.primaryEnv` is set.
    pub requires_api_key: bool,
    pub files: Vec<PackageFile>,
    /// Hex SHA-256 and size of the zip as read.
    pub sha256: String,
    pub size: u64,
    pub scan: ScanReport,
}

const S_IFMT: u32 = 0o170_000;
const S_IFLNK: u32 = 0o120_000;

/// Checks a package and scans its text files.
pub fn inspect<R: Read + Seek>(mut reader: R, limits: &Limits) -> Result<Package, PackageError> {
    let io = |e: std::io::Error| refuse("Package.ReadFailed", None, e.to_string());
    let mut hasher = Sha256::new();
    let size = std::io::copy(&mut reader, &mut HashWriter(&mut hasher)).map_err(io)?;
    // The zip reader keeps one entry per name; an extractor may take either copy.
    let stored = stored_names(&mut reader, size).ok().flatten();
    reader.seek(SeekFrom::Start(0)).map_err(io)?;
    let mut archive = zip::ZipArchive::new(reader)
        .map_err(|e| refuse("Package.NotZip", None, format!("not a zip archive: {e}")))?;
    if let Some(name) = stored.as_deref().and_then(first_duplicate) {
        let code = if name == "SKILL.md" || is_top_skill_md(&name) {
            "Package.SkillMdDuplicate"
        } else {
            "Package.UnsafePath"
        };
        return Err(refuse(code, Some(&name), "the same path is stored twice"));
    }
    if archive.len() > limits.max_files {
        return Err(refuse(
            "Package.TooManyFiles",
            None,
            format!("{} entries, at most {}", archive.len(), limits.max_files),
        ));
    }
    // Paths first: a package with one unsafe entry is refused before anything is read.
    let mut entries = Vec::with_capacity(archive.len());
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| refuse("Package.NotZip", None, e.to_string()))?;
        let name = entry.name().to_string();
        check_path(&name, limits)?;
        if entry.encrypted() {
            return Err(refuse(
                "Package.Encrypted",
                Some(&name),
                "encrypted entries are refused",
            ));
        }
        if entry.unix_mode().is_some_and(|m| m & S_IFMT == S_IFLNK) {
            return Err(refuse("Package.Link", Some(&name), "links are refused"));
        }
        let compressed = entry.compressed_size().max(1);
        if entry.size() / compressed > limits.max_ratio {
            return Err(refuse(
                "Package.CompressionRatio",
                Some(&name),
                format!(
                    "compressed {}:1, at most {}:1",
                    entry.size() / compressed,
                    limits.max_ratio
                ),
            ));
        }
        entries.push((index, name, entry.is_dir()));
    }
    let skill_mds: Vec<&String> = entries
        .iter()
        .filter(|(_, name, dir)| !dir && (name == "SKILL.md" || is_top_skill_md(name)))
        .map(|(_, name, _)| name)
        .collect();
    let skill_md = match skill_mds.as_slice() {
        [] => {
            return Err(refuse(
                "Package.SkillMdMissing",
                None,
                "no SKILL.md at the root or in one top folder",
            ));
        }
        [one] => (*one).clone(),
        [_, second, ..] => {
            return Err(refuse(
                "Package.SkillMdDuplicate",
                Some(second),
                "more than one SKILL.md",
            ));
        }
    };
    let top = skill_md.strip_suffix("SKILL.md").unwrap_or("").to_string();
    let mut total: u64 = 0;
    let mut files = Vec::new();
    let mut texts: Vec<(String, String)> = Vec::new();
    let mut front = None;
    for (index, name, dir) in &entries {
        let Some(relative) = name.strip_prefix(&top) else {
            return Err(refuse(
                "Package.UnsafePath",
                Some(name),
                format!("outside the skill's folder {top:?}"),
            ));
        };
        if *dir {
            continue;
        }
        let entry = archive
            .by_index(*index)
            .map_err(|e| refuse("Package.NotZip", Some(name), e.to_string()))?;
        // Never trust the sizes the headers claim: count what decompresses.
        let mut bytes = Vec::new();
        entry
            .take(limits.max_file_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| refuse("Package.ReadFailed", Some(name), e.to_string()))?;
        let read = bytes.len() as u64;
        if read > limits.max_file_bytes {
            return Err(refuse(
                "Package.FileTooLarge",
                Some(name),
                format!("more than {} bytes", limits.max_file_bytes),
            ));
        }
        total += read;
        if total > limits.max_total_bytes {
            return Err(refuse(
                "Package.TooLarge",
                Some(name),
                format!("unpacks to more than {} bytes", limits.max_total_bytes),
            ));
        }
        files.push(PackageFile {
            path: relative.to_string(),
            size: read,
        });
        if let Some(text) = into_text(bytes) {
            if name == &skill_md {
                front = Some(text.clone());
            }
            texts.push((relative.to_string(), text));
        }
    }
    let text = front.ok_or_else(|| {
        refuse(
            "Package.FrontMatterInvalid",
            Some(&skill_md),
            "SKILL.md is not UTF-8 text",
        )
    })?;
    let folder = top.trim_end_matches('/');
    let meta = front_matter(&text, &skill_md, folder)?;
    let mut declared_env = meta.required_env_vars.clone();
    declared_env.extend(meta.primary_env.clone());
    let context = ScanContext { declared_env };
    let mut report = ScanReport::default();
    for (path, text) in &texts {
        scan_file(path, text, &context, &mut report.findings);
    }
    Ok(Package {
        name: meta.name,
        description: meta.description,
        version: meta.version,
        required_env_vars: meta.required_env_vars,
        requires_api_key: meta.requires_api_key,
        files,
        sha256: hex::encode(hasher.finalize()),
        size,
        scan: report,
    })
}

const EOCD: &[u8] = b"PK\x05\x06";
const CENTRAL: &[u8] = b"PK\x01\x02";

fn le16(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at + 2)?;
    Some(usize::from(u16::from_le_bytes([b[0], b[1]])))
}

fn le32(bytes: &[u8], at: usize) -> Option<u64> {
    let b = bytes.get(at..at + 4)?;
    Some(u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])))
}

/// The entry names of the central directory as stored, duplicates kept; `None` when it cannot
/// be walked here (no end record, zip64), which the zip reader then judges.
fn stored_names<R: Read + Seek>(reader: &mut R, size: u64) -> std::io::Result<Option<Vec<String>>> {
    let tail_len = size.min(22 + 65_535);
    reader.seek(SeekFrom::Start(size - tail_len))?;
    let mut tail = Vec::new();
    reader.by_ref().take(tail_len).read_to_end(&mut tail)?;
    let Some(at) = tail
        .windows(4)
        .rposition(|w| w == EOCD)
        .filter(|at| at + 22 <= tail.len())
    else {
        return Ok(None);
    };
    let (Some(count), Some(cd_size), Some(cd_offset)) = (
        le16(&tail, at + 10),
        le32(&tail, at + 12),
        le32(&tail, at + 16),
    ) else {
        return Ok(None);
    };
    if count == 0xFFFF || cd_size == 0xFFFF_FFFF || cd_offset == 0xFFFF_FFFF {
        return Ok(None);
    }
    let Some(start) = (size - tail_len + at as u64).checked_sub(cd_size) else {
        return Ok(None);
    };
    reader.seek(SeekFrom::Start(start))?;
    let mut central = Vec::new();
    reader.by_ref().take(cd_size).read_to_end(&mut central)?;
    let mut names = Vec::with_capacity(count);
    let mut p = 0;
    while central.get(p..p + 4) == Some(CENTRAL) {
        let (Some(name_len), Some(extra), Some(comment)) = (
            le16(&central, p + 28),
            le16(&central, p + 30),
            le16(&central, p + 32),
        ) else {
            return Ok(None);
        };
        let Some(name) = central.get(p + 46..p + 46 + name_len) else {
            return Ok(None);
        };
        names.push(String::from_utf8_lossy(name).into_owned());
        p += 46 + name_len + extra + comment;
    }
    Ok(Some(names))
}

fn first_duplicate(names: &[String]) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    names.iter().find(|n| !seen.insert(n.as_str())).cloned()
}

struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn is_top_skill_md(name: &str) -> bool {
    name.strip_suffix("/SKILL.md")
        .is_some_and(|folder| !folder.is_empty() && !folder.contains('/'))
}

fn check_path(name: &str, limits: &Limits) -> Result<(), PackageError> {
    let unsafe_path = |why: &str| Err(refuse("Package.UnsafePath", Some(name), why.to_string()));
    if name.is_empty() || name.len() > limits.max_path_len {
        return unsafe_path("empty or too long");
    }
    if name.contains('\\') || name.contains('\0') || name.chars().any(char::is_control) {
        return unsafe_path("backslash or control character");
    }
    if name.starts_with('/') || name.as_bytes().get(1) == Some(&b':') {
        return unsafe_path("absolute path");
    }
    if name
        .trim_end_matches('/')
        .split('/')
        .any(|part| part.is_empty() || part == ".." || part == ".")
    {
        return unsafe_path("`..`, `.` or empty segment");
    }
    Ok(())
}

/// Text: UTF-8 without NUL bytes.
fn into_text(bytes: Vec<u8>) -> Option<String> {
    if bytes.contains(&0) {
        return None;
    }
    String::from_utf8(bytes).ok()
}

struct FrontMatter {
    name: String,
    description: String,
    version: Option<String>,
    required_env_vars: Vec<String>,
    requires_api_key: bool,
    primary_env: Option<String>,
}

fn front_matter(text: &str, file: &str, folder: &str) -> Result<FrontMatter, PackageError> {
    let invalid = |message: String| refuse("Package.FrontMatterInvalid", Some(file), message);
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let body = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            refuse(
                "Package.FrontMatterMissing",
                Some(file),
                "SKILL.md must start with `---`",
            )
        })?;
    let end = body
        .find("\n---")
        .ok_or_else(|| refuse("Package.FrontMatterMissing", Some(file), "no closing `---`"))?;
    let value: Value =
        serde_norway::from_str(&body[..end]).map_err(|e| invalid(format!("YAML: {e}")))?;
    let Value::Mapping(map) = value else {
        return Err(invalid("front matter is not a mapping".into()));
    };
    let get = |key: &str| map.get(Value::String(key.into()));
    let name = match get("name") {
        Some(Value::String(name)) => name.clone(),
        _ => String::new(),
    };
    if !valid_name(&name) {
        return Err(refuse(
            "Package.NameInvalid",
            Some(file),
            "name must be 1-64 of a-z, 0-9 and single hyphens, not at either end",
        ));
    }
    if !folder.is_empty() && folder != name {
        return Err(refuse(
            "Package.NameInvalid",
            Some(file),
            format!("name {name:?} does not match its folder {folder:?}"),
        ));
    }
    let description = match get("description") {
        Some(Value::String(d)) if !d.trim().is_empty() && d.chars().count() <= 1024 => d.clone(),
        _ => {
            return Err(refuse(
                "Package.DescriptionInvalid",
                Some(file),
                "description must be 1 to 1024 characters",
            ));
        }
    };
    let metadata = match get("metadata") {
        // OpenClaw also takes metadata as one line of JSON.
        Some(Value::String(json)) => serde_json::from_str::<serde_json::Value>(json)
            .ok()
            .and_then(|j| serde_norway::to_value(j).ok()),
        other => other.cloned(),
    };
    let version_value = get("version")
        .cloned()
        .or_else(|| metadata.as_ref().and_then(|m| m.get("version")).cloned());
    let version = match version_value {
        None => None,
        Some(Value::String(v)) => Some(v),
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(_) => {
            return Err(refuse(
                "Package.VersionInvalid",
                Some(file),
                "version must be a string or a number",
            ));
        }
    };
    let openclaw = metadata.as_ref().and_then(|m| m.get("openclaw"));
    let required_env_vars = openclaw
        .and_then(|o| o.get("requires"))
        .and_then(|r| r.get("env"))
        .and_then(Value::as_sequence)
        .map(|seq| {
            seq.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let primary = openclaw.and_then(|o| o.get("primaryEnv"));
    let requires_api_key = primary.is_some();
    let primary_env = primary.and_then(Value::as_str).map(str::to_string);
    Ok(FrontMatter {
        name,
        description,
        version,
        required_env_vars,
        requires_api_key,
        primary_env,
    })
}

/// The Agent Skills name rule: 1-64 of `[a-z0-9-]`, no hyphen at either end or twice in a row.
pub fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}
