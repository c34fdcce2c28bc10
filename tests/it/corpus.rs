//! Every document of `../shared/corpus` through the whole pure path and the store: parse,
//! normalize, match the shipped topics, store, read back, render Atom, and read the Atom back
//! with feed-rs. Nothing may panic, every rendered feed must parse, and each document must come
//! out as `corpus_expected.tsv` says: parsed with that many items and that first title, or
//! refused for that reason. The expectations were checked one by one against Python's
//! feedparser (see the file's header); `TIDINGS_CORPUS_ACTUAL=path` writes what this build
//! produced in the same format, to compare or review a change.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use tidings::model::OutputEntry;
use tidings::normalize::normalize;
use tidings::parse::{ParseError, parse};
use tidings::publish::{OutputFeed, render_atom};
use tidings::store::Store;
use tidings::topics::TopicSet;
use url::Url;

use crate::support::{corpus_listing, record_document, shipped_loaded};

#[test]
fn every_corpus_document_is_stored_and_republished_as_valid_atom() {
    let Some((manifest, files)) = corpus_listing() else {
        return;
    };
    let corpus = manifest.parent().unwrap().to_path_buf();
    let shipped = shipped_loaded();
    let topics = TopicSet::compile(&shipped.topics);
    let store = Store::open_in_memory().unwrap();
    assert!(
        files.len() > 300,
        "the manifest lists {} files",
        files.len()
    );
    let content_types = manifest_content_types(&manifest);
    let expected = expectations();
    let mut actual: BTreeMap<String, String> = BTreeMap::new();
    let (mut parsed, mut refused, mut items_total) = (0, 0, 0);
    let mut markup_titles = Vec::new();
    for (index, file) in files.iter().enumerate() {
        let body = std::fs::read(corpus.join(file)).unwrap();
        let feed_url = Url::parse(&format!("https://corpus.example/{file}")).unwrap();
        let content_type = content_types.get(file).map(String::as_str);
        let document = match parse(&body, content_type, feed_url.as_str()) {
            Ok(document) => document,
            Err(error) => {
                // A refusal must say why.
                assert!(!error.to_string().is_empty(), "{file}");
                refused += 1;
                actual.insert(file.clone(), format!("refused\t\t{}", refusal_kind(&error)));
                continue;
            }
        };
        parsed += 1;
        let (meta, items) = normalize(&document, &feed_url);
        items_total += items.len();
        for item in &items {
            assert!(!item.title.is_empty(), "{file}: an item without a title");
            // This one's text is literally "<br />" (escaped in the source), which is right.
            let literal_markup = file.ends_with("feedparser_rss_item_description_code_br.xml");
            if let Err(problem) = plain_text_problem(&item.title)
                && !literal_markup
            {
                markup_titles.push(format!("{file}: {problem} in title {:?}", item.title));
            }
        }
        actual.insert(
            file.clone(),
            format!(
                "parsed\t{}\t{}",
                items.len(),
                items.first().map_or_else(
                    || format!("feed: {}", meta.title.as_deref().unwrap_or("")),
                    |item| item.title.clone()
                )
            ),
        );
        let rows = store
            .sync_feeds(&[(feed_url.as_str(), Some(file.as_str()))])
            .unwrap();
        record_document(&store, rows[0].id, meta, items, &topics)
            .unwrap_or_else(|error| panic!("{file} ({index}): {error}"));
        let entries: Vec<OutputEntry> = store.entries(None, 500).unwrap();
        check_render(file, entries);
    }
    eprintln!(
        "corpus: {parsed} documents parsed ({items_total} items), {refused} refused, of {}",
        files.len()
    );
    eprintln!(
        "titles that look like markup:\n{}",
        markup_titles.join("\n")
    );
    if let Some(path) = std::env::var_os("TIDINGS_CORPUS_ACTUAL") {
        let lines: String = actual
            .iter()
            .map(|(file, outcome)| format!("{file}\t{outcome}\n"))
            .collect();
        std::fs::write(path, lines).unwrap();
    }
    let mut wrong = Vec::new();
    for file in &files {
        let got = actual.get(file).map_or("(not run)", String::as_str);
        match expected.get(file.as_str()) {
            Some(want) if want == got => {}
            Some(want) => wrong.push(format!("{file}: expected {want:?}, got {got:?}")),
            None => wrong.push(format!("{file}: no expectation (got {got:?})")),
        }
    }
    for file in expected.keys() {
        if !files.iter().any(|listed| listed == file) {
            wrong.push(format!("{file}: expected but not in the manifest"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} of {} corpus documents differ from tests/it/corpus_expected.tsv:\n{}",
        wrong.len(),
        files.len(),
        wrong.join("\n")
    );
    for topic in ["north-korea", "ukraine"] {
        check_render(topic, store.entries(Some(topic), 500).unwrap());
    }
}

/// Renders entries as Atom and reads them back with feed-rs.
#[track_caller]
fn check_render(what: &str, entries: Vec<OutputEntry>) {
    let count = entries.len();
    let feed = OutputFeed::new("all", "All sources", "http://127.0.0.1:8080", entries);
    let rendered = render_atom(&feed).unwrap();
    let read = feed_rs::parser::parse(rendered.body.as_slice())
        .unwrap_or_else(|error| panic!("after {what}: the rendered feed does not parse: {error}"));
    assert_eq!(read.entries.len(), count, "after {what}");
}

/// file → (outcome, items, title or refusal) as one tab-separated string, from
/// `corpus_expected.tsv` (lines starting with `#` are comments).
fn expectations() -> HashMap<&'static str, String> {
    include_str!("corpus_expected.tsv")
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (file, rest) = line.split_once('\t').unwrap();
            (file, rest.to_string())
        })
        .collect()
}

/// The HTTP `Content-Type` that the manifest's notes give a document (`header=Content-type:
/// ...`), as the feedparser test server would have sent it.
pub(crate) fn manifest_content_types(manifest: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let columns: Vec<&str> = line.split('\t').collect();
            let notes = columns.get(8)?;
            let header = notes
                .split("; description=")
                .next()?
                .strip_prefix("header=")?;
            let (name, value) = header.split_once(':')?;
            name.eq_ignore_ascii_case("content-type")
                .then(|| (columns[0].to_string(), value.trim().replace("\\\"", "\"")))
        })
        .collect()
}

fn refusal_kind(error: &ParseError) -> &'static str {
    match error {
        ParseError::Empty => "empty",
        ParseError::NotAFeed { .. } => "html",
        ParseError::OtherXml { .. } => "other-xml",
        ParseError::Invalid(_) => "invalid",
        ParseError::OwnOutput { .. } => "own-output",
    }
}

/// A title is plain text: no tags, no entities left undecoded, no runs of whitespace.
fn plain_text_problem(title: &str) -> Result<(), &'static str> {
    let lower = title.to_ascii_lowercase();
    for markup in [
        "<p>",
        "<br",
        "<a ",
        "</",
        "<img",
        "<div",
        "<span",
        "<b>",
        "<i>",
        "<![cdata[",
    ] {
        if lower.contains(markup) {
            return Err("markup");
        }
    }
    for entity in ["&amp;", "&lt;", "&gt;", "&quot;", "&nbsp;", "&#", "&apos;"] {
        if lower.contains(entity) {
            return Err("an undecoded entity");
        }
    }
    if title.contains("  ") || title.contains(['\n', '\t', '\r']) || title.trim() != title {
        return Err("unfolded whitespace");
    }
    Ok(())
}
