//! The runtime layer is closed: nothing under `src/runtime` names a module
//! above it (see `docs/architecture.md`, "Layers point down only"). A `use` that breaks
//! this is a design bug, caught here rather than in review.

use std::fs;
use std::path::Path;

/// Modules above `runtime/`, which it must never import.
const ABOVE: &[&str] = &[
    "green", "blocking", "local", "scope", "sync", "net", "pool", "time", "group", "http", "tls", "ws", "jobs", "hook",
    "debug", "io", "process", "signal", "fs", "futures",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in fs::read_dir(dir).expect("read src/runtime") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn runtime_imports_nothing_above_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/runtime");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(
        files.len() > 10,
        "found only {} files under {}",
        files.len(),
        root.display()
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = fs::read_to_string(file).expect("read source");
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            for module in ABOVE {
                let needle = format!("crate::{module}");
                let hit = code.match_indices(&needle).any(|(i, _)| {
                    let next = code[i + needle.len()..].chars().next();
                    !next.is_some_and(|c| c.is_alphanumeric() || c == '_')
                });
                if hit {
                    offences.push(format!("{}:{}: {}", file.display(), n + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        offences.is_empty(),
        "src/runtime imports a layer above it:\n{}",
        offences.join("\n")
    );
}
