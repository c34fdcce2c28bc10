//! House rules that keep the code readable: every source file opens with a `//!` comment that
//! says what it owns, and ARCHITECTURE.md names every top-level module.

use std::path::{Path, PathBuf};

fn rust_files(directory: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(directory).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            found.push(path);
        }
    }
}

#[test]
fn every_source_file_opens_with_a_module_comment() {
    let mut files = Vec::new();
    rust_files(
        Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src")),
        &mut files,
    );
    let missing: Vec<String> = files
        .iter()
        // `tests.rs` files are the unit tests of the module beside them.
        .filter(|path| path.file_name().is_some_and(|name| name != "tests.rs"))
        .filter(|path| !std::fs::read_to_string(path).unwrap().starts_with("//!"))
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        missing.is_empty(),
        "files without a //! comment: {missing:#?}"
    );
}

#[test]
fn architecture_names_every_module() {
    let source = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/src"));
    let map =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/ARCHITECTURE.md")).unwrap();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_stem().unwrap().to_string_lossy().into_owned();
        if name == "lib" {
            continue;
        }
        if !map.contains(&format!("**`{name}`**")) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "ARCHITECTURE.md has no paragraph for: {missing:?}"
    );
}
