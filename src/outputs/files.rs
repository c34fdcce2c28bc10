//! `data/public/{topic}.{atom,rss,json}`: the first page of every feed as a file for a static
//! web server, replaced atomically (a temporary file in the same directory, synced, then
//! renamed over the old one) and only when its content changed.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::{Outputs, OutputsError};
use crate::publish::{DEFAULT_LIMIT, Format, feed_url};

/// The folder of the data directory that holds the files.
pub const PUBLIC_DIR: &str = "public";

/// Writes every feed in every format; returns the addresses of those whose content changed.
pub(super) fn write_all(outputs: &Outputs, directory: &Path) -> Result<Vec<String>, OutputsError> {
    create_directory(directory)?;
    let mut changed = Vec::new();
    for (slug, _) in outputs.feeds() {
        changed.extend(write_feed(outputs, directory, &slug)?);
    }
    Ok(changed)
}

/// Creates the folder of the files (and its parents) when it is missing.
pub(super) fn create_directory(directory: &Path) -> Result<(), OutputsError> {
    std::fs::create_dir_all(directory).map_err(|source| OutputsError::Write {
        path: directory.to_path_buf(),
        source,
    })
}

/// Writes one feed in every format (its entries read once for all of them) into `directory`,
/// which exists; returns the addresses of the formats whose content changed.
pub(super) fn write_feed(
    outputs: &Outputs,
    directory: &Path,
    slug: &str,
) -> Result<Vec<String>, OutputsError> {
    let mut changed = Vec::new();
    let Some(pages) = outputs.pages(slug, &Format::ALL, DEFAULT_LIMIT, None)? else {
        return Ok(changed);
    };
    for (format, page) in Format::ALL.into_iter().zip(pages) {
        let path = directory.join(format!("{slug}.{}", format.extension()));
        if std::fs::read(&path).is_ok_and(|old| old == page.rendered.body) {
            continue;
        }
        replace(&path, &page.rendered.body, page.last_modified.into())?;
        changed.push(feed_url(outputs.public_url(), slug, format));
    }
    Ok(changed)
}

/// Replaces `path` with `body` so that a reader sees the old file or the new one, never part.
/// The file's modification time is `modified`, the page's `Last-Modified`, so that a static
/// server in front of the folder tells clients the same time as tidings does.
fn replace(path: &Path, body: &[u8], modified: SystemTime) -> Result<(), OutputsError> {
    let failed = |path: PathBuf| move |source| OutputsError::Write { path, source };
    let file_name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(body)?;
        file.set_modified(modified)?;
        file.sync_all()
    });
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(temporary)(error));
    }
    std::fs::rename(&temporary, path).map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        failed(path.to_path_buf())(error)
    })
}
