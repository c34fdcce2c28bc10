//! Seeing what goes on: `/metrics` in Prometheus' text format, and the silent failures (a feed
//! that answers but has gone quiet, a feed whose items stopped matching any topic) flagged in
//! `tidings status` and in the metrics.

use std::time::Duration;

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for};

fn dated(guid: &str, title: &str, date: &str) -> String {
    format!(
        "<guid>{guid}</guid><title>{title}</title><link>https://example.test/{guid}</link>\
         <pubDate>{date}</pubDate>"
    )
}

/// The value of an unlabelled or labelled sample in Prometheus text.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_status_show_polls_quiet_feeds_and_feeds_that_stopped_matching() {
    let server = FixtureServer::start().await;
    // Daily items, the last of them long ago: the feed answers but has gone quiet.
    let daily: Vec<String> = (1..=8)
        .map(|day| {
            dated(
                &format!("d{day}"),
                &format!("Day {day}"),
                &format!("0{day} Jan 2025 08:00:00 +0000"),
            )
        })
        .collect();
    server.set("/daily.xml", Fixture::rss(rss("Daily", &daily)));
    // Hourly items up to now: the ten newest no longer mention comets, the older ones did.
    let now = chrono::Utc::now();
    let drifted: Vec<String> = (0..15)
        .map(|hour| {
            let date = (now - chrono::Duration::hours(hour)).to_rfc2822();
            let title = if hour >= 10 {
                format!("A comet sighting, report {hour}")
            } else {
                format!("Local council meets, report {hour}")
            };
            dated(&format!("h{hour}"), &title, &date)
        })
        .collect();
    server.set("/drifted.xml", Fixture::rss(rss("Drifted", &drifted)));
    server.set("/broken.xml", Fixture::raw(500, "text/plain", "down"));
    let config = format!(
        "[settings]\ninterval = \"1h\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\n\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Daily\"\n\n[[feeds]]\nurl = \"{}\"\nname = \"Drifted\"\n\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Broken\"\n\n\
         [[topics]]\nname = \"comets\"\nany = [\"comet*\"]\n",
        server.url("/daily.xml"),
        server.url("/drifted.xml"),
        server.url("/broken.xml")
    );
    let workspace = Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    let metrics = wait_for(Duration::from_secs(20), || async {
        let (status, text) = daemon.get("/metrics").await.ok()?;
        (status == 200
            && sample(&text, "tidings_polls_total{outcome=\"fetched\"}") == Some(2.0)
            && sample(&text, "tidings_polls_total{outcome=\"failed\"}") == Some(1.0))
        .then_some(text)
    })
    .await;
    let Some(text) = metrics else {
        panic!(
            "the polls never showed in /metrics; log:\n{}",
            daemon.log_text()
        );
    };
    assert_eq!(
        sample(&text, "tidings_http_responses_total{status=\"500\"}"),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "tidings_http_responses_total{status=\"200\"}"),
        Some(2.0)
    );
    assert_eq!(
        sample(&text, "tidings_fetch_duration_seconds_count"),
        Some(3.0)
    );
    assert_eq!(
        sample(&text, "tidings_items_total{kind=\"new\"}"),
        Some(23.0)
    );
    assert_eq!(
        sample(&text, "tidings_topic_matches_total{topic=\"comets\"}"),
        Some(5.0)
    );
    assert_eq!(
        sample(&text, "tidings_topic_items{topic=\"comets\"}"),
        Some(5.0)
    );
    assert_eq!(sample(&text, "tidings_items_stored"), Some(23.0));
    assert_eq!(sample(&text, "tidings_feeds_failing"), Some(1.0));
    assert_eq!(sample(&text, "tidings_feeds_stale"), Some(1.0));
    assert_eq!(sample(&text, "tidings_feeds_not_matching"), Some(1.0));
    assert!(sample(&text, "tidings_database_bytes").unwrap() > 0.0);
    for line in text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
    {
        assert!(line.starts_with("tidings_"), "{line}");
    }

    // Output requests and 304s are counted.
    let (_, _) = daemon.get("/feeds/all.atom").await.unwrap();
    let (_, text) = daemon.get("/metrics").await.unwrap();
    assert!(
        sample(
            &text,
            "tidings_http_requests_total{route=\"/feeds\",status=\"200\"}"
        )
        .is_some_and(|count| count >= 1.0),
        "{text}"
    );

    // A refused edit is counted as such.
    std::fs::write(workspace.config_path(), "[[feeds]]\nurl = 7\n").unwrap();
    let refused = wait_for(Duration::from_secs(20), || async {
        let (_, text) = daemon.get("/metrics").await.ok()?;
        sample(&text, "tidings_config_reloads_total{outcome=\"refused\"}").map(|_| ())
    })
    .await;
    assert!(refused.is_some(), "log:\n{}", daemon.log_text());

    std::fs::write(workspace.config_path(), &config).unwrap();
    let rows = workspace.status().await;
    let row = |name: &str| rows.iter().find(|row| row["name"] == name).unwrap().clone();
    assert_eq!(row("Daily")["stale"], true);
    assert_eq!(row("Daily")["not_matching"], false);
    assert_eq!(row("Drifted")["stale"], false);
    assert_eq!(row("Drifted")["not_matching"], true);
    assert_eq!(row("Broken")["stale"], false);
    let table = workspace.command(&["status"]).await;
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.contains("Daily is stale: it answers, but its newest item is from 2025-01-08"),
        "{table}"
    );
    assert!(
        table.contains("Drifted: its newest items match no topic any more"),
        "{table}"
    );
    // The `/` page flags both, on the right sources.
    let (_, page) = daemon.get("/").await.unwrap();
    let row_of = |name: &str| {
        page.lines()
            .find(|line| line.starts_with("<tr>") && line.contains(&format!(">{name}</a>")))
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        row_of("Daily").contains("stale: it answers, but its newest item is from 2025-01-08"),
        "{page}"
    );
    assert!(!row_of("Daily").contains("not matching"), "{page}");
    assert!(
        row_of("Drifted").contains("not matching: its newest items match no topic"),
        "{page}"
    );
    assert!(!row_of("Drifted").contains("stale"), "{page}");
    assert_eq!(daemon.terminate().await.code(), Some(0));
}

/// At the default level (`info`) a healthy daemon is quiet: polls that bring new items, and
/// polls that find nothing new, write no log line; only start-up and shutdown do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_daemon_is_quiet_at_the_default_level() {
    let server = FixtureServer::start().await;
    let document = |round: usize| {
        let items: Vec<String> = (0..=round)
            .map(|number| {
                format!("<guid>q{number}</guid><title>Quiet news {number}</title><link>https://example.test/q{number}</link>")
            })
            .collect();
        Fixture::rss(rss("Quiet", &items))
    };
    server.set("/quiet.xml", document(0));
    let config = format!(
        "[settings]\ninterval = \"100ms\"\nmin_interval = \"100ms\"\ntimeout = \"5s\"\n\n\
         [[feeds]]\nurl = \"{}\"\nname = \"Quiet\"\n",
        server.url("/quiet.xml")
    );
    let workspace = Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    // Each round brings one new item; wait until the daemon has stored it.
    for round in 1..=3 {
        server.set("/quiet.xml", document(round));
        let title = format!("Quiet news {round}");
        let stored = wait_for(Duration::from_secs(20), || async {
            let titles = daemon.titles("/feeds/all.atom").await;
            titles.contains(&title).then_some(())
        })
        .await;
        assert!(
            stored.is_some(),
            "round {round} never stored; log:\n{}",
            daemon.log_text()
        );
    }
    let log = daemon.log_text();
    assert_eq!(daemon.terminate().await.code(), Some(0));
    let noisy: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("quiet.xml"))
        .collect();
    assert!(
        noisy.is_empty(),
        "routine polls were logged at info:\n{}",
        noisy.join("\n")
    );
}
