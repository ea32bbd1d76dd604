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

/// Lines a generated package is made of: prose, shell and Python as skills hold them.
const LINES: &[&str] = &[
    "Use this skill when the user asks for a summary of the files in the project.",
    "1. Run `git status --short` and list the changed files grouped by folder.",
    "curl -fsS --max-time 10 \"https://api.example.com/v1/items?page=${PAGE:-1}\" | jq .",
    "import json, os, sys",
    "tz = os.environ.get(\"TZ\", \"UTC\")",
    "for row in rows: print(row[\"name\"], row[\"status\"])",
    "Never run destructive commands; suggest them to the user instead.",
    "| column | meaning | default |",
    "def parse(path):\n    with open(path, encoding=\"utf-8\") as f:\n        return json.load(f)",
    "kubectl get pods -n \"${NAMESPACE:-default}\" -o wide",
    "<!-- TODO: add an example with nested tables -->",
    "Keep each bullet under 120 characters and quote page numbers.",
    "const res = await fetch(url, { method: \"GET\" });",
    "rm -rf ./build ./dist",
    "## Troubleshooting",
];

/// A zip of `files` text files of about `file_bytes` each, plus a SKILL.md; deterministic.
fn generated_package(files: usize, file_bytes: usize) -> anyhow::Result<(Vec<u8>, u64)> {
    use zip::write::SimpleFileOptions;
    let options = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o644);
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let skill = "---\nname: big-skill\ndescription: A large generated skill for timing the package reader.\n---\n# Big skill\n\nSee `references/`.\n";
    writer.start_file("big-skill/SKILL.md", options)?;
    writer.write_all(skill.as_bytes())?;
    let mut total = skill.len() as u64;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut text = String::with_capacity(file_bytes + 256);
    for index in 0..files {
        text.clear();
        while text.len() < file_bytes {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let line = LINES[(state >> 33) as usize % LINES.len()];
            text.push_str(line);
            // A number makes lines differ, as real files do.
            text.push_str(&format!(" {}\n", (state >> 40) % 10_000));
        }
        let folder = ["references", "scripts", "assets", "docs"][index % 4];
        writer.start_file(format!("big-skill/{folder}/f{index:05}.txt"), options)?;
        writer.write_all(text.as_bytes())?;
        total += text.len() as u64;
    }
    Ok((writer.finish()?.into_inner(), total))
}

/// Times `skills::inspect` (every rule, every file scanned) on one large generated package.
pub fn parse_bench(files: usize, file_bytes: usize, iterations: usize) -> anyhow::Result<()> {
    let (zip, uncompressed) = generated_package(files, file_bytes)?;
    let limits = skills::Limits {
        max_files: files + 16,
        ..skills::Limits::default()
    };
    skills::scan::scan_text("warm-up", "", &mut Vec::new());
    let mut times = Vec::with_capacity(iterations);
    let mut findings = 0;
    let mut checked_files = 0;
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let package = skills::inspect(Cursor::new(&zip), &limits)
            .map_err(|e| anyhow::anyhow!("the generated package was refused: {e}"))?;
        times.push(started.elapsed().as_secs_f64());
        findings = package.scan.findings.len();
        checked_files = package.files.len();
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let median = times[times.len() / 2];
    let mb_s = uncompressed as f64 / 1e6 / mean;
    let files_s = checked_files as f64 / mean;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    writeln!(
        out,
        "skill-parse files={checked_files} uncompressed_bytes={uncompressed} zip_bytes={} iterations={} \
         median_ms={:.1} mean_ms={:.1} MB/s={mb_s:.1} files/s={files_s:.0} findings={findings}",
        zip.len(),
        times.len(),
        median * 1000.0,
        mean * 1000.0,
    )?;
    let line = json!({
        "files": checked_files,
        "uncompressed_bytes": uncompressed,
        "zip_bytes": zip.len(),
        "iterations": times.len(),
        "median_ms": median * 1000.0,
        "mean_ms": mean * 1000.0,
        "mb_per_s": mb_s,
        "files_per_s": files_s,
        "findings": findings,
    });
    writeln!(out, "{line}")?;
    Ok(())
}
