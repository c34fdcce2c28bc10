//! Editing `feeds.toml` for `tidings add`: one `[[feeds]]` entry appended at the end, the rest
//! of the file (comments, order, layout) left byte for byte as it was. The entry is rendered by
//! `toml_edit`, so its strings are escaped as TOML wants; the result is checked like any config
//! before it replaces the file, atomically (a new file renamed over the old one, through a
//! symlink to where the file really is).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use url::Url;

use super::{Config, ConfigError, duplicate_key, parse};

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("{path}: cannot read the config: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: cannot write the config: {source}")]
    Write {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The config does not check as it is: fix it first.
    #[error("{0}; fix feeds.toml first")]
    Invalid(#[from] ConfigError),
    #[error("{url} is already in {path}")]
    AlreadyThere { url: String, path: String },
}

/// The `[[feeds]]` entry for `url`, as TOML text.
fn entry(url: &Url, name: Option<&str>) -> String {
    let mut table = toml_edit::Table::new();
    table["url"] = toml_edit::value(url.as_str());
    if let Some(name) = name {
        table["name"] = toml_edit::value(name);
    }
    let mut feeds = toml_edit::ArrayOfTables::new();
    feeds.push(table);
    let mut document = toml_edit::DocumentMut::new();
    document["feeds"] = toml_edit::Item::ArrayOfTables(feeds);
    document.to_string()
}

/// `text` with a `[[feeds]]` entry for `url` appended, checked. `name` is left out when
/// another feed already has it (the feed's own title then names it).
pub fn with_feed(
    path: &Path,
    text: &str,
    url: &Url,
    name: Option<&str>,
) -> Result<(String, Config), EditError> {
    let config = parse(path, text)?;
    let key = duplicate_key(url);
    if config
        .feeds
        .iter()
        .any(|feed| duplicate_key(&feed.url) == key)
    {
        return Err(EditError::AlreadyThere {
            url: url.to_string(),
            path: path.display().to_string(),
        });
    }
    let name = name.map(str::trim).filter(|name| {
        !name.is_empty()
            && !config.feeds.iter().any(|feed| {
                feed.name
                    .as_deref()
                    .is_some_and(|taken| taken.trim().to_lowercase() == name.to_lowercase())
            })
    });
    let mut edited = text.to_string();
    if !edited.is_empty() && !edited.ends_with('\n') {
        edited.push('\n');
    }
    edited.push('\n');
    edited.push_str(&entry(url, name));
    let checked = parse(path, &edited)?;
    Ok((edited, checked))
}

/// Appends a `[[feeds]]` entry for `url` to the config at `path` and returns the new config.
pub fn append_feed(path: &Path, url: &Url, name: Option<&str>) -> Result<Config, EditError> {
    let text = std::fs::read_to_string(path).map_err(|source| EditError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let (edited, config) = with_feed(path, &text, url, name)?;
    // Write where the file really is, so a symlinked config stays a symlink.
    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    replace(&target, &edited).map_err(|source| EditError::Write {
        path: target.display().to_string(),
        source,
    })?;
    Ok(config)
}

/// Writes `text` to a new file beside `target`, with `target`'s permissions, and renames it
/// over `target`: a reader (the daemon) sees the old file or the new one, never half of one.
fn replace(target: &Path, text: &str) -> std::io::Result<()> {
    let directory = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "feeds.toml".to_string());
    let temporary = directory.join(format!(".{name}.tidings-add"));
    let mut file = std::fs::File::create(&temporary)?;
    let written = file
        .write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .and_then(|()| match std::fs::metadata(target) {
            Ok(metadata) => std::fs::set_permissions(&temporary, metadata.permissions()),
            Err(_) => Ok(()),
        })
        .and_then(|()| std::fs::rename(&temporary, target));
    if written.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONFIG: &str = "# My feeds, hand-kept.\n[settings]\ninterval = \"30m\"  # be polite\n\n\
        [[feeds]]\nurl = \"https://a.example/feed\"   # the first\nname = \"A\"\n\n\
        [[topics]]\nname = \"korea\"\nany = [\"korea\"]\n# trailing comment";

    #[test]
    fn the_entry_is_appended_and_everything_else_kept() {
        let url = Url::parse("https://b.example/rss?x=1").unwrap();
        let (edited, config) =
            with_feed(Path::new("feeds.toml"), CONFIG, &url, Some("B \"quoted\"")).unwrap();
        assert!(edited.starts_with(CONFIG), "{edited}");
        assert!(
            edited.ends_with(
                "\n\n[[feeds]]\nurl = \"https://b.example/rss?x=1\"\nname = 'B \"quoted\"'\n"
            ),
            "{edited}"
        );
        assert_eq!(config.feeds.len(), 2);
        assert_eq!(config.feeds[1].name.as_deref(), Some("B \"quoted\""));
        assert_eq!(config.topics.len(), 1);
    }

    #[test]
    fn duplicates_and_broken_configs_are_refused_and_taken_names_left_out() {
        let path = Path::new("feeds.toml");
        let same = Url::parse("https://a.example/feed/").unwrap();
        assert!(matches!(
            with_feed(path, CONFIG, &same, None),
            Err(EditError::AlreadyThere { .. })
        ));
        let other = Url::parse("https://c.example/").unwrap();
        let (_, config) = with_feed(path, CONFIG, &other, Some("a")).unwrap();
        assert_eq!(config.feeds[1].name, None);
        let broken = "[[feeds]]\nurl = 3\n";
        assert!(matches!(
            with_feed(path, broken, &other, None),
            Err(EditError::Invalid(_))
        ));
    }

    #[test]
    fn the_file_is_replaced_through_a_symlink() {
        let directory = tempfile::tempdir().unwrap();
        let real = directory.path().join("real.toml");
        std::fs::write(&real, CONFIG).unwrap();
        let link = directory.path().join("feeds.toml");
        #[cfg(unix)]
        std::os::unix::fs::symlink(&real, &link).unwrap();
        #[cfg(not(unix))]
        std::fs::copy(&real, &link).unwrap();
        let url = Url::parse("https://d.example/atom").unwrap();
        append_feed(&link, &url, Some("D")).unwrap();
        let text = std::fs::read_to_string(&link).unwrap();
        assert!(text.contains("https://d.example/atom"));
        #[cfg(unix)]
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
    }
}
