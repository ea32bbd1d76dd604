//! The skill scanner over a folder of packages (`skill-scan`), one JSON line per zip, and the
//! package reader's throughput on a large generated package (`skill-parse`).

use std::io::{Cursor, Write};
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;

/// Checks and scans each `*.zip` in `dir` (sorted by name) as the server does, printing
/// `{"package","ok","error","risk","score","findings","micros"}` per package.
pub fn scan_dir(dir: &Path) -> anyhow::Result<()> {
    let mut zips: Vec<_> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "zip") && path.is_file())
        .collect();
    zips.sort();
    let limits = skills::Limits::default();
    // The rules are compiled once per process, as in the server: not counted in any package.
    skills::scan::scan_text("warm-up", "", &mut Vec::new());
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for path in zips {
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let started = Instant::now();
        let checked = skills::inspect(Cursor::new(&bytes), &limits);
        let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let package = path
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let line = match checked {
            Ok(checked) => {
                let findings: Vec<_> = checked
                    .scan
                    .findings
                    .iter()
                    .map(|f| {
                        json!({"rule": f.rule, "severity": f.severity, "file": f.file, "line": f.line})
                    })
                    .collect();
                json!({
                    "package": package,
                    "ok": true,
                    "error": null,
                    "risk": checked.scan.risk(),
                    "score": checked.scan.score(),
                    "findings": findings,
                    "micros": micros,
                })
            }
            Err(error) => json!({
                "package": package,
                "ok": false,
                "error": {"code": error.code, "file": error.file, "message": error.message},
                "risk": null,
                "score": null,
                "findings": [],
                "micros": micros,
            }),
        };
        writeln!(out, "{line}")?;
    }
    Ok(())
}
