//! `tidings add URL`: from a web page to its feed, shown and appended to `feeds.toml` with the
//! file's comments kept; the usual paths when the page announces nothing; a clear failure,
//! and an untouched file, when there is no feed.

use crate::support::{Fixture, FixtureServer, Workspace, rss};

const CONFIG: &str = "# Sources I read every morning.\n[settings]\ninterval = \"30m\" # polite\n\n\
    [[feeds]]\nurl = \"https://first.example/feed.xml\"  # the first one\nname = \"First\"\n\n\
    # Topics below.\n[[topics]]\nname = \"korea\"\nany = [\"korea\"]\n";

fn item(guid: &str, title: &str, date: &str) -> String {
    format!(
        "<guid>{guid}</guid><title>{title}</title><link>https://blog.example/{guid}</link>\
         <pubDate>{date}</pubDate>"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_leads_to_its_feed_which_is_appended_keeping_comments() {
    let server = FixtureServer::start().await;
    server.set(
        "/blog/",
        Fixture::raw(
            200,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>A blog</title>\
             <link rel=\"alternate\" type=\"application/rss+xml\" title=\"RSS\" href=\"posts.xml\">\
             </head><body>Hello</body></html>",
        ),
    );
    server.set(
        "/blog/posts.xml",
        Fixture::rss(rss(
            "Field Notes",
            &[
                item("old", "An older post", "Mon, 06 Jan 2025 08:00:00 +0000"),
                item("new", "The newest post", "Mon, 13 Jan 2025 08:00:00 +0000"),
            ],
        )),
    );
    let workspace = Workspace::new(CONFIG);
    let output = workspace.command(&["add", &server.url("/blog/")]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let feed_url = server.url("/blog/posts.xml");
    assert!(
        stdout.contains(&format!("Found {feed_url}: Field Notes")),
        "{stdout}"
    );
    // Newest first.
    let newest = stdout.find("2025-01-13  The newest post").unwrap();
    let older = stdout.find("2025-01-06  An older post").unwrap();
    assert!(newest < older, "{stdout}");
    let text = std::fs::read_to_string(workspace.config_path()).unwrap();
    assert!(text.starts_with(CONFIG), "{text}");
    assert!(
        text.ends_with(&format!(
            "\n[[feeds]]\nurl = \"{feed_url}\"\nname = \"Field Notes\"\n"
        )),
        "{text}"
    );
    let check = workspace.command(&["check"]).await;
    assert_eq!(check.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&check.stdout).contains("2 feeds, 1 topics"));

    // Adding it again changes nothing.
    let again = workspace.command(&["add", &feed_url]).await;
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already in"));
    assert_eq!(
        std::fs::read_to_string(workspace.config_path()).unwrap(),
        text
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_without_links_is_tried_at_the_usual_paths_and_no_feed_is_an_error() {
    let server = FixtureServer::start().await;
    let page = "<html><head><title>Plain</title></head><body>No links here</body></html>";
    server.set("/", Fixture::raw(200, "text/html", page));
    server.set(
        "/atom.xml",
        Fixture::atom(
            "<?xml version=\"1.0\"?><feed xmlns=\"http://www.w3.org/2005/Atom\">\
             <title>Usual Place</title><id>urn:x</id><updated>2025-01-13T00:00:00Z</updated>\
             <entry><id>urn:x:1</id><title>Found where feeds live</title>\
             <updated>2025-01-13T00:00:00Z</updated><link href=\"https://x.example/1\"/></entry>\
             </feed>",
        ),
    );
    let workspace = Workspace::new(CONFIG);
    let output = workspace.command(&["add", &server.url("/")]).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("Usual Place"), "{stdout}");
    assert!(stdout.contains("Found where feeds live"), "{stdout}");
    let text = std::fs::read_to_string(workspace.config_path()).unwrap();
    assert!(text.contains(&server.url("/atom.xml")), "{text}");

    let empty = FixtureServer::start().await;
    empty.set("/", Fixture::raw(200, "text/html", page));
    let before = std::fs::read_to_string(workspace.config_path()).unwrap();
    let output = workspace.command(&["add", &empty.url("/")]).await;
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no feed found at"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(workspace.config_path()).unwrap(),
        before
    );
}
