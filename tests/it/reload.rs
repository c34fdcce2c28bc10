//! Editing `feeds.toml` under a running daemon: a save by temp file and rename adds a source
//! that is polled at once, removing it takes its items out of the outputs, a new topic has its
//! history, a broken edit is refused with `file:line:column` and changes nothing, and SIGHUP
//! reloads a file the watcher cannot see.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

fn item(guid: &str, title: &str) -> String {
    format!("<guid>{guid}</guid><title>{title}</title><link>https://example.test/{guid}</link>")
}

/// Saves `text` to `path` as many editors do: a new file beside it, renamed over it.
fn save_by_rename(path: &Path, text: &str) {
    let temporary = path.with_extension("toml.new");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

const SETTINGS: &str =
    "[settings]\ninterval = \"1h\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\n\n";

/// A GET of `url` with one conditional header.
async fn conditional(
    client: &reqwest::Client,
    url: &str,
    header: &str,
    value: &str,
) -> reqwest::Response {
    client.get(url).header(header, value).send().await.unwrap()
}

fn feed_block(name: &str, url: &str) -> String {
    format!("[[feeds]]\nurl = \"{url}\"\nname = \"{name}\"\n\n")
}

const TOPIC: &str = "[[topics]]\nname = \"comets\"\ntitle = \"Comets\"\nany = [\"comet*\"]\n";

/// How long a test waits for something that should take well under a second. Generous, so
/// a machine busy compiling does not fail the test; the log says how long it took.
const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_apply_at_once_and_broken_ones_change_nothing() {
    let server = FixtureServer::start().await;
    server.set(
        "/alpha.xml",
        Fixture::rss(rss("Alpha", &[item("a-1", "Alpha reports on the harvest")])),
    );
    server.set(
        "/beta.xml",
        Fixture::rss(rss("Beta", &[item("b-1", "A comet passes close to Earth")])),
    );
    let alpha = feed_block("Alpha", &server.url("/alpha.xml"));
    let beta = feed_block("Beta", &server.url("/beta.xml"));
    let workspace = Workspace::new(&format!("{SETTINGS}{alpha}"));
    let daemon = workspace.start_daemon().await;
    let first = wait_for(PATIENCE, || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        titles
            .contains(&"Alpha reports on the harvest".to_string())
            .then_some(())
    })
    .await;
    assert!(first.is_some(), "log:\n{}", daemon.log_text());
    // No topic yet: its feed is unknown.
    assert_eq!(daemon.get("/feeds/comets.atom").await.unwrap().0, 404);

    // Add a source and a topic, saved by rename; the interval is an hour, so only the reload
    // can make the new source be polled now.
    let started = Instant::now();
    save_by_rename(
        &workspace.config_path(),
        &format!("{SETTINGS}{alpha}{beta}{TOPIC}"),
    );
    // The promise: a new source is in the output within 5 seconds of the save (it
    // takes a few hundred milliseconds; the debounce is 250 ms).
    let added = wait_for(Duration::from_secs(5), || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        titles
            .contains(&"A comet passes close to Earth".to_string())
            .then_some(())
    })
    .await;
    assert!(
        added.is_some(),
        "the added feed was not in the output within 5 s of the save; log:\n{}",
        daemon.log_text()
    );
    eprintln!(
        "the added source was in the output after {:?}",
        started.elapsed()
    );
    assert_eq!(
        daemon.titles("/feeds/comets.atom").await,
        vec!["A comet passes close to Earth".to_string()]
    );
    assert_eq!(server.counts("/alpha.xml").0, 1, "alpha was polled again");

    // Remove alpha: its items leave the outputs, and it is not polled again.
    save_by_rename(
        &workspace.config_path(),
        &format!("{SETTINGS}{beta}{TOPIC}"),
    );
    let removed = wait_for(PATIENCE, || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        (!titles.contains(&"Alpha reports on the harvest".to_string())).then_some(titles)
    })
    .await;
    assert_eq!(
        removed,
        Some(vec!["A comet passes close to Earth".to_string()]),
        "log:\n{}",
        daemon.log_text()
    );

    // A broken edit: a URL that is not http on line 7. Refused with its place; the outputs stay.
    let broken = format!("{SETTINGS}[[feeds]]\nurl = \"htp:/nowhere\"\n\n{beta}{TOPIC}",);
    save_by_rename(&workspace.config_path(), &broken);
    let config_name = workspace.config_path().display().to_string();
    let page = wait_for(PATIENCE, || async {
        let (_, page) = daemon.get("/").await.unwrap();
        page.contains(&format!("{config_name}:7:7")).then_some(page)
    })
    .await;
    assert!(page.is_some(), "log:\n{}", daemon.log_text());
    assert!(
        daemon.log_text().contains("feeds.toml refused"),
        "{}",
        daemon.log_text()
    );
    assert_eq!(
        daemon.titles("/feeds/comets.atom").await,
        vec!["A comet passes close to Earth".to_string()]
    );
    // Broken TOML and an empty file (a half-written save) are refused too.
    save_by_rename(&workspace.config_path(), "[[feeds]\nurl = ");
    let toml_error = wait_for(PATIENCE, || async {
        let (_, page) = daemon.get("/").await.unwrap();
        page.contains(&format!("{config_name}:1:")).then_some(())
    })
    .await;
    assert!(toml_error.is_some(), "log:\n{}", daemon.log_text());
    save_by_rename(&workspace.config_path(), "");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        daemon.titles("/feeds/all.atom").await,
        vec!["A comet passes close to Earth".to_string()]
    );

    // Fixed again: the error leaves the page.
    save_by_rename(
        &workspace.config_path(),
        &format!("{SETTINGS}{beta}{TOPIC}"),
    );
    let fixed = wait_for(PATIENCE, || async {
        let (_, page) = daemon.get("/").await.unwrap();
        (!page.contains("config-error")).then_some(())
    })
    .await;
    assert!(fixed.is_some(), "log:\n{}", daemon.log_text());
    assert_eq!(
        server.counts("/alpha.xml").0,
        1,
        "a removed feed was polled"
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// The config is a symlink into another directory, so the watcher (on the link's directory)
/// does not see edits of the target: only SIGHUP can make the daemon read it again.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_config() {
    let server = FixtureServer::start().await;
    server.set(
        "/one.xml",
        Fixture::rss(rss("One", &[item("1", "First source")])),
    );
    server.set(
        "/two.xml",
        Fixture::rss(rss("Two", &[item("2", "Second source")])),
    );
    let one = feed_block("One", &server.url("/one.xml"));
    let two = feed_block("Two", &server.url("/two.xml"));
    let workspace = Workspace::new("");
    let elsewhere = tempfile::tempdir().unwrap();
    let target = elsewhere.path().join("real.toml");
    std::fs::write(&target, format!("{SETTINGS}{one}")).unwrap();
    std::fs::remove_file(workspace.config_path()).unwrap();
    std::os::unix::fs::symlink(&target, workspace.config_path()).unwrap();
    let daemon = workspace.start_daemon().await;
    let first = wait_for(PATIENCE, || async {
        (daemon.titles("/feeds/all.atom").await == ["First source"]).then_some(())
    })
    .await;
    assert!(first.is_some(), "log:\n{}", daemon.log_text());

    std::fs::write(&target, format!("{SETTINGS}{one}{two}")).unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        server.counts("/two.xml").0,
        0,
        "the edit was seen without SIGHUP; this test needs a file the watcher cannot see"
    );
    let pid = daemon.child.id().unwrap();
    let sent = std::process::Command::new("kill")
        .args(["-HUP", &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let added = wait_for(PATIENCE, || async {
        let titles = daemon.titles("/feeds/all.atom").await;
        titles.contains(&"Second source".to_string()).then_some(())
    })
    .await;
    assert!(added.is_some(), "log:\n{}", daemon.log_text());
    assert!(
        daemon.log_text().contains("SIGHUP"),
        "{}",
        daemon.log_text()
    );
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// An interval shortened in `feeds.toml` moves the feed's next poll at once: polled at start
/// with an hour to wait, it is polled again soon after the edit shortens that to a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_interval_takes_effect_at_the_next_poll() {
    let server = FixtureServer::start().await;
    server.set("/feed.xml", Fixture::rss(rss("F", &[item("1", "One")])));
    let block = |interval: &str| {
        format!(
            "{SETTINGS}[[feeds]]\nurl = \"{}\"\nname = \"F\"\ninterval = \"{interval}\"\n",
            server.url("/feed.xml")
        )
    };
    let workspace = Workspace::new(&block("1h"));
    let daemon = workspace.start_daemon().await;
    let first = wait_for(PATIENCE, || async {
        (server.counts("/feed.xml").0 == 1).then_some(())
    })
    .await;
    assert!(first.is_some(), "log:\n{}", daemon.log_text());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.counts("/feed.xml").0, 1);
    save_by_rename(&workspace.config_path(), &block("1s"));
    let again = wait_for(PATIENCE, || async {
        (server.counts("/feed.xml").0 >= 3).then_some(())
    })
    .await;
    assert!(
        again.is_some(),
        "the new interval was not used; log:\n{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("the feed's interval changed"));
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// A source removed from `feeds.toml` takes its items out of the outputs, and a subscriber's
/// conditional request sees it: the ETag changes and `Last-Modified` moves forward, so neither
/// `If-None-Match` nor `If-Modified-Since` with the old validators gets a 304. In `all` the
/// removed source held no newest entry (the newest time stays the same); in the topic it held
/// the newest (the newest time goes back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_source_moves_the_validators_of_the_feeds_it_was_in() {
    let server = FixtureServer::start().await;
    let dated = |guid: &str, title: &str, date: &str| {
        format!("{}<pubDate>{date}</pubDate>", item(guid, title))
    };
    server.set(
        "/alpha.xml",
        Fixture::rss(rss(
            "Alpha",
            &[dated(
                "a-1",
                "A comet brightens",
                "Sat, 01 Jun 2024 10:00:00 GMT",
            )],
        )),
    );
    server.set(
        "/beta.xml",
        Fixture::rss(rss(
            "Beta",
            &[
                dated("b-1", "A comet is found", "Fri, 01 Mar 2024 10:00:00 GMT"),
                dated("b-2", "The harvest is in", "Sun, 01 Sep 2024 10:00:00 GMT"),
            ],
        )),
    );
    let alpha = feed_block("Alpha", &server.url("/alpha.xml"));
    let beta = feed_block("Beta", &server.url("/beta.xml"));
    let workspace = Workspace::new(&format!("{SETTINGS}{alpha}{beta}{TOPIC}"));
    let daemon = workspace.start_daemon().await;
    let both = wait_for(PATIENCE, || async {
        let titles = daemon.titles("/feeds/comets.rss").await;
        (titles.len() == 2).then_some(())
    })
    .await;
    assert!(both.is_some(), "log:\n{}", daemon.log_text());
    let client = tidings::fetch::build_client(Duration::from_secs(10)).unwrap();
    let url = |path: &str| format!("{}{path}", daemon.base);
    let paths = ["/feeds/all.atom", "/feeds/comets.rss"];
    let mut before = Vec::new();
    for path in paths {
        let response = client.get(url(path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let etag = response.headers()["etag"].to_str().unwrap().to_string();
        let last_modified = response.headers()["last-modified"]
            .to_str()
            .unwrap()
            .to_string();
        // While nothing changes, the validators give a 304.
        let since = conditional(&client, &url(path), "if-modified-since", &last_modified).await;
        assert_eq!(since.status(), 304, "{path}");
        before.push((path, etag, last_modified));
    }

    save_by_rename(
        &workspace.config_path(),
        &format!("{SETTINGS}{beta}{TOPIC}"),
    );
    let removed = wait_for(PATIENCE, || async {
        let titles = daemon.titles("/feeds/comets.rss").await;
        (titles == ["A comet is found"]).then_some(())
    })
    .await;
    assert!(removed.is_some(), "log:\n{}", daemon.log_text());
    assert!(
        !daemon
            .titles("/feeds/all.atom")
            .await
            .contains(&"A comet brightens".to_string())
    );

    for (path, etag, last_modified) in before {
        let since = conditional(&client, &url(path), "if-modified-since", &last_modified).await;
        assert_eq!(
            since.status(),
            200,
            "{path}: If-Modified-Since {last_modified} after the source left"
        );
        let new_last_modified = since.headers()["last-modified"].to_str().unwrap();
        let parse = |text: &str| chrono::DateTime::parse_from_rfc2822(text).unwrap();
        assert!(
            parse(new_last_modified) > parse(&last_modified),
            "{path}: Last-Modified {last_modified} became {new_last_modified}"
        );
        let new_etag = since.headers()["etag"].to_str().unwrap().to_string();
        assert_ne!(new_etag, etag, "{path}");
        let matched = conditional(&client, &url(path), "if-none-match", &etag).await;
        assert_eq!(matched.status(), 200, "{path}: If-None-Match {etag}");
        // The new validators give a 304 again.
        let current = conditional(&client, &url(path), "if-none-match", &new_etag).await;
        assert_eq!(current.status(), 304, "{path}");
    }
    assert_eq!(daemon.terminate().await.code(), Some(0));
}
