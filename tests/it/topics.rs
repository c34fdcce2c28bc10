//! The shipped topics against the labelled multilingual headlines of
//! `../shared/topics-dev.tsv`: every miss and false hit is printed by id, and precision and
//! recall must stay above the floor.

use std::path::Path;

use tidings::config;
use tidings::topics::TopicSet;

use crate::support::shared_file;

#[test]
fn shipped_topics_on_the_labelled_headlines() {
    let Some(path) = shared_file("topics-dev.tsv") else {
        return;
    };
    let shipped = config::load(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/feeds.toml"
    )))
    .unwrap();
    let topics = TopicSet::compile(&shipped.topics);
    let table = std::fs::read_to_string(path).unwrap();
    let mut report = Vec::new();
    for topic in ["north-korea", "ukraine"] {
        let (mut true_positive, mut false_positive, mut false_negative) = (0, 0, 0);
        for line in table.lines().skip(1) {
            let columns: Vec<&str> = line.split('\t').collect();
            let [id, _lang, title, summary, expected] = columns[..] else {
                panic!("bad row: {line}");
            };
            let wanted = expected.split(',').any(|label| label.trim() == topic);
            let got = topics
                .match_text(&format!("{title}\n{summary}"))
                .iter()
                .any(|topic_match| topic_match.topic.as_str() == topic);
            match (wanted, got) {
                (true, true) => true_positive += 1,
                (false, true) => {
                    false_positive += 1;
                    report.push(format!("{topic}: false hit {id} {title}"));
                }
                (true, false) => {
                    false_negative += 1;
                    report.push(format!("{topic}: missed {id} {title}"));
                }
                (false, false) => {}
            }
        }
        let precision =
            f64::from(true_positive) / f64::from((true_positive + false_positive).max(1));
        let recall = f64::from(true_positive) / f64::from((true_positive + false_negative).max(1));
        report.push(format!(
            "{topic}: precision {precision:.3}, recall {recall:.3}"
        ));
        eprintln!("{}", report.join("\n"));
        assert!(
            precision >= 0.95,
            "{topic} precision {precision:.3}\n{}",
            report.join("\n")
        );
        assert!(
            recall >= 0.90,
            "{topic} recall {recall:.3}\n{}",
            report.join("\n")
        );
    }
}
