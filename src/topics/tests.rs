use std::path::Path;

use super::*;
use crate::config;

fn topic_set(topics_toml: &str) -> TopicSet {
    let text = format!("[[feeds]]\nurl = \"https://a.example/\"\n{topics_toml}");
    let config = config::parse(Path::new("feeds.toml"), &text).unwrap();
    TopicSet::compile(&config.topics)
}

#[track_caller]
fn check(set: &TopicSet, text: &str, expected: &[&str]) {
    let matched: Vec<String> = set
        .match_text(text)
        .into_iter()
        .map(|topic_match| topic_match.topic.0.to_string())
        .collect();
    assert_eq!(matched, expected, "topics of {text:?}");
}

#[test]
fn words_phrases_and_prefixes() {
    let set = topic_set(
        r#"
[[topics]]
name = "nk"
any = ["north korea", "nordkorea*", "pyongyang", "dprk"]
"#,
    );
    check(&set, "North Korea fires a missile", &["nk"]);
    check(&set, "NORTH  KOREA's leader", &["nk"]);
    check(&set, "Nordkoreas ledare", &["nk"]);
    check(&set, "nordkoreanska krigsfången", &["nk"]);
    check(&set, "A Korea in the north", &[]);
    check(&set, "Pyongyangstyle noodles", &[]);
    check(&set, "The DPRK said", &["nk"]);
}

#[test]
fn accents_and_case_fold_on_both_sides() {
    let set = topic_set(
        r#"
[[topics]]
name = "nk"
any = ["pjongjang", "Selenskyj"]
"#,
    );
    check(&set, "Besuch in Pjöngjang", &["nk"]);
    check(&set, "SELENSKYJ sagte", &["nk"]);
}

#[test]
fn cjk_terms_match_inside_words_with_exceptions() {
    let set = topic_set(
        r#"
[[topics]]
name = "nk"
any = [{ term = "북한", except = ["북한산", "북한강"] }, "北朝鮮"]
"#,
    );
    check(&set, "북한은 13일 탄도미사일을 발사했다", &["nk"]);
    check(&set, "북한산 등산로 정비", &[]);
    check(&set, "북한산 아래에서 북한의 도발을 논의", &["nk"]);
    check(&set, "北朝鮮のミサイル発射", &["nk"]);
}

#[test]
fn all_and_none_narrow_a_topic() {
    let set = topic_set(
        r#"
[[topics]]
name = "ua"
any = ["ukrain*", "kyiv"]
all = ["war"]
none = ["borscht"]
"#,
    );
    check(&set, "Ukraine war: strikes on Kyiv", &["ua"]);
    check(&set, "Ukraine election", &[]);
    check(&set, "Ukrainian borscht after the war", &[]);
}

#[test]
fn regex_terms_run_on_folded_text() {
    let set = topic_set(
        r#"
[[topics]]
name = "nk"
any = ["/kim jong un|kim yo jong/"]
"#,
    );
    check(&set, "Kim Jong-Un visits a factory", &["nk"]);
    check(&set, "Kim Yo Jong warns Seoul", &["nk"]);
    check(&set, "Kim Jong-il's birthday", &[]);
}

#[test]
fn an_item_may_match_several_topics_and_reports_terms() {
    let set = topic_set(
        r#"
[[topics]]
name = "north-korea"
any = ["nordkorea*", "pyongyang"]
[[topics]]
name = "ukraine"
any = ["ukrain*"]
"#,
    );
    let matches = set.match_text("Första nordkoreanska krigsfången i Ukraina, Pyongyang tyst");
    assert_eq!(matches.len(), 2);
    let terms = |index: usize| -> Vec<&str> { matches[index].terms.iter().collect() };
    assert_eq!(terms(0), vec!["nordkorea*", "pyongyang"]);
    assert_eq!(terms(1), vec!["ukrain*"]);
}

fn topic_set_with_feeds(feeds_toml: &str, topics_toml: &str) -> TopicSet {
    let text = format!("{feeds_toml}\n{topics_toml}");
    let config = config::parse(Path::new("feeds.toml"), &text).unwrap();
    TopicSet::compile(&config.topics)
}

fn slugs(matches: &[TopicMatch]) -> Vec<&str> {
    matches.iter().map(|found| found.topic.as_str()).collect()
}

#[test]
fn hard_text_from_real_feeds_still_matches() {
    let set = topic_set(
        r#"
[[topics]]
name = "ua"
any = ["ukrain*", "ucrain*", "kyiv", "зеленськ*", "kcna", "strasse", "οδυσσεασ"]
[[topics]]
name = "nk"
any = ["朝鲜", "dprk"]
"#,
    );
    // Elided articles.
    check(&set, "Les frappes sur l'Ukraine continuent", &["ua"]);
    check(&set, "Gli aiuti dell’Ucraina al fronte", &["ua"]);
    // Soft hyphen and zero-width space inside a word.
    check(&set, "Ukrai\u{ad}nekrieg: neue Angriffe", &["ua"]);
    check(&set, "Ky\u{200b}iv under fire", &["ua"]);
    // Fullwidth Latin and a non-breaking space.
    check(&set, "ＫＣＮＡ\u{a0}reports", &["ua"]);
    check(&set, "In\u{a0}Kyiv\u{a0}today", &["ua"]);
    // A Latin e inside a Cyrillic word.
    check(&set, "Зелeнський провів нараду", &["ua"]);
    // CJK with no space before a Latin word.
    check(&set, "朝鲜DPRK发射导弹", &["nk"]);
    check(&set, "DPRK朝鲜", &["nk"]);
    // Full case folding: ß is ss, a final ς is σ.
    check(&set, "Sperrung der Hauptstraße", &[]);
    check(&set, "STRASSE gesperrt", &["ua"]);
    check(&set, "Straße gesperrt", &["ua"]);
    check(&set, "ΟΔΥΣΣΕΑΣ", &["ua"]);
    check(&set, "Οδυσσέας", &["ua"]);
    // Dashes separate words.
    check(&set, "Russia–Ukraine talks", &["ua"]);
}

#[test]
fn korean_particles_follow_the_noun() {
    let set = topic_set("[[topics]]\nname = \"nk\"\nany = [\"북한\"]\n");
    for text in [
        "북한은 발사했다",
        "북한의 도발",
        "북한이 쏘았다",
        "친북한 단체",
    ] {
        check(&set, text, &["nk"]);
    }
}

#[test]
fn a_hit_starts_at_a_word_even_where_a_longer_literal_ends_alike() {
    // The automaton walked from "nkorea" also ends "korea" there; only literals that start
    // at the word count.
    let set = topic_set(
        "[[topics]]\nname = \"a\"\nany = [\"korea\"]\n[[topics]]\nname = \"b\"\nany = [\"nkorea\"]\n",
    );
    check(&set, "NKorea", &["b"]);
    check(&set, "N. Korea", &["a"]);
    check(&set, "nkoreas", &[]);
    check(&set, "the nkorea korea story", &["a", "b"]);
}

#[test]
fn a_term_mixing_cjk_and_latin_needs_boundaries_at_its_latin_ends() {
    // A CJK end may sit inside a CJK word; a Latin end is a word boundary, as for any term.
    let set = topic_set(
        "[[topics]]\nname = \"kcna\"\nany = [\"KCNA報道\"]\n[[topics]]\nname = \"nk\"\nany = [\"朝鲜DPRK\"]\n",
    );
    check(&set, "KCNA報道によると", &["kcna"]);
    check(&set, "XKCNA報道", &[]);
    check(&set, "北朝鲜DPRK发射", &["nk"]);
    check(&set, "朝鲜DPRKS", &[]);
}

#[test]
fn fields_limit_what_a_topic_looks_at() {
    let set = topic_set(
        r#"
[[topics]]
name = "titles"
any = ["kyiv"]
fields = ["title"]
[[topics]]
name = "everywhere"
any = ["kyiv"]
"#,
    );
    let in_summary = ItemText {
        title: "Markets close higher",
        summary: "Shares rose in Kyiv too",
        content: "",
    };
    assert_eq!(slugs(&set.match_item(&in_summary, None)), ["everywhere"]);
    let in_title = ItemText {
        title: "Kyiv markets close higher",
        ..ItemText::default()
    };
    assert_eq!(
        slugs(&set.match_item(&in_title, None)),
        ["titles", "everywhere"]
    );
}

#[test]
fn a_phrase_does_not_span_two_fields() {
    let set = topic_set("[[topics]]\nname = \"nk\"\nany = [\"north korea\"]\n");
    let item = ItemText {
        title: "Wind from the north",
        summary: "Korea braces for a typhoon",
        content: "",
    };
    assert!(set.match_item(&item, None).is_empty());
}

#[test]
fn feeds_and_tags_scope_a_topic_to_some_sources() {
    let set = topic_set_with_feeds(
        r#"
[[feeds]]
url = "https://ko.example/rss"
name = "Korean wire"
tags = ["ko"]
[[feeds]]
url = "https://en.example/rss"
[[feeds]]
url = "https://jp.example/rss"
tags = ["ja"]
"#,
        r#"
[[topics]]
name = "scoped"
any = ["missile"]
feeds = ["https://en.example/rss"]
tags = ["ko"]
[[topics]]
name = "open"
any = ["missile"]
"#,
    );
    let item = ItemText::from_match_text("Missile launch");
    for (source, expected) in [
        ("https://ko.example/rss", &["scoped", "open"][..]),
        ("https://en.example/rss", &["scoped", "open"][..]),
        ("https://jp.example/rss", &["open"][..]),
    ] {
        assert_eq!(
            slugs(&set.match_item(&item, Some(source))),
            expected,
            "{source}"
        );
    }
    assert_eq!(slugs(&set.match_item(&item, None)), ["open"]);
}

#[test]
fn regexes_run_only_when_the_literals_leave_a_match_possible() {
    let set = topic_set(
        r#"
[[topics]]
name = "a"
any = ["kim", "/kim jong.?un/"]
all = ["/missile/"]
none = ["recipe"]
"#,
    );
    let runs = || terms::REGEX_RUNS.with(std::cell::Cell::get);
    let before = runs();
    // No `any` literal needed here: the any regex is skipped when a literal hit...
    check(&set, "Kim watches a missile test", &["a"]);
    assert_eq!(runs() - before, 1, "only the `all` regex runs");
    // ...and nothing runs when a literal `none` term already vetoes.
    let before = runs();
    check(&set, "Kim's recipe for missile noodles", &[]);
    assert_eq!(runs() - before, 0);
    // Nor when no `any` literal can hit and ... the any regex must run: it is the only hope.
    let before = runs();
    check(&set, "Weather", &[]);
    assert_eq!(runs() - before, 1);
}

#[test]
fn explain_says_why_for_every_topic() {
    let set = topic_set(
        r#"
[[topics]]
name = "nk"
any = [{ term = "북한", except = ["북한산"] }, "nordkorea*"]
[[topics]]
name = "war"
any = ["ukrain*"]
all = ["war"]
[[topics]]
name = "food"
any = ["ukrain*"]
none = ["borscht"]
[[topics]]
name = "other"
any = ["chile"]
"#,
    );
    let item = ItemText {
        title: "Nordkoreanska soldater i Ukraina",
        summary: "borscht 북한산",
        content: "",
    };
    let explained = set.explain(&item, None);
    let verdicts: Vec<&Verdict> = explained.iter().map(|found| &found.verdict).collect();
    assert_eq!(
        verdicts,
        [
            &Verdict::Matched,
            &Verdict::MissingAll(vec!["war".to_string()]),
            &Verdict::Vetoed(vec!["borscht".to_string()]),
            &Verdict::NoAnyTerm,
        ]
    );
    let nk = explained[0].to_string();
    assert!(nk.starts_with("nk (nk): matched"), "{nk}");
    assert!(nk.contains("hit \"nordkoreanska\" in the title"), "{nk}");
    assert!(
        nk.contains("\"북한\" in the summary does not count"),
        "{nk}"
    );
    assert!(
        explained[1]
            .to_string()
            .contains("`all` term missing: \"war\"")
    );
    assert!(
        explained[2]
            .to_string()
            .contains("vetoed by `none` term \"borscht\"")
    );
    // Explanations agree with matching.
    let matched = set.match_item(&item, None);
    assert_eq!(slugs(&matched), ["nk"]);
}

#[test]
fn topics_that_cannot_match_are_warned_about() {
    let set = topic_set(
        r#"
[[topics]]
name = "vetoed"
any = ["kyiv"]
all = ["war"]
none = ["war"]
[[topics]]
name = "invisible"
any = ["ㅤ"]
[[topics]]
name = "exceptions"
any = [{ term = "북한", except = ["북한", "남한"] }, "pyongyang"]
[[topics]]
name = "fine"
any = ["kyiv*"]
none = ["kyiv"]
"#,
    );
    let warnings: Vec<String> = set.warnings().iter().map(ToString::to_string).collect();
    let has = |needle: &str| warnings.iter().any(|warning| warning.contains(needle));
    assert!(
        has("topic \"vetoed\": all term \"war\" is always vetoed"),
        "{warnings:#?}"
    );
    assert!(
        has("topic \"vetoed\": the `all` term \"war\" can never count, so the topic cannot match"),
        "{warnings:#?}"
    );
    assert!(
        has("topic \"invisible\": any term \"ㅤ\" folds to nothing"),
        "{warnings:#?}"
    );
    assert!(
        has("topic \"invisible\": none of its `any` terms can count"),
        "{warnings:#?}"
    );
    assert!(
        has("the exception \"북한\" covers every hit"),
        "{warnings:#?}"
    );
    assert!(
        has("the exception \"남한\" does not contain the term"),
        "{warnings:#?}"
    );
    assert!(!has("topic \"fine\""), "{warnings:#?}");
    assert!(!has("exceptions\": none of its"), "{warnings:#?}");
    // Warnings carry the place of the term.
    assert!(
        warnings
            .iter()
            .any(|warning| warning.starts_with("7:8: topic \"vetoed\"")),
        "{warnings:#?}"
    );
}

#[test]
fn a_term_written_twice_in_one_list_is_warned_about_since_its_exceptions_do_not_add_up() {
    let set = topic_set(
        r#"
[[topics]]
name = "twice"
any = [
  { term = "poltav*", except = ["battle of poltava"] },
  "kyiv",
  { term = "Poltav*", except = ["slaget vid poltava"] },
]
none = ["kyiv"]
"#,
    );
    // Each copy cancels only its own exception's hits: the battle still counts through the
    // second copy. That is what the warning is for.
    check(&set, "Battle of Poltava remembered", &["twice"]);
    let warnings: Vec<String> = set.warnings().iter().map(ToString::to_string).collect();
    let twice: Vec<&String> = warnings
        .iter()
        .filter(|warning| warning.contains("is the same term as"))
        .collect();
    assert_eq!(twice.len(), 1, "{warnings:#?}");
    assert!(
        twice[0].starts_with(
            "9:3: topic \"twice\": any term \"Poltav*\" is the same term as \"poltav*\" at 7:3"
        ),
        "{warnings:#?}"
    );
    // The same term in two lists is another matter (here a veto), not a copy.
    assert!(
        !warnings
            .iter()
            .any(|warning| warning.contains("term \"kyiv\" is the same")),
        "{warnings:#?}"
    );
}

#[test]
fn a_topic_scoped_to_no_feed_is_warned_about() {
    let set = topic_set_with_feeds(
        "[[feeds]]\nurl = \"https://a.example/\"\ntags = [\"en\"]\n",
        "[[topics]]\nname = \"t\"\nany = [\"x\"]\ntags = [\"sv\"]\n",
    );
    assert_eq!(set.warnings().len(), 1, "{:?}", set.warnings());
    assert!(
        set.warnings()[0]
            .message
            .contains("select no configured feed")
    );
}
