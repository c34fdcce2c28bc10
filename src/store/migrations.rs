//! The schema, as an append-only list of migrations applied in order under
//! `PRAGMA user_version`.
//!
//! Never edit a migration that has shipped: a later release must open today's database, so a
//! change is a new entry at the end. All pending migrations run in one exclusive transaction,
//! so a crash mid-way leaves the old version intact.

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

use super::StoreError;

/// Each entry moves the schema from version `index` to `index + 1`.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: feeds with their fetch state, items, item–topic matches.
    r#"
    CREATE TABLE feeds (
        id               INTEGER PRIMARY KEY,
        url              TEXT NOT NULL UNIQUE,  -- as written in feeds.toml
        name             TEXT,                  -- from feeds.toml, if given
        title            TEXT,                  -- the feed's own title, from the last poll
        site_link        TEXT,
        active           INTEGER NOT NULL DEFAULT 1, -- 0 once the feed left feeds.toml
        etag             TEXT,
        last_modified    TEXT,
        last_attempt     INTEGER,               -- unix seconds, UTC
        last_success     INTEGER,
        last_status      INTEGER,               -- HTTP status of the last response
        last_error       TEXT,
        error_streak     INTEGER NOT NULL DEFAULT 0,
        next_poll        INTEGER,
        next_poll_reason TEXT
    );

    CREATE TABLE items (
        id           INTEGER PRIMARY KEY,
        feed_id      INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        item_key     TEXT NOT NULL,             -- identity within the feed (model::ItemKey)
        entry_id     TEXT NOT NULL UNIQUE,      -- the id published in output feeds
        guid         TEXT,
        link         TEXT,
        title        TEXT NOT NULL,
        summary      TEXT,
        content      TEXT,
        author       TEXT,
        published    INTEGER,
        updated      INTEGER,
        first_seen   INTEGER NOT NULL,
        changed_at   INTEGER NOT NULL,          -- last time the source edited it (or first_seen)
        sort_time    INTEGER NOT NULL,          -- newest-first order of the outputs
        content_hash TEXT NOT NULL,
        UNIQUE (feed_id, item_key)
    );
    CREATE INDEX items_by_sort_time ON items (sort_time DESC, id DESC);

    CREATE TABLE item_topics (
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        topic   TEXT NOT NULL,
        terms   TEXT NOT NULL,                  -- JSON array of the terms that hit
        PRIMARY KEY (item_id, topic)
    ) WITHOUT ROWID;
    CREATE INDEX item_topics_by_topic ON item_topics (topic, item_id);
    "#,
    // 2: polite polling: where a feed moved, the last body's hash, gone feeds, change streaks
    // and the feed's own update hint.
    r#"
    ALTER TABLE feeds ADD COLUMN fetch_url TEXT;        -- after permanent redirects; NULL = url
    ALTER TABLE feeds ADD COLUMN redirect_target TEXT;  -- a 301/308 target seen lately
    ALTER TABLE feeds ADD COLUMN redirect_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN body_hash TEXT;        -- of the last body, for servers without validators
    ALTER TABLE feeds ADD COLUMN gone_since INTEGER;    -- set by HTTP 410; no polling while set
    ALTER TABLE feeds ADD COLUMN changed_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN unchanged_streak INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE feeds ADD COLUMN feed_hint INTEGER;     -- seconds, from <ttl> or sy:updatePeriod
    "#,
    // 3: facts about the store itself, such as which topics the stored matches were made with.
    r#"
    CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    ) WITHOUT ROWID;
    "#,
    // stories (4): one item with several sources, and near-duplicates grouped into stories.
    // `link_key` is the canonical link (normalize::links); `link_group` is the first item
    // stored with that canonical link, from any feed, so rows of one `link_group` are one item
    // carried by several sources; `story` is the first item of the item's story (dedupe), a
    // link group never being split across stories. Both are the row itself when alone, which
    // is what items stored before this version become. `story_words` is the folded text the
    // story sketch was made from; `story_bands` indexes the LSH band hashes of the sketch
    // with the item's time, so candidates are found without reading every recent item.
    r#"
    ALTER TABLE items ADD COLUMN link_key TEXT;
    ALTER TABLE items ADD COLUMN link_group INTEGER;
    ALTER TABLE items ADD COLUMN story INTEGER;
    ALTER TABLE items ADD COLUMN story_words TEXT;
    UPDATE items SET link_group = id, story = id;
    CREATE INDEX items_by_link_key ON items (link_key) WHERE link_key IS NOT NULL;
    CREATE INDEX items_by_link_group ON items (link_group);
    CREATE INDEX items_by_story ON items (story);

    CREATE TABLE story_bands (
        band    INTEGER NOT NULL,
        item_id INTEGER NOT NULL REFERENCES items(id) ON DELETE CASCADE,
        time    INTEGER NOT NULL,               -- the item's sort_time
        PRIMARY KEY (band, item_id)
    ) WITHOUT ROWID;
    CREATE INDEX story_bands_by_item ON story_bands (item_id);
    -- Items stored before this version get their canonical link and sketch once, at the next
    -- start (Store::place_items_stored_before_stories): up to this id.
    INSERT INTO meta (key, value)
        SELECT 'unplaced_items_up_to', CAST(max(id) AS TEXT) FROM items HAVING max(id) IS NOT NULL;
    "#,
    // service: the item keys each feed listed in its last new document (one per line), so
    // retention never prunes an item its source still lists (it would come back as new).
    r#"
    ALTER TABLE feeds ADD COLUMN listed_keys TEXT;
    CREATE INDEX items_by_first_seen ON items (first_seen);
    "#,
    // stories, cheaper: the band index without its by-item index and foreign key: the store
    // deletes an item's bands itself, by primary key, from the bands of its story text
    // (`dedupe::bands_of_words`), so each new item writes ten index rows instead of twenty.
    // (`items_by_story` stays on `story` alone: the output query takes a story's first item
    // by walking it in id order, which an index on `(story, feed_id)` made a full walk.)
    r#"
    CREATE TABLE story_bands_v6 (
        band    INTEGER NOT NULL,
        item_id INTEGER NOT NULL,
        time    INTEGER NOT NULL,
        PRIMARY KEY (band, item_id)
    ) WITHOUT ROWID;
    INSERT INTO story_bands_v6 (band, item_id, time) SELECT band, item_id, time FROM story_bands;
    DROP TABLE story_bands;
    ALTER TABLE story_bands_v6 RENAME TO story_bands;
    "#,
    // rawskip: the raw hash (parse::prescan) of each item of a feed's last new document, with
    // the key and content hash the item had when it was read and its link without fragment,
    // so a re-poll leaves out of the parse the items whose bytes it has seen (pipeline::rawskip).
    // Written with the items, in the same transaction; gone with the feed.
    r#"
    CREATE TABLE raw_items (
        feed_id      INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        hash         BLOB NOT NULL,             -- 16 bytes
        item_key     TEXT NOT NULL,
        content_hash TEXT NOT NULL,
        link         TEXT,
        PRIMARY KEY (feed_id, hash)
    ) WITHOUT ROWID;
    "#,
    // warm: the keys a feed listed in its last new document move out of `feeds` into a table
    // of their own. A poll rewrites its feed's row (the fetch state) every time, a 304 too; the
    // keys were 70 % of the row, written again with every 304 although they change only with
    // a new document (a warm poll of 10,000 feeds rewrote 3,600 pages of `feeds`).
    r#"
    CREATE TABLE feed_listed_keys (
        feed_id INTEGER PRIMARY KEY REFERENCES feeds(id) ON DELETE CASCADE,
        keys    TEXT NOT NULL                   -- one item key per line
    );
    INSERT INTO feed_listed_keys (feed_id, keys)
        SELECT id, listed_keys FROM feeds WHERE listed_keys IS NOT NULL;
    ALTER TABLE feeds DROP COLUMN listed_keys;
    "#,
    // main: band hashes are made from word hashes (`dedupe::sketch`), which the story texts
    // compared by the writer share. The stored band rows were made another way: they are
    // dropped, and the marker of band rows written is set back to the start, so the writer
    // writes them again from the stored story texts (`stories::Placing::repair`) before it
    // places anything.
    r#"
    DELETE FROM story_bands;
    INSERT INTO meta (key, value) VALUES ('bands_up_to', '0')
        ON CONFLICT (key) DO UPDATE SET value = '0';
    "#,
    // main: whether a story already has a version from a feed (placing a new item from the
    // database) walked every version of the story through `items_by_story`, reading each row
    // for its feed: a story that a thousand feeds carry cost a thousand row reads per check
    // (half a second of the writer's time in a warm poll of 10,000 feeds). This index answers
    // it in one probe; `items_by_story` stays for the output query, which walks a story's
    // versions in id order. It holds only the versions that are not their story's first item
    // (most items are alone, and their inserts skip it); the first is found by its id.
    r#"
    CREATE INDEX IF NOT EXISTS items_by_story_feed ON items (story, feed_id) WHERE story <> id;
    "#,
    // main: `entry_id` loses its UNIQUE index. The id is a hash of the feed's address and the
    // item's key, unique because `(feed_id, item_key)` is, and nothing looks an item up by it
    // alone; but its index took every new item at a random place (a cold poll of 10,000 feeds
    // spent 14 % of the writer's time and 3 s of system time in it). SQLite drops a
    // constraint by building the table again: the rows keep their ids, the indexes are made
    // again, and `migrate` runs with foreign keys off, so dropping the old table does not
    // delete the topic matches that refer to its rows.
    r#"
    CREATE TABLE items_v11 (
        id           INTEGER PRIMARY KEY,
        feed_id      INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
        item_key     TEXT NOT NULL,             -- identity within the feed (model::ItemKey)
        entry_id     TEXT NOT NULL,             -- the id published in output feeds
        guid         TEXT,
        link         TEXT,
        title        TEXT NOT NULL,
        summary      TEXT,
        content      TEXT,
        author       TEXT,
        published    INTEGER,
        updated      INTEGER,
        first_seen   INTEGER NOT NULL,
        changed_at   INTEGER NOT NULL,          -- last time the source edited it (or first_seen)
        sort_time    INTEGER NOT NULL,          -- newest-first order of the outputs
        content_hash TEXT NOT NULL,
        link_key     TEXT,                      -- canonical link (normalize::links)
        link_group   INTEGER,                   -- first item of the same canonical link
        story        INTEGER,                   -- first item of the same story
        story_words  TEXT,                      -- folded title and lead (dedupe)
        UNIQUE (feed_id, item_key)
    );
    INSERT INTO items_v11 (id, feed_id, item_key, entry_id, guid, link, title, summary, content,
            author, published, updated, first_seen, changed_at, sort_time, content_hash,
            link_key, link_group, story, story_words)
        SELECT id, feed_id, item_key, entry_id, guid, link, title, summary, content,
            author, published, updated, first_seen, changed_at, sort_time, content_hash,
            link_key, link_group, story, story_words
        FROM items;
    DROP TABLE items;
    ALTER TABLE items_v11 RENAME TO items;
    CREATE INDEX items_by_sort_time ON items (sort_time DESC, id DESC);
    CREATE INDEX items_by_link_key ON items (link_key) WHERE link_key IS NOT NULL;
    CREATE INDEX items_by_link_group ON items (link_group);
    CREATE INDEX items_by_story ON items (story);
    CREATE INDEX items_by_first_seen ON items (first_seen);
    CREATE INDEX items_by_story_feed ON items (story, feed_id) WHERE story <> id;
    "#,
    // main: folding drops the stroke of `ł`, `ø`, `đ`, `ħ`, `ŧ` as it drops accents
    // (`topics::fold`), so the stored story texts (folded title and lead) lose it too, or a
    // Polish or Danish story stored before would not meet its new versions word for word.
    // Their band rows were made from the old words: when any text changes, the band rows are
    // written again from the stored texts (as after migration 9); otherwise nothing is. Topic
    // matches are redone at start-up, the engine's fingerprint having changed.
    r#"
    DELETE FROM story_bands
        WHERE EXISTS (SELECT 1 FROM items WHERE story_words GLOB '*[łøđħŧ]*');
    INSERT INTO meta (key, value)
        SELECT 'bands_up_to', '0'
        WHERE EXISTS (SELECT 1 FROM items WHERE story_words GLOB '*[łøđħŧ]*')
        ON CONFLICT (key) DO UPDATE SET value = '0';
    UPDATE items
        SET story_words = replace(replace(replace(replace(replace(story_words,
            'ł', 'l'), 'ø', 'o'), 'đ', 'd'), 'ħ', 'h'), 'ŧ', 't')
        WHERE story_words GLOB '*[łøđħŧ]*';
    "#,
    // main: band rows of items placed from the database (without the writer's copy) go to a
    // small table first (`stories::BandTable::Recent`), merged into `story_bands` in key order
    // once it holds `MERGE_BANDS_AT` rows. A warm poll of
    // 10,000 feeds wrote its 5,000 rows into random pages of a table of 2 million at the end
    // of the run (some 4,000 pages written, synced and checkpointed: about 0.15 s of a 1.7 s
    // poll); into the small table they touch a few dozen. Readers see both through the view.
    r#"
    CREATE TABLE IF NOT EXISTS story_bands_recent (
        band    INTEGER NOT NULL,
        item_id INTEGER NOT NULL,
        time    INTEGER NOT NULL,
        PRIMARY KEY (band, item_id)
    ) WITHOUT ROWID;
    CREATE VIEW IF NOT EXISTS story_bands_all AS
        SELECT band, item_id, time FROM story_bands
        UNION ALL
        SELECT band, item_id, time FROM story_bands_recent;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema up to `SCHEMA_VERSION`, in one transaction.
///
/// Foreign keys are off meanwhile (SQLite ignores the setting inside a transaction, so it is
/// set around it): a migration that builds a table again drops the old one, which with
/// foreign keys on would delete the rows that refer to it. They are checked before the commit,
/// and a migration that left a broken reference is rolled back. They are on again afterwards,
/// whatever happened.
pub fn migrate(connection: &mut Connection) -> Result<(), StoreError> {
    let enforced: bool = connection.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    connection.pragma_update(None, "foreign_keys", false)?;
    let migrated = migrate_unchecked(connection);
    connection.pragma_update(None, "foreign_keys", enforced)?;
    migrated
}

fn migrate_unchecked(connection: &mut Connection) -> Result<(), StoreError> {
    let transaction = connection.transaction_with_behavior(TransactionBehavior::Exclusive)?;
    let current: i64 = transaction.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    let start = usize::try_from(current).unwrap_or(0);
    for (index, migration) in MIGRATIONS.iter().enumerate().skip(start) {
        transaction.execute_batch(migration)?;
        transaction.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    if start < MIGRATIONS.len() {
        let broken: Option<String> = transaction
            .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(StoreError::BrokenReference(table));
        }
    }
    transaction.commit()?;
    Ok(())
}
