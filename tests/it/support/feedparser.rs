//! Python's feedparser as an independent reader of our Atom and RSS output (its released
//! versions, up to 6.0, do not read JSON Feed): `check_files` runs it on
//! rendered feeds and returns what it saw. feedparser is installed by `.ci/run`; without it the
//! caller's test is skipped with the reason, or fails under `TIDINGS_REQUIRE_SHARED=1` (CI).

use std::path::Path;
use std::process::Command;

/// What feedparser made of one document.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // Read by some tests and printed by all when they fail.
pub struct Seen {
    pub bozo: bool,
    pub bozo_exception: Option<String>,
    pub version: String,
    pub entries: Vec<SeenEntry>,
    pub links: Vec<(String, String)>,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)] // Read by some tests and printed by all when they fail.
pub struct SeenEntry {
    pub id: Option<String>,
    pub title: Option<String>,
    pub link: Option<String>,
}

const SCRIPT: &str = r#"
import json, sys, feedparser
out = {}
for target in sys.argv[1:]:
    parsed = feedparser.parse(target)
    out[target] = {
        "bozo": bool(parsed.bozo),
        "bozo_exception": repr(parsed.get("bozo_exception")) if parsed.bozo else None,
        "version": parsed.version or "",
        "entries": [{"id": e.get("id"), "title": e.get("title"), "link": e.get("link")} for e in parsed.entries],
        "links": [[l.get("rel", ""), l.get("href", "")] for l in parsed.feed.get("links", [])],
    }
json.dump(out, sys.stdout)
"#;

/// Whether feedparser can run here; when not, says why and whether that is a failure.
pub fn available() -> bool {
    tool_available(
        "python3 with feedparser",
        "pip install feedparser",
        "python3",
        &["-c", "import feedparser"],
    )
}

/// Whether `program arguments` runs and exits 0. When it does not, a test that needs it fails
/// under `TIDINGS_REQUIRE_SHARED=1` (as in `.ci/run`, which installs these tools) and is
/// skipped otherwise, saying why and how to install `what`.
pub fn tool_available(what: &str, install: &str, program: &str, arguments: &[&str]) -> bool {
    let ok = Command::new(program)
        .args(arguments)
        .output()
        .is_ok_and(|output| output.status.success());
    if ok {
        return true;
    }
    if std::env::var("TIDINGS_REQUIRE_SHARED").is_ok_and(|value| value == "1") {
        panic!("{what} is required ({install}; .ci/run does it)");
    }
    eprintln!(
        "skipped: {what} is not installed ({install}); set TIDINGS_REQUIRE_SHARED=1 to make \
         this a failure"
    );
    false
}

/// Runs feedparser on every file or URL in `targets`.
pub fn check(targets: &[String]) -> std::collections::HashMap<String, Seen> {
    let mut seen = std::collections::HashMap::new();
    // In chunks, to keep command lines short.
    for chunk in targets.chunks(200) {
        let output = Command::new("python3")
            .arg("-c")
            .arg(SCRIPT)
            .args(chunk)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "feedparser failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let part: std::collections::HashMap<String, Seen> =
            serde_json::from_slice(&output.stdout).unwrap();
        seen.extend(part);
    }
    seen
}

/// Runs feedparser on files.
pub fn check_files(files: &[&Path]) -> std::collections::HashMap<String, Seen> {
    let targets: Vec<String> = files
        .iter()
        .map(|file| file.display().to_string())
        .collect();
    check(&targets)
}
