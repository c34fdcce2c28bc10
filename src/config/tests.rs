use super::*;

#[track_caller]
fn check_error(text: &str, expected: &str) {
    let error = parse(Path::new("feeds.toml"), text).expect_err("config should be refused");
    let message = error.to_string();
    assert!(
        message.starts_with(expected),
        "expected an error starting with {expected:?}, got {message:?}"
    );
}

const GOOD: &str = r#"
[settings]
interval = "10m"
retention = "30d"

[[feeds]]
url = "https://example.org/rss.xml"
name = "Example"

[[feeds]]
url = "https://example.net/atom.xml"
interval = "1h"
tags = ["en"]

[[topics]]
name = "north-korea"
title = "North Korea"
any = ["north korea", "nordkorea*", { term = "북한", except = ["북한산"] }, "/kim jong[ -]?un/"]
none = ["korean bbq"]
"#;

#[test]
fn good_config_is_typed() {
    let config = parse(Path::new("feeds.toml"), GOOD).unwrap();
    assert_eq!(config.feeds.len(), 2);
    assert_eq!(config.feeds[0].interval, Duration::from_secs(600));
    assert_eq!(config.feeds[1].interval, Duration::from_secs(3600));
    assert_eq!(config.settings.retention, Duration::from_secs(30 * 86_400));
    let topic = &config.topics[0];
    assert_eq!(topic.slug.as_str(), "north-korea");
    assert_eq!(topic.any.len(), 4);
    assert!(matches!(
        &topic.any[1].syntax,
        TermSyntax::Literal { text, prefix: true } if text == "nordkorea"
    ));
    assert_eq!(topic.any[2].except.len(), 1);
    assert!(matches!(topic.any[3].syntax, TermSyntax::Regex(_)));
    assert_eq!(topic.any[0].location.line, 18);
}

#[test]
fn unknown_key_names_its_place() {
    check_error(
        "[[feeds]]\nurl = \"https://a.example/\"\nintervall = \"5m\"\n",
        "feeds.toml:3:1: unknown field `intervall`",
    );
}

#[test]
fn wrong_type_names_its_place() {
    check_error(
        "[[feeds]]\nurl = 42\n",
        "feeds.toml:2:7: invalid type: integer `42`, expected a string",
    );
}

#[test]
fn bad_url_names_its_place() {
    check_error(
        "[[feeds]]\nurl = \"not a url\"\n",
        "feeds.toml:2:7: bad feed url \"not a url\"",
    );
    check_error(
        "[[feeds]]\nurl = \"ftp://example.org/feed\"\n",
        "feeds.toml:2:7: feed url \"ftp://example.org/feed\" must be an http or https URL",
    );
}

#[test]
fn duplicates_are_refused() {
    check_error(
        "[[feeds]]\nurl = \"https://a.example/feed\"\n[[feeds]]\nurl = \"https://A.example/feed\"\n",
        "feeds.toml:4:7: duplicate feed url https://a.example/feed (first listed at line 2)",
    );
    check_error(
        "[[feeds]]\nurl = \"https://a.example/1\"\nname = \"A\"\n[[feeds]]\nurl = \"https://a.example/2\"\nname = \"a\"\n",
        "feeds.toml:6:8: duplicate feed name \"a\"",
    );
    check_error(
        "[[feeds]]\nurl = \"https://a.example/1\"\n[[topics]]\nname = \"x\"\nany = [\"a\"]\n[[topics]]\nname = \"x\"\nany = [\"b\"]\n",
        "feeds.toml:7:8: duplicate topic name \"x\"",
    );
}

#[test]
fn bad_durations_are_refused() {
    check_error(
        "[settings]\ninterval = \"15\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
        "feeds.toml:2:12: duration \"15\" has no unit",
    );
    check_error(
        "[[feeds]]\nurl = \"https://a.example/\"\ninterval = \"often\"\n",
        "feeds.toml:3:12: bad duration \"often\"",
    );
}

#[test]
fn empty_or_feedless_configs_are_refused() {
    check_error("", "feeds.toml:1:1: the config is empty");
    check_error("  \n# only a comment\n", "feeds.toml:1:1: no [[feeds]]");
}

#[test]
fn bad_terms_are_refused() {
    let base = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"t\"\n";
    check_error(
        &format!("{base}any = [\"/([a-z/\"]\n"),
        "feeds.toml:5:8: bad regex term /([a-z/",
    );
    check_error(
        &format!("{base}any = [\"*\"]\n"),
        "feeds.toml:5:8: term \"*\"",
    );
    check_error(
        &format!("{base}any = [\"\"]\n"),
        "feeds.toml:5:8: term \"\" has no letters",
    );
    check_error(
        &format!("{base}any = [\"a*b\"]\n"),
        "feeds.toml:5:8: term \"a*b\"",
    );
    check_error(
        &format!("{base}any = []\n"),
        "feeds.toml:4:8: topic \"t\" has no `any` terms",
    );
}

#[test]
fn topic_names_are_slugs() {
    let base = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\n";
    check_error(
        &format!("{base}name = \"North Korea\"\nany = [\"a\"]\n"),
        "feeds.toml:4:8: topic name \"North Korea\" must be a URL slug",
    );
    check_error(
        &format!("{base}name = \"all\"\nany = [\"a\"]\n"),
        "feeds.toml:4:8: topic name \"all\" is reserved",
    );
}

#[test]
fn location_counts_characters_not_bytes() {
    let text = "a = \"åäö\" x";
    let offset = text.find('x').unwrap();
    assert_eq!(
        Location::of_offset(text, offset),
        Location {
            line: 1,
            column: 11
        }
    );
}

#[test]
fn polling_bounds_are_checked() {
    check_error(
        "[settings]\nmin_interval = \"10m\"\nmax_interval = \"5m\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
        "feeds.toml:3:16: max_interval (5m) is shorter than min_interval (10m)",
    );
    check_error(
        "[[feeds]]\nurl = \"https://a.example/\"\ninterval = \"10s\"\n",
        "feeds.toml:3:12: interval 10s is outside [min_interval, max_interval] = [1m, 1day]",
    );
    check_error(
        "[settings]\nmax_body = \"16 parsecs\"\n[[feeds]]\nurl = \"https://a.example/\"\n",
        "feeds.toml:2:12: unknown size unit",
    );
    let config = parse(
        Path::new("feeds.toml"),
        "[settings]\nmax_body = \"2MiB\"\nper_host = 4\nmin_interval = \"100ms\"\n[[feeds]]\nurl = \"https://a.example/\"\ninterval = \"200ms\"\n",
    )
    .unwrap();
    assert_eq!(config.settings.max_body, 2 << 20);
    assert_eq!(config.settings.per_host, 4);
    assert_eq!(config.feeds[0].interval, Duration::from_millis(200));
}

#[test]
fn topic_scopes_and_fields_are_checked() {
    let feeds = "[[feeds]]\nurl = \"https://a.example/rss\"\nname = \"Alpha\"\ntags = [\"ko\"]\n\
                 [[feeds]]\nurl = \"https://b.example/rss\"\n";
    let config = parse(
        Path::new("feeds.toml"),
        &format!(
            "{feeds}[[topics]]\nname = \"t\"\nany = [\"x\"]\nfeeds = [\"alpha\", \"https://b.example/rss\"]\n\
             [[topics]]\nname = \"u\"\nany = [\"x\"]\ntags = [\"ko\"]\nfields = [\"title\", \"summary\"]\n\
             [[topics]]\nname = \"v\"\nany = [\"x\"]\n"
        ),
    )
    .unwrap();
    assert_eq!(
        config.topics[0].sources,
        Some(vec![
            "https://a.example/rss".to_string(),
            "https://b.example/rss".to_string()
        ])
    );
    assert_eq!(
        config.topics[1].sources,
        Some(vec!["https://a.example/rss".to_string()])
    );
    assert_eq!(
        config.topics[1].fields,
        Fields {
            title: true,
            summary: true,
            content: false
        }
    );
    assert_eq!(config.topics[2].sources, None);
    assert_eq!(config.topics[2].fields, Fields::ALL);

    let base = format!("{feeds}[[topics]]\nname = \"t\"\nany = [\"x\"]\n");
    check_error(
        &format!("{base}feeds = [\"Gamma\"]\n"),
        "feeds.toml:10:10: topic feeds: no [[feeds]] has the name or url \"Gamma\"",
    );
    check_error(
        &format!("{base}fields = [\"body\"]\n"),
        "feeds.toml:10:11: unknown field \"body\"",
    );
    check_error(
        &format!("{base}fields = []\n"),
        "feeds.toml:10:10: `fields` is empty",
    );
}

#[test]
fn a_regex_that_matches_the_empty_string_is_refused() {
    let base = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"t\"\n";
    check_error(
        &format!("{base}any = [\"kyiv\", \"/x?/\"]\n"),
        "feeds.toml:5:16: regex term /x?/ matches the empty string",
    );
}

#[test]
fn max_items_is_a_positive_count() {
    let good = "[[feeds]]\nurl = \"https://a.example/\"\nmax_items = 200\n";
    let config = parse(Path::new("feeds.toml"), good).unwrap();
    assert_eq!(config.feeds[0].max_items, Some(200));
    let bad = "[[feeds]]\nurl = \"https://a.example/\"\nmax_items = 0\n";
    let error = parse(Path::new("feeds.toml"), bad).unwrap_err().to_string();
    assert!(
        error.starts_with("feeds.toml:3:13: max_items must be at least 1"),
        "{error}"
    );
}

#[test]
fn locations_by_line_index_agree_with_counting_from_the_top() {
    let text =
        "[settings]\ninterval = \"15m\"\n\n[[topics]]\nname = \"ö\"\nany = [\"x\", \"åä\"]\n";
    for offset in 0..=text.len() + 3 {
        let counted = {
            let offset = offset.min(text.len());
            let before = &text.as_bytes()[..offset];
            let line = before.iter().filter(|&&byte| byte == b'\n').count() + 1;
            let line_start = before
                .iter()
                .rposition(|&byte| byte == b'\n')
                .map_or(0, |index| index + 1);
            let column = String::from_utf8_lossy(&before[line_start..])
                .chars()
                .count()
                + 1;
            Location { line, column }
        };
        if text.is_char_boundary(offset.min(text.len())) {
            assert_eq!(
                Location::of_offset(text, offset),
                counted,
                "offset {offset}"
            );
        }
    }
}
