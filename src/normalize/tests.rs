use super::*;
use crate::model::ItemKey;
use crate::parse::parse;

fn items_of(document: &str) -> Vec<Item> {
    let url = Url::parse("https://news.example/feeds/world.xml").unwrap();
    let parsed = parse(document.as_bytes(), None, url.as_str()).unwrap();
    normalize(&parsed, &url).1
}

#[test]
fn keys_follow_the_identity_rule() {
    let items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><guid isPermaLink="false">g-1</guid><title>with guid</title><link>/a</link></item>
        <item><title>link only</title><link>/b</link></item>
        <item><title>shared one</title><link>/live#1</link></item>
        <item><title>shared two</title><link>/live#2</link></item>
        <item><title>nothing</title><description>just text</description></item>
        </channel></rss>"#,
    );
    assert_eq!(items[0].key, ItemKey::Guid("g-1".into()));
    assert_eq!(items[1].key, ItemKey::Link("https://news.example/b".into()));
    assert_eq!(
        items[2].key,
        ItemKey::LinkAndTitle {
            link: "https://news.example/live#1".into(),
            title: "shared one".into()
        }
    );
    assert!(matches!(&items[3].key, ItemKey::LinkAndTitle { title, .. } if title == "shared two"));
    assert!(matches!(items[4].key, ItemKey::ContentHash(_)));
}

#[test]
fn keys_without_guid_or_link_are_stable_across_parses() {
    let document = r#"<rss version="2.0"><channel><title>t</title>
        <item><title>no id</title><description>same text</description></item>
        </channel></rss>"#;
    assert_eq!(items_of(document)[0].key, items_of(document)[0].key);
}

#[test]
fn titles_are_plain_text_and_summaries_stay_html() {
    let items = items_of(
        r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:f</id>
        <entry><id>urn:1</id><title type="html">&lt;b&gt;Kyiv&lt;/b&gt;   under   fire</title>
        <summary type="html">&lt;p&gt;Air raid &amp;amp; sirens&lt;/p&gt;</summary>
        <link href="https://news.example/kyiv"/><updated>2026-11-20T10:00:00Z</updated></entry>
        </feed>"#,
    );
    assert_eq!(items[0].title, "Kyiv under fire");
    assert_eq!(
        items[0].summary.as_deref(),
        Some("<p>Air raid &amp; sirens</p>")
    );
    assert!(items[0].match_text.contains("Air raid & sirens"));
    assert!(items[0].updated.is_some());
}

#[test]
fn an_untitled_item_gets_the_start_of_its_text() {
    let items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><description>A short note with no title</description></item>
        </channel></rss>"#,
    );
    assert_eq!(items[0].title, "A short note with no title");
}

#[test]
fn stored_items_rematch_from_the_same_text() {
    let items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><guid>1</guid><title>Kyiv</title><description>&lt;p&gt;Air &amp;amp; sea&lt;/p&gt;</description></item>
        </channel></rss>"#,
    );
    let item = &items[0];
    assert_eq!(
        match_text(
            &item.title,
            item.summary.as_deref(),
            item.content.as_deref()
        ),
        item.match_text
    );
}

#[test]
fn rss_titles_are_read_as_html_atom_titles_as_declared() {
    let items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><title><![CDATA[Flat &#x0024;4300 1930ft<sup>2</sup>]]></title></item>
        <item><title>AT&amp;amp;T &lt;b&gt;deal&lt;/b&gt;  done</title></item>
        </channel></rss>"#,
    );
    assert_eq!(items[0].title, "Flat $4300 1930ft2");
    assert_eq!(items[1].title, "AT&T deal done");
    let url = Url::parse("https://news.example/atom").unwrap();
    let atom = r#"<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
        <entry><id>1</id><title type="text">Use &lt;b&gt; for bold</title></entry>
        <entry><id>2</id><title type="html">&lt;b&gt;Kyiv&lt;/b&gt; &amp;amp; Odesa</title></entry></feed>"#;
    let parsed = parse(atom.as_bytes(), None, url.as_str()).unwrap();
    let items = normalize(&parsed, &url).1;
    assert_eq!(items[0].title, "Use <b> for bold");
    assert_eq!(items[1].title, "Kyiv & Odesa");
}

#[test]
fn future_dates_are_clamped_and_missing_ones_stay_missing() {
    let mut items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><title>future</title><pubDate>Fri, 01 Jan 2100 00:00:00 GMT</pubDate></item>
        <item><title>soon</title><pubDate>Mon, 03 Jun 2024 12:30:00 GMT</pubDate></item>
        <item><title>past</title><pubDate>Sat, 01 Jun 2024 00:00:00 +0200</pubDate></item>
        <item><title>none</title><pubDate>sometime</pubDate></item>
        </channel></rss>"#,
    );
    let now = chrono::DateTime::parse_from_rfc3339("2024-06-03T12:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    clamp_dates(&mut items, now);
    assert_eq!(items[0].published, Some(now));
    assert_eq!(
        items[1].published.unwrap().to_rfc3339(),
        "2024-06-03T12:30:00+00:00",
        "within the tolerance"
    );
    assert_eq!(
        items[2].published.unwrap().to_rfc3339(),
        "2024-05-31T22:00:00+00:00"
    );
    assert_eq!(items[3].published, None);
}

#[test]
fn comparison_keys_are_added_for_stored_items_only() {
    let mut items = items_of(
        r#"<rss version="2.0"><channel><title>t</title>
        <item><title>North Korea fires missile</title>
        <link>https://WWW.news.example/a?utm_source=rss&amp;id=3#x</link>
        <description>&lt;p&gt;North Korea fired a ballistic missile toward the East Sea on
        Thursday morning, South Korea's Joint Chiefs of Staff said, the third launch this
        month.&lt;/p&gt;</description></item>
        </channel></rss>"#,
    );
    let item = &mut items[0];
    assert_eq!((item.link_key.as_ref(), item.story.as_ref()), (None, None));
    add_comparison_keys(item);
    assert_eq!(item.link_key.as_deref(), Some("news.example/a?id=3"));
    let story = item.story.as_ref().unwrap();
    assert!(
        story
            .words
            .starts_with("north korea fires missile north korea fired"),
        "{}",
        story.words
    );
    // The display link is the source's.
    assert_eq!(
        item.link.as_deref(),
        Some("https://www.news.example/a?utm_source=rss&id=3#x")
    );
}

/// `add_comparison_keys` takes the lead from the match text; for every item of the corpus it
/// must give what `comparison_keys` gives from the item's title, link and HTML (the path of
/// stored items).
#[test]
fn comparison_keys_from_the_match_text_are_those_from_the_html() {
    let Some(corpus) = corpus_items() else {
        return;
    };
    let (mut items, mut sketched) = (0, 0);
    for (file, mut item) in corpus {
        let expected = comparison_keys(
            &item.title,
            item.link.as_deref(),
            item.summary.as_deref(),
            item.content.as_deref(),
        );
        add_comparison_keys(&mut item);
        assert_eq!(
            (item.link_key.clone(), item.story.clone()),
            expected,
            "{}: {}",
            file.display(),
            item.title
        );
        items += 1;
        sketched += usize::from(item.story.is_some());
    }
    assert!(
        items > 1_500 && sketched > 1_000,
        "{items} items, {sketched} sketched"
    );
}

/// Every item of the shared corpus as `normalize` makes it, with its file; `None` when the
/// corpus is not there (the caller is skipped, as `shared_text_files` says).
fn corpus_items() -> Option<Vec<(std::path::PathBuf, Item)>> {
    let files = crate::topics::fold::tests::shared_text_files()?;
    let url = url::Url::parse("https://corpus.example/feed").unwrap();
    let mut items = Vec::new();
    for file in files
        .iter()
        .filter(|file| !file.ends_with("topics-dev.tsv"))
    {
        let bytes = std::fs::read(file).unwrap();
        let Ok(parsed) = crate::parse::parse(&bytes, None, url.as_str()) else {
            continue;
        };
        items.extend(
            normalize(&parsed, &url)
                .1
                .into_iter()
                .map(|item| (file.clone(), item)),
        );
    }
    Some(items)
}

/// The topics shipped in the repository's `feeds.toml`, and topics of common words that
/// match most items, some in one field only.
fn shipped_topics() -> TopicSet {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("feeds.toml");
    let mut topics = crate::config::load(&path).unwrap().topics;
    let common = r#"
        [[feeds]]
        url = "https://corpus.example/feed"
        [[topics]]
        name = "common"
        any = ["the", "de", "и", "la", "der", "en", "の", "是"]
        [[topics]]
        name = "common-titles"
        any = ["the", "de", "и", "a*"]
        none = ["and"]
        fields = ["title"]
        [[topics]]
        name = "common-content"
        any = ["/[0-9]{4}/", "said"]
        all = ["in"]
        fields = ["summary", "content"]
    "#;
    topics.extend(
        crate::config::parse(std::path::Path::new("common.toml"), common)
            .unwrap()
            .topics,
    );
    TopicSet::compile(&topics)
}

/// The pipeline's path (`add_comparison_keys_and_match`: the sketch from the text as matching
/// folded it) gives every item of the corpus the same comparison keys and topic matches as
/// `add_comparison_keys` and `TopicSet::match_item` apart; with no topics too.
#[test]
fn keys_and_matches_from_one_fold_are_those_of_two_folds_on_every_corpus_item() {
    let Some(corpus) = corpus_items() else {
        return;
    };
    let topics = shipped_topics();
    let no_topics = TopicSet::compile(&[]);
    let source = Some("https://corpus.example/feed");
    let (mut items, mut sketched, mut matched) = (0, 0, 0);
    for (file, item) in corpus {
        let mut apart = item.clone();
        add_comparison_keys(&mut apart);
        let expected = topics.match_item(
            &crate::topics::ItemText::from_match_text(&apart.match_text),
            source,
        );
        let mut once = item.clone();
        let matches = add_comparison_keys_and_match(&mut once, &topics, source);
        assert_eq!(once, apart, "{}: {}", file.display(), item.title);
        assert_eq!(matches, expected, "{}: {}", file.display(), item.title);
        let mut alone = item;
        assert!(add_comparison_keys_and_match(&mut alone, &no_topics, source).is_empty());
        assert_eq!(alone, apart);
        items += 1;
        sketched += usize::from(once.story.is_some());
        matched += usize::from(!matches.is_empty());
    }
    assert!(
        items > 1_500 && sketched > 1_000 && matched > 1_000,
        "{items} items, {sketched} sketched, {matched} matched"
    );
}

/// `dedupe::sketch_folded` of the fields as matching folds them is `dedupe::sketch` of the
/// plain text, where folding is hard: marks and characters that take the general path at the
/// start or end of a field, look-alike letters of two scripts, CJK, elisions, dense marks,
/// punctuation-only words, empty fields, and leads shorter and longer than `LEAD_WORDS`.
#[test]
fn the_sketch_of_the_folded_fields_is_the_sketch_of_the_text() {
    let filler = "officials said on monday that the situation was being watched closely and \
                  that more details would follow later in the day";
    let long: String = (0..12).map(|n| format!("{filler} {n} ")).collect();
    let titles = [
        "",
        "—",
        "North Korea fires ballistic missile",
        "Страны ЕС и U.S.",
        "Kиeв: the mixed-script word",
        "l'Ukraine et dell'Ucraina ½ ﬁnal",
        "朝鲜DPRK发射导弹",
        "ends with a mark e\u{301}",
        "e\u{301}\u{327} a\u{308} o\u{302} u\u{30a} i\u{328} dense marks",
        "soft\u{ad}hyphen and zero\u{200b}width",
    ];
    let leads = [
        String::new(),
        "\u{301}starts with a mark, then words enough to sketch a story of its own here"
            .to_string(),
        format!("… — « {filler} » — {filler}"),
        format!("Ｆｕｌｌｗｉｄｔｈ ① ㎏ {filler} {filler}"),
        format!("北朝鮮がミサイルを発射 {filler} 北韓 미사일 발사 {filler}"),
        format!("{filler} e\u{301} a\u{308} o\u{302} u\u{30a} i\u{328} y\u{301} {long}"),
        long.clone(),
        format!("!!! ??? ... --- {long}"),
    ];
    let topics = shipped_topics();
    let mut sketched = 0;
    for title in titles {
        for lead in &leads {
            let expected = crate::dedupe::sketch(title, lead);
            let item = crate::topics::ItemText {
                title,
                summary: lead,
                content: "",
            };
            let (_, folded) = topics.match_item_with_folded(&item, None, |folded| {
                crate::dedupe::sketch_folded(folded.title(), folded.summary())
            });
            assert_eq!(folded, expected, "{title:?} / {lead:?}");
            let by_fold = crate::dedupe::sketch_folded(
                &crate::topics::fold(title),
                &crate::topics::fold(lead),
            );
            assert_eq!(by_fold, expected, "{title:?} / {lead:?}");
            sketched += usize::from(expected.is_some());
        }
    }
    assert!(sketched > 50, "{sketched}");
}
