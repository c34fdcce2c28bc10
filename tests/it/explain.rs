//! Topics seen from outside: `tidings explain ITEM` says why an item is or is not in each
//! topic; editing the topics re-matches stored items, and a removed topic is gone from what
//! a subscriber reads over HTTP; `tidings check` warns about topics that cannot match.

use std::time::Duration;

use crate::support::{Fixture, FixtureServer, Workspace, rss, wait_for, xml_escape};

fn item(guid: &str, title: &str, description: &str) -> String {
    format!(
        "<guid isPermaLink=\"false\">{guid}</guid><title>{}</title>\
         <link>https://news.example/{guid}</link>\
         <pubDate>Mon, 13 Jan 2025 08:00:00 +0000</pubDate><description>{}</description>",
        xml_escape(title),
        xml_escape(description)
    )
}

fn config(feed_url: &str, topics: &str) -> String {
    format!(
        "[settings]\nmin_interval = \"100ms\"\ninterval = \"1h\"\ntimeout = \"5s\"\n\n\
         [[feeds]]\nurl = \"{feed_url}\"\nname = \"Wire\"\n\n{topics}"
    )
}

const TOPICS: &str = r#"
[[topics]]
name = "north-korea"
title = "North Korea"
any = ["nordkorea*", { term = "북한", except = ["북한산"] }]

[[topics]]
name = "ukraine"
title = "Ukraine"
any = ["ukrain*"]
all = ["/krig|war/"]

[[topics]]
name = "food"
any = ["ukrain*"]
none = ["borsjtj"]
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_names_the_terms_and_the_reasons() {
    let server = FixtureServer::start().await;
    server.set(
        "/wire.xml",
        Fixture::rss(rss(
            "Wire",
            &[
                item(
                    "pow",
                    "Nordkoreanska krigsfången i Ukraina",
                    "Han vill inte återvända. Recept på borsjtj följer.",
                ),
                item("hike", "북한산 등산로 정비", "국립공원"),
            ],
        )),
    );
    let workspace = Workspace::new(&config(&server.url("/wire.xml"), TOPICS));
    workspace.poll().await;

    let output = workspace
        .command(&["explain", "https://news.example/pow"])
        .await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    for expected in [
        "Nordkoreanska krigsfången i Ukraina",
        "source: Wire <",
        "topics in the outputs: north-korea [\"nordkorea*\"]",
        "north-korea (North Korea): matched",
        "hit \"nordkoreanska\" in the title",
        // The `all` regex finds "krig" at the start of "krigsfangen".
        "ukraine (Ukraine): matched",
        "food (food): not matched: vetoed by `none` term \"borsjtj\"",
        "hit \"borsjtj\" in the summary",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }

    // By the guid the source gave: the hike story is no North Korea story.
    let output = workspace.command(&["explain", "hike"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("north-korea (North Korea): not matched: no `any` term hit"),
        "{stdout}"
    );
    assert!(
        stdout.contains("\"북한\" in the title does not count: an exception covers it"),
        "{stdout}"
    );
    assert!(stdout.contains("topics in the outputs: none"), "{stdout}");

    // By the id of the output entry, read back from the first answer.
    let first = workspace
        .command(&["explain", "https://news.example/pow"])
        .await;
    let first = String::from_utf8_lossy(&first.stdout).into_owned();
    let entry_id = first
        .lines()
        .find_map(|line| line.trim().strip_prefix("id:"))
        .unwrap()
        .trim()
        .to_string();
    assert!(entry_id.starts_with("urn:tidings:item:"), "{first}");
    let by_id = workspace.command(&["explain", &entry_id]).await;
    assert_eq!(String::from_utf8_lossy(&by_id.stdout), first);

    let missing = workspace
        .command(&["explain", "https://news.example/nothing"])
        .await;
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&missing.stderr).contains("no stored item has the link or id"),
        "{}",
        String::from_utf8_lossy(&missing.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_topics_rematch_stored_items_and_removed_ones_leave_the_outputs() {
    let server = FixtureServer::start().await;
    server.set(
        "/wire.xml",
        Fixture::rss(rss(
            "Wire",
            &[
                item("a", "Pyongyang fires a missile", "State media said so."),
                item("b", "Snow on the coast", "Drivers take care."),
            ],
        )),
    );
    let url = server.url("/wire.xml");
    let before = "[[topics]]\nname = \"korea\"\nany = [\"pyongyang\"]\n\n\
                  [[topics]]\nname = \"weather\"\nany = [\"snow\"]\n";
    let workspace = Workspace::new(&config(&url, before));
    workspace.poll().await;

    // The source is gone now: whatever the outputs show next comes from the stored items.
    server.set("/wire.xml", Fixture::raw(404, "text/plain", "gone"));
    let after = "[[topics]]\nname = \"weather\"\nany = [\"coast\"]\nfields = [\"title\"]\n\n\
                 [[topics]]\nname = \"dprk\"\nany = [\"pyongyang\"]\n\n\
                 [[topics]]\nname = \"driving\"\nany = [\"drivers\"]\nfields = [\"title\"]\n";
    std::fs::write(workspace.config_path(), config(&url, after)).unwrap();
    let daemon = workspace.start_daemon().await;

    let dprk = wait_for(Duration::from_secs(20), || async {
        let titles = daemon.titles("/feeds/dprk.atom").await;
        (!titles.is_empty()).then_some(titles)
    })
    .await
    .unwrap_or_else(|| {
        panic!(
            "the new topic never got its history:\n{}",
            daemon.log_text()
        )
    });
    assert_eq!(dprk, vec!["Pyongyang fires a missile".to_string()]);
    assert_eq!(
        daemon.titles("/feeds/weather.atom").await,
        vec!["Snow on the coast".to_string()]
    );
    // `fields = ["title"]`: "Drivers" is only in the summary.
    assert!(daemon.titles("/feeds/driving.atom").await.is_empty());
    let (status, _) = daemon.get("/feeds/korea.atom").await.unwrap();
    assert_eq!(status, 404, "a removed topic has no feed");
    let (_, all) = daemon.get("/feeds/all.atom").await.unwrap();
    assert!(all.contains("dprk"), "{all}");
    assert!(
        !all.contains("\"korea\""),
        "the removed topic is still a category: {all}"
    );
    daemon.terminate().await;
}

#[tokio::test]
async fn check_warns_about_topics_that_cannot_match() {
    let workspace = Workspace::new(
        "[[feeds]]\nurl = \"https://a.example/rss\"\n\n[[topics]]\nname = \"t\"\n\
         any = [\"kyiv\"]\nall = [\"war\"]\nnone = [\"war\"]\n",
    );
    let output = workspace.command(&["check"]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stderr.contains("feeds.toml:7:8: warning: topic \"t\": all term \"war\" is always vetoed"),
        "{stderr}"
    );
    assert!(
        stderr.contains(
            "feeds.toml:5:8: warning: topic \"t\": the `all` term \"war\" can never count"
        ),
        "{stderr}"
    );
}
