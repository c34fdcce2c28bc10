//! The store: the only door to SQLite. `Store` is a cheap handle with a typed API; every
//! statement of the project lives under this module.
//!
//! Owns the schema, migrations and transactions. It exposes no rusqlite type. Its methods are
//! blocking; async callers run them on `tokio::task::spawn_blocking`, so no lock is ever held
//! across an `.await`.
//!
//! Durability: WAL journal with `synchronous=FULL`, so a committed poll survives a kill -9 and
//! a power cut. Polls that finish together are committed together (`batch.rs`), so the sync
//! per commit stays cheap even when thousands of feeds are polled at once.

mod batch;
mod feeds;
mod health;
mod items;
mod migrations;
mod rawskip;
mod retention;
mod stories;
mod story_index;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use rusqlite::Connection;
use tokio::sync::watch;

pub use batch::BatchWriter;
pub use feeds::{FeedRow, FetchState, FetchedItems, PollRecord};
pub use health::FeedHealth;
pub use items::{FoundItem, Grouping, PollSummary, StoredText};
pub use migrations::SCHEMA_VERSION;
pub use rawskip::{KnownRaw, RawItem, RawItems};
pub use retention::Pruned;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "the database has schema version {found}, newer than this build supports ({supported}); \
         upgrade tidings"
    )]
    TooNew { found: i64, supported: i64 },
    #[error(
        "upgrading the database left rows of table {0} referring to rows that do not exist; \
         the upgrade was rolled back"
    )]
    BrokenReference(String),
    #[error("a store task did not finish: {0}")]
    Task(String),
    #[error("writing stopped on a bug in tidings (please report it): {0}")]
    Panicked(String),
}

/// A handle to the database. Clones share the same connections.
#[derive(Clone)]
pub struct Store {
    /// All writes go through one connection, so they are serialized without `SQLITE_BUSY`.
    writer: Arc<Mutex<Connection>>,
    /// Reads for serving use their own connection, so WAL lets them run during a write.
    reader: Arc<Mutex<Connection>>,
    /// Counts committed writes that may change an output feed (items, matches, feeds), so
    /// rendered feeds are rebuilt when the store changed and not for every request.
    changes: Arc<watch::Sender<u64>>,
    /// What the writer keeps between placements (`stories::Placing`: the boilerplate memo and
    /// the band index in memory); locked only while the writer connection is.
    placing: Arc<Mutex<stories::Placing>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Store")
    }
}

impl Store {
    /// Opens (creating if needed) `data_dir/tidings.db` and brings its schema up to date.
    pub fn open(data_dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(data_dir).map_err(|source| StoreError::DataDir {
            path: data_dir.to_path_buf(),
            source,
        })?;
        let path = data_dir.join("tidings.db");
        let mut writer = Connection::open(&path)?;
        set_page_size(&writer)?;
        retention::enable_incremental_vacuum(&writer)?;
        configure(&writer)?;
        plan_without_peeking(&writer)?;
        migrations::migrate(&mut writer)?;
        let reader = Connection::open(&path)?;
        configure(&reader)?;
        // The reader's pages are those of the output queries and the lookups of a poll, not the
        // writer's random band pages: SQLite's default 2 MiB serves them (the operating system
        // caches the file too). At 8 MiB, the public files written after a cold `tidings poll`
        // of 1,000 feeds filled 6 MiB of it, at the process's peak of memory.
        reader.pragma_update(None, "cache_size", -READER_CACHE_KIB)?;
        Ok(Store {
            writer: Arc::new(Mutex::new(writer)),
            reader: Arc::new(Mutex::new(reader)),
            changes: Arc::new(watch::Sender::new(0)),
            placing: Arc::default(),
        })
    }

    /// A private in-memory database, for tests. Reads and writes share one connection.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        let mut connection = Connection::open_in_memory()?;
        configure(&connection)?;
        plan_without_peeking(&connection)?;
        migrations::migrate(&mut connection)?;
        let shared = Arc::new(Mutex::new(connection));
        Ok(Store {
            writer: Arc::clone(&shared),
            reader: shared,
            changes: Arc::new(watch::Sender::new(0)),
            placing: Arc::default(),
        })
    }

    // A panic while a lock was held (a bug of ours, caught by the writer thread so that it
    // fails one batch, not every later one) leaves the lock poisoned. What it guarded is made
    // sound again and the lock used on: a connection gets any transaction it was left in
    // rolled back (unwinding has dropped the transaction, which rolls it back, so this is a
    // second guard), and the writer's memo of placing is dropped, to be rebuilt from the
    // database.

    fn writer(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        recover(&self.writer, roll_back)
    }

    fn placing(&self) -> Result<MutexGuard<'_, stories::Placing>, StoreError> {
        recover(&self.placing, |placing| {
            placing.forget();
            Ok(())
        })
    }

    fn reader(&self) -> Result<MutexGuard<'_, Connection>, StoreError> {
        recover(&self.reader, roll_back)
    }

    /// How many writes that may change an output feed were committed through this handle
    /// (and its clones) since it was opened.
    pub fn generation(&self) -> u64 {
        *self.changes.borrow()
    }

    /// Wakes when `generation` moves on.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Records that a write which may change an output feed was committed.
    fn changed(&self) {
        self.changes.send_modify(|generation| *generation += 1);
    }

    /// Whether the database answers a trivial query (for `/healthz`).
    pub fn ping(&self) -> Result<(), StoreError> {
        let connection = self.reader()?;
        connection.query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }

    /// Caps the database at `pages` pages (SQLite's `max_page_count`) for this handle's
    /// writes, and returns the cap in force: a write that needs more fails as on a full disk.
    /// For tests that simulate one; the page size is `page_size()`.
    pub fn set_max_pages(&self, pages: u64) -> Result<u64, StoreError> {
        let connection = self.writer()?;
        let pages = i64::try_from(pages).unwrap_or(i64::MAX);
        Ok(connection
            .query_row(&format!("PRAGMA max_page_count = {pages}"), [], |row| {
                row.get::<_, i64>(0)
            })
            .map(|count| u64::try_from(count).unwrap_or(0))?)
    }

    /// How many pages the database file has now.
    pub fn page_count(&self) -> Result<u64, StoreError> {
        let connection = self.writer()?;
        let count: i64 = connection.query_row("PRAGMA page_count", [], |row| row.get(0))?;
        Ok(u64::try_from(count).unwrap_or(0))
    }

    /// Writes the story band rows the writer holds back (`stories::Placing`): after a poll of
    /// many feeds, so that the next process finds them written. Rows still held when a process
    /// ends are made again from the stored story texts by the next writer. Nothing is written
    /// when nothing is held.
    pub fn write_held_band_rows(&self) -> Result<(), StoreError> {
        let mut connection = self.writer()?;
        let mut placing = self.placing()?;
        if !placing.holds_band_rows() {
            return Ok(());
        }
        let transaction =
            connection.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        if let Err(error) = placing
            .write_held(&transaction)
            .and_then(|()| Ok(transaction.commit()?))
        {
            placing.forget();
            return Err(error);
        }
        Ok(())
    }

    /// Moves everything in the WAL into the database file and empties the WAL, so the file
    /// alone is complete (called at shutdown). Readers in progress may keep part of the WAL;
    /// that is not an error, the next open finishes the job.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        let connection = self.writer()?;
        connection.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Copies what the WAL holds back into the database file without waiting for anyone
    /// (`PASSIVE`): frames that a reader still needs stay. `tidings poll` runs it while it
    /// writes the public files, so that closing the store, which copies the rest, has little
    /// left to do.
    pub fn copy_wal_back(&self) -> Result<(), StoreError> {
        let connection = self.writer()?;
        connection.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// `PRAGMA integrity_check`, `"ok"` when the file is sound.
    pub fn integrity_check(&self) -> Result<String, StoreError> {
        let connection = self.reader()?;
        Ok(connection.query_row("PRAGMA integrity_check", [], |row| row.get(0))?)
    }
}

/// The writer's statements are planned without looking at bound values: otherwise SQLite plans
/// a statement again whenever a parameter it peeked at gets a new value (the canonical-link
/// lookup of story placement, whose index is partial, was compiled again for every new item:
/// 7 % of a cold poll's CPU). The reader is left to peek: a page's `LIMIT` value lets it walk
/// the time index and stop early instead of sorting a whole topic (with the guarantee on, a
/// topic page of 20,000 items took 0.3 s instead of milliseconds).
fn plan_without_peeking(connection: &Connection) -> Result<(), StoreError> {
    connection.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// The page size of a database file this version creates, in bytes (SQLite's default is
/// 4,096). An item row with its summary, content and story text is 1 to 2.5 kB, so at 4 kB
/// most pages held one or two rows with a quarter of the page unused, and every insert split
/// or filled a page of its own: with 8 kB pages a cold poll of 1,000 feeds wrote its items
/// with about 8 % less CPU in the writer thread and a file a sixth smaller. The page caches
/// are set in KiB, so they hold the same bytes whatever the page size.
const PAGE_SIZE: i64 = 8_192;

/// Asks for `PAGE_SIZE` pages. SQLite takes it only while the file has no tables: a database
/// made by an earlier version keeps its page size (a `VACUUM` in WAL mode keeps it too).
fn set_page_size(connection: &Connection) -> Result<(), StoreError> {
    connection.pragma_update(None, "page_size", PAGE_SIZE)?;
    Ok(())
}

/// The writer connection's page cache, in KiB (`configure`).
const WRITER_CACHE_KIB: i64 = 4_096;

/// The WAL's size, in pages, at which the writer checkpoints it (`configure`).
const WAL_CHECKPOINT_PAGES: i64 = 4_000;

/// The reader connection's page cache, in KiB.
const READER_CACHE_KIB: i64 = 2_048;

fn configure(connection: &Connection) -> Result<(), StoreError> {
    connection.busy_timeout(Duration::from_secs(10))?;
    // Writing a poll uses about twenty distinct statements (items, matches, story placement,
    // fetch state); with rusqlite's default cache of 16 they would evict each other and be
    // compiled again for every item.
    connection.set_prepared_statement_cache_capacity(64);
    // Plans made without looking at bound values are the writer's alone
    // (`plan_without_peeking`): set here too, they reached the reader, whose page query then
    // planned without its `LIMIT`.
    // 4 MiB of page cache for the writer (SQLite's default is 2 MiB): the story band index is
    // keyed by hashes, so its inserts and lookups land on random pages. 32 MiB was tried: a
    // cold poll of 1,000 feeds then peaked at 165 MiB against the 60 MB target, and with the
    // band index in memory 8 MiB kept it 4.4 MiB above 4 MiB for 1.5 to 3 % less CPU.
    connection.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)?;
    connection.pragma_update(None, "foreign_keys", "ON")?;
    // `journal_mode` answers with the resulting mode, so it is read rather than updated.
    let _mode: String = connection.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    connection.pragma_update(None, "synchronous", "FULL")?;
    // Each poll is written in its own savepoint: keeping the savepoint journal (and other
    // temporary data) in memory saves a temporary file write for every page a poll changes.
    connection.pragma_update(None, "temp_store", "MEMORY")?;
    // After a checkpoint the WAL file is cut back to this size, so a burst of writes does
    // not leave a large file behind for good.
    let _limit: i64 =
        connection.query_row("PRAGMA journal_size_limit = 16777216", [], |row| row.get(0))?;
    // The writer copies the WAL back into the database (and syncs the file) once it holds
    // `WAL_CHECKPOINT_PAGES` pages, not SQLite's 1,000: a cold poll of 10,000 feeds made 112
    // syncs of the database file in 55 checkpoints (4.9 s of the writer's time), and makes 38
    // (2.7 s) now, since a page written by several commits is copied once. Between
    // checkpoints the WAL holds at most about 32 MiB; `journal_size_limit` cuts it back after.
    connection.pragma_update(None, "wal_autocheckpoint", WAL_CHECKPOINT_PAGES)?;
    Ok(())
}

/// Locks `mutex`; when a panic poisoned it, first makes what it guards sound with `mend`.
fn recover<T>(
    mutex: &Mutex<T>,
    mend: impl FnOnce(&mut T) -> Result<(), StoreError>,
) -> Result<MutexGuard<'_, T>, StoreError> {
    match mutex.lock() {
        Ok(guard) => Ok(guard),
        Err(poisoned) => {
            let mut guard = poisoned.into_inner();
            mend(&mut guard)?;
            mutex.clear_poison();
            Ok(guard)
        }
    }
}

/// Rolls back a transaction a connection was left in.
fn roll_back(connection: &mut Connection) -> Result<(), StoreError> {
    if !connection.is_autocommit() {
        connection.execute_batch("ROLLBACK")?;
    }
    Ok(())
}

fn to_unix(time: DateTime<Utc>) -> i64 {
    time.timestamp()
}

fn from_unix(seconds: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(seconds, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
}

#[cfg(test)]
mod tests;
