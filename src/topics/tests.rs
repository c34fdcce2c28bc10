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
        .map(|topic_match| topic_match.topic.0)
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
    assert_eq!(matches[0].terms, vec!["nordkorea*", "pyongyang"]);
    assert_eq!(matches[1].terms, vec!["ukrain*"]);
}
