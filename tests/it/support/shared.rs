//! Finding `../shared` (corpus, fixtures) beside the repository. With
//! `TIDINGS_REQUIRE_SHARED=1` (as `.ci/run` sets) a missing file fails the test naming the
//! path; without it the test says it was skipped and why.

use std::path::PathBuf;

/// The path of `relative` inside `../shared`, or `None` (after saying so) when it is absent
/// and not required.
pub fn shared_file(relative: &str) -> Option<PathBuf> {
    // TIDINGS_SHARED_DIR points elsewhere, for a clone that does not sit beside ../shared.
    let base = std::env::var_os("TIDINGS_SHARED_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("shared")
        },
        PathBuf::from,
    );
    let path = base.join(relative);
    if path.exists() {
        return Some(path);
    }
    if std::env::var("TIDINGS_REQUIRE_SHARED").is_ok_and(|value| value == "1") {
        panic!(
            "missing {}: TIDINGS_REQUIRE_SHARED=1 requires ../shared beside the repository",
            path.display()
        );
    }
    eprintln!(
        "skipped: {} is not there (../shared is not beside this clone); set \
         TIDINGS_REQUIRE_SHARED=1 to make this a failure",
        path.display()
    );
    None
}
