//! Mutation fuzzing of the package check at scale: a valid package with bytes overwritten,
//! inserted or cut off anywhere (central directory, local headers, compressed data, front
//! matter) is answered with a package or a refusal, never a panic, and what it accepts still
//! holds to the rules. `AMC_FUZZ_CASES` sets the number of cases (256 by default, what CI
//! runs; `AMC_FUZZ_CASES=200000 cargo test --release -p skills --test fuzz` for a long run).
//! A case that ever fails is kept by proptest in `tests/fuzz.proptest-regressions` and runs
//! first from then on.

use std::io::{Cursor, Write};

use proptest::prelude::*;
use skills::{Limits, inspect, valid_name};
use zip::write::SimpleFileOptions;

fn seed() -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let files: [(&str, &[u8], SimpleFileOptions); 4] = [
        (
            "weather/SKILL.md",
            b"---\nname: weather\ndescription: Tells the weather.\nmetadata:\n  openclaw: {primaryEnv: WTTR_KEY}\n---\n# Weather\n",
            deflated,
        ),
        ("weather/scripts/get.sh", b"#!/bin/sh\ncurl -s \"wttr.in/$1\"\n", deflated),
        ("weather/references/notes.md", &[b'n'; 600], deflated),
        ("weather/icon.txt", b"stored, not deflated", stored),
    ];
    for (name, bytes, options) in files {
        if writer.start_file(name, options).is_err() || writer.write_all(bytes).is_err() {
            return Vec::new();
        }
    }
    writer.finish().map(Cursor::into_inner).unwrap_or_default()
}

#[derive(Debug, Clone)]
enum Mutation {
    Overwrite(usize, u8),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, b)| Mutation::Overwrite(at, b)),
        1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(at, b)| Mutation::Insert(at, b)),
        1 => (any::<usize>(), 1usize..32).prop_map(|(at, n)| Mutation::Remove(at, n)),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    if bytes.is_empty() {
        return;
    }
    match m {
        Mutation::Overwrite(at, b) => {
            let at = at % bytes.len();
            bytes[at] = *b;
        }
        Mutation::Insert(at, more) => {
            let at = at % (bytes.len() + 1);
            bytes.splice(at..at, more.iter().copied());
        }
        Mutation::Remove(at, n) => {
            let at = at % bytes.len();
            let end = (at + n).min(bytes.len());
            bytes.drain(at..end);
        }
        Mutation::Truncate(at) => bytes.truncate(at % bytes.len()),
    }
}

fn cases() -> u32 {
    std::env::var("AMC_FUZZ_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(256)
}

#[test]
fn the_seed_is_a_valid_package() {
    let package = inspect(Cursor::new(seed()), &Limits::default());
    assert_eq!(package.map(|p| p.files.len()).ok(), Some(4));
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn a_mutated_package_is_accepted_whole_or_refused(mutations in proptest::collection::vec(mutation(), 1..6)) {
        let mut bytes = seed();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        let limits = Limits::default();
        if let Ok(package) = inspect(Cursor::new(&bytes), &limits) {
            prop_assert!(valid_name(&package.name));
            prop_assert!(package.files.len() <= limits.max_files);
            let total: u64 = package.files.iter().map(|f| f.size).sum();
            prop_assert!(total <= limits.max_total_bytes);
            for file in &package.files {
                prop_assert!(!file.path.split('/').any(|part| part == ".." || part.is_empty()), "{}", file.path);
                prop_assert!(!file.path.starts_with('/'));
            }
        }
    }
}
