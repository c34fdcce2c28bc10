use super::*;

const CONFIG: &str = r#"# my sources
[settings]
interval = "15m" # keep me

# News
[[feeds]]
url = "https://a.example/feed.xml" # first
name = "A"

[[feeds]]
url = "https://b.example/rss"

# Topics below
[[topics]]
name = "ukraine"
any = ["ukrain*"]
"#;

const OPML: &str = r#"<?xml version="1.0"?>
<opml version="2.0"><head><title>mine</title></head><body>
<outline text="World">
  <outline text="B again" type="rss" xmlUrl="https://b.example/rss/"/>
  <outline text="C &amp; D" title="C &amp; D" type="rss" xmlUrl="https://c.example/atom" htmlUrl="https://c.example/"/>
</outline>
<outline text="E" type="rss" xmlUrl="https://e.example/feed.json"/>
<outline text="A" type="rss" xmlUrl="https://a2.example/feed"/>
<outline text="mail" xmlUrl="mailto:x@example.org"/>
</body></opml>"#;

#[test]
fn import_adds_new_feeds_after_the_last_one_and_keeps_comments() {
    let report = import(CONFIG, sources(OPML).unwrap()).unwrap();
    let added: Vec<&str> = report.added.iter().map(|s| s.xml_url.as_str()).collect();
    assert_eq!(
        added,
        [
            "https://c.example/atom",
            "https://e.example/feed.json",
            "https://a2.example/feed"
        ]
    );
    assert_eq!(report.skipped.len(), 1, "{:?}", report.skipped);
    assert_eq!(report.refused.len(), 1);
    let text = &report.config;
    for kept in [
        "# my sources",
        "# keep me",
        "# first",
        "# News",
        "# Topics below",
    ] {
        assert!(text.contains(kept), "lost {kept:?}:\n{text}");
    }
    // New feeds come before the topics, and the result is a valid config.
    let new_feed = text.find("https://c.example/atom").unwrap();
    assert!(new_feed < text.find("[[topics]]").unwrap(), "{text}");
    assert!(text.contains("tags = [\"World\"]"), "{text}");
    let config = crate::config::parse(std::path::Path::new("feeds.toml"), text).unwrap();
    assert_eq!(config.feeds.len(), 5);
    // "A" is already a name: the new feed is left unnamed instead of breaking the config.
    assert_eq!(config.feeds[4].name, None);
    // A second import adds nothing.
    let again = import(text, sources(OPML).unwrap()).unwrap();
    assert!(again.added.is_empty());
    assert_eq!(&again.config, text);
}

#[test]
fn export_is_opml_2_that_reads_back() {
    let listed = vec![Source {
        title: "News & <Views>\u{1}".into(),
        xml_url: "https://n.example/feed?a=1&b=2".into(),
        html_url: Some("https://n.example/".into()),
        tags: vec!["world".into()],
    }];
    let text = export("tidings sources", &listed).unwrap();
    let document = roxmltree::Document::parse(&text).unwrap();
    assert_eq!(document.root_element().attribute("version"), Some("2.0"));
    let read = sources(&text).unwrap();
    assert_eq!(read[0].xml_url, "https://n.example/feed?a=1&b=2");
    assert_eq!(read[0].title, "News & <Views>");
}

#[test]
fn broken_opml_is_an_error() {
    assert!(sources("<opml><body>").is_err());
}
