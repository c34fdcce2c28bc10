//! Watching `feeds.toml` for edits: a `notify` watcher on the file's directory (not on the
//! file itself, so an editor that saves by writing a new file and renaming it over the old one
//! is seen too), debounced, so one save is one reload however many events it makes.
//!
//! Owns nothing but the watch: it reports that the file may have changed; reading and checking
//! it is `config::load`, applying it is the daemon's.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use notify::event::{AccessKind, AccessMode};
use notify::{EventKind, RecommendedWatcher, RecursiveMode, Watcher as _};
use tokio::sync::mpsc;
use tracing::{debug, warn};

/// How long the file must stay quiet after an event before it is read: an editor's save is a
/// burst of events (truncate, write, rename, attribute change).
pub const DEBOUNCE: Duration = Duration::from_millis(250);

/// Why the daemon should read `feeds.toml` again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReloadTrigger {
    /// The file (or its directory entry) changed.
    FileChanged,
    /// `SIGHUP`.
    Signal,
}

#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    #[error("cannot watch {path}: {source}")]
    Watch {
        path: String,
        #[source]
        source: notify::Error,
    },
}

/// A running watch; dropping it stops watching.
pub struct ConfigWatcher {
    _watcher: RecommendedWatcher,
}

impl std::fmt::Debug for ConfigWatcher {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("ConfigWatcher")
    }
}

/// The directory to watch and the file name to look for in its events.
fn watch_target(path: &Path) -> (PathBuf, Option<OsString>) {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    (directory, path.file_name().map(OsString::from))
}

/// Whether an event may mean the file's content changed. Reads (ours included) do not.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        EventKind::Access(_) => false,
        EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => true,
        EventKind::Any | EventKind::Other => false,
    }
}

/// Watches `path` and sends `ReloadTrigger::FileChanged` on `reloads` once the file has been
/// quiet for `DEBOUNCE` after a change. Must be called inside a tokio runtime.
pub fn watch(
    path: &Path,
    reloads: mpsc::Sender<ReloadTrigger>,
) -> Result<ConfigWatcher, WatchError> {
    let (directory, file_name) = watch_target(path);
    let (events, mut event_receiver) = mpsc::unbounded_channel::<()>();
    let mut watcher =
        notify::recommended_watcher(move |event: notify::Result<notify::Event>| match event {
            Ok(event) => {
                let ours = event
                    .paths
                    .iter()
                    .any(|changed| changed.file_name() == file_name.as_deref());
                if ours && is_change(&event.kind) {
                    let _ = events.send(());
                }
            }
            Err(error) => warn!(error = %error, "watching feeds.toml failed"),
        })
        .map_err(|source| WatchError::Watch {
            path: directory.display().to_string(),
            source,
        })?;
    watcher
        .watch(&directory, RecursiveMode::NonRecursive)
        .map_err(|source| WatchError::Watch {
            path: directory.display().to_string(),
            source,
        })?;
    tokio::spawn(async move {
        while event_receiver.recv().await.is_some() {
            // Wait until the burst of events of one save is over.
            loop {
                match tokio::time::timeout(DEBOUNCE, event_receiver.recv()).await {
                    Ok(Some(())) => {}
                    Ok(None) => return,
                    Err(_) => break,
                }
            }
            debug!("feeds.toml changed on disk");
            if reloads.send(ReloadTrigger::FileChanged).await.is_err() {
                return;
            }
        }
    });
    Ok(ConfigWatcher { _watcher: watcher })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_file_name_is_watched_in_the_current_directory() {
        let (directory, name) = watch_target(Path::new("feeds.toml"));
        assert_eq!(directory, PathBuf::from("."));
        assert_eq!(name.as_deref(), Some(std::ffi::OsStr::new("feeds.toml")));
        let (directory, _) = watch_target(Path::new("/etc/tidings/feeds.toml"));
        assert_eq!(directory, PathBuf::from("/etc/tidings"));
    }

    /// An editor's save by rename: a new file written beside the old one, then renamed over
    /// it. The watch on the directory sees it, and the burst is one trigger.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_save_by_rename_is_one_trigger() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join("feeds.toml");
        std::fs::write(&path, "a").unwrap();
        let (sender, mut receiver) = mpsc::channel(8);
        let _watcher = watch(&path, sender).unwrap();
        let temporary = directory.path().join(".feeds.toml.swp");
        std::fs::write(&temporary, "b").unwrap();
        std::fs::rename(&temporary, &path).unwrap();
        let trigger = tokio::time::timeout(Duration::from_secs(10), receiver.recv())
            .await
            .unwrap();
        assert_eq!(trigger, Some(ReloadTrigger::FileChanged));
        // Another file in the same directory is not a change of the config.
        std::fs::write(directory.path().join("other.txt"), "c").unwrap();
        let quiet = tokio::time::timeout(DEBOUNCE * 4, receiver.recv()).await;
        assert!(
            quiet.is_err(),
            "a change of another file triggered a reload"
        );
    }
}
