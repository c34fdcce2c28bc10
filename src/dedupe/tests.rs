use super::*;

const LEAD: &str = "North Korea fired a short-range ballistic missile into the sea off its \
    east coast on Tuesday, South Korea's military said, the third launch this month as \
    Pyongyang protests joint drills by Seoul and Washington.";

#[test]
fn a_light_edit_is_the_same_story() {
    let a = sketch("North Korea fires ballistic missile into sea", LEAD).unwrap();
    let edited = format!("SEOUL (AP) -- {}", LEAD.replace("protests", "objects to"));
    let b = sketch(
        "N. Korea fires ballistic missile into sea, Seoul says",
        &edited,
    )
    .unwrap();
    assert!(same_story(&a.words, &b.words));
    assert!(grouped(&a, &b));
}

#[test]
fn a_bare_headline_is_never_grouped() {
    assert!(sketch("North Korea fires ballistic missile into sea", "").is_none());
    assert!(!same_story(
        "north korea fires missile",
        "north korea fires missile"
    ));
}

#[test]
fn numbers_that_disagree_keep_reports_apart() {
    let monday = "Russia launched 112 drones and 3 missiles at Ukraine overnight, of which 95 \
        drones were shot down, Ukraine's air force said on its Telegram channel.";
    let tuesday = "Russia launched 87 drones and 2 missiles at Ukraine overnight, of which 71 \
        drones were shot down, Ukraine's air force said on its Telegram channel.";
    let a = sketch("Air force: drones shot down overnight", monday).unwrap();
    let b = sketch("Air force: drones shot down overnight", tuesday).unwrap();
    assert!(!same_story(&a.words, &b.words));
}

#[test]
fn sketches_are_stable_and_cjk_is_split_into_characters() {
    let a = sketch(
        "北朝鮮が弾道ミサイルを発射",
        "日本の排他的経済水域の外に落下したとみられると防衛省が発表した",
    )
    .unwrap();
    let b = sketch(
        "北朝鮮が弾道ミサイルを発射",
        "日本の排他的経済水域の外に落下したとみられると防衛省が発表した",
    )
    .unwrap();
    assert_eq!(a, b);
    assert!(a.words.starts_with("北 朝 鮮"));
    assert_eq!(a.bands.len(), BANDS);
}

#[test]
fn the_bands_of_a_stored_story_text_are_its_sketch_bands() {
    let sketch = sketch("North Korea fires ballistic missile into sea", LEAD).unwrap();
    assert_eq!(bands_of_words(&sketch.words), sketch.bands);
    let cjk = super::sketch(
        "北朝鮮が弾道ミサイルを発射",
        "北朝鮮は火曜日の朝、東の海に向けて短距離弾道ミサイル一発を発射したと韓国軍が発表した。",
    )
    .unwrap();
    assert_eq!(bands_of_words(&cjk.words), cjk.bands);
}

#[test]
fn story_texts_measure_the_shingles_that_the_bands_sample() {
    // The comparison hashes words its own way; its Jaccard similarity must still be that of
    // the three-word runs (here counted on the strings themselves).
    let a = sketch("North Korea fires ballistic missile into sea", LEAD).unwrap();
    let edited = LEAD
        .replace("protests", "objects to")
        .replace("Tuesday", "Wednesday");
    let b = sketch("North Korea fires a missile into the sea", &edited).unwrap();
    let runs = |words: &str| -> std::collections::BTreeSet<String> {
        let words: Vec<&str> = words.split(' ').collect();
        words.windows(3).map(|run| run.join(" ")).collect()
    };
    let (runs_a, runs_b) = (runs(&a.words), runs(&b.words));
    let shared = runs_a.intersection(&runs_b).count() as f64;
    let union = runs_a.union(&runs_b).count() as f64;
    let smaller = runs_a.len().min(runs_b.len()) as f64;
    let (jaccard, containment) = similarity(&a.words, &b.words).unwrap();
    assert!(shared > 0.0 && shared < union);
    assert_eq!(jaccard, shared / union);
    assert_eq!(containment, shared / smaller);
}

/// The story words as first written: the whole text folded, then cut to `LEAD_WORDS`.
fn story_words_of_the_whole_text(title: &str, lead: &str) -> String {
    let folded = crate::topics::fold::fold(&format!("{title} {lead}"));
    let mut words: Vec<String> = Vec::new();
    for word in folded.split(' ').filter(|word| !word.is_empty()) {
        if word.chars().any(crate::topics::fold::is_cjk) {
            words.extend(word.chars().map(String::from));
        } else {
            words.push(word.to_string());
        }
    }
    words.truncate(LEAD_WORDS);
    words.join(" ")
}

#[test]
fn folding_only_the_first_runs_of_a_lead_gives_the_same_words() {
    let long: String = (0..200).map(|n| format!("word{n}, ")).collect();
    let cases = [
        ("Title", long.as_str()),
        (
            "北朝鮮",
            "北朝鮮が弾道ミサイルを発射 日本の排他的経済水域の外に落下",
        ),
        (
            "Ｕｋｒａｉｎｅ",
            "l'Ukraine\u{a0}et\u{2003}la\u{3000}Russie — ça va ?",
        ),
        (
            "",
            " \t\n leading  white\u{200b}space and soft\u{ad}hyphens ",
        ),
        ("ΟΔΟΣ", "ΟΔΟΣ ΟΔΟΣ. Σίσυφος"),
    ];
    for (title, lead) in cases {
        let whole = story_words_of_the_whole_text(title, lead);
        let text = StoryText::new(&whole);
        let (words, hashes) = story_words(title, lead);
        assert_eq!((words, hashes.finish().1), (whole, text));
    }
    let Some(files) = crate::topics::fold::tests::shared_text_files() else {
        return;
    };
    let mut compared = 0;
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        // Every line as a lead, and runs of lines as longer leads.
        let lines: Vec<&str> = text.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let block = if index % 12 == 0 {
                lines[index..(index + 12).min(lines.len())].join("\n")
            } else {
                String::new()
            };
            for lead in [*line, block.as_str()] {
                // The words, and the text prepared as they were collected, are those of the
                // whole text and of its words prepared afresh.
                let whole = story_words_of_the_whole_text("Title", lead);
                let text = StoryText::new(&whole);
                let (words, hashes) = story_words("Title", lead);
                assert_eq!(
                    (words, hashes.finish().1),
                    (whole, text),
                    "{}: {lead}",
                    file.display()
                );
                compared += 1;
            }
        }
    }
    assert!(compared > 40_000, "only {compared} leads");
}

/// The band hashes are stored: the same text must give the same bands in every build. When
/// this fails, the hashing changed, and stored band rows need a migration that makes them
/// again (as `migrations` did when bands came to be made from word hashes).
#[test]
fn band_hashes_do_not_change_between_builds() {
    let sketch = sketch("North Korea fires ballistic missile into sea", LEAD).unwrap();
    assert_eq!(
        sketch.bands,
        vec![
            -4_082_676_245_483_456_440,
            -8_788_746_127_965_064_115,
            691_245_973_426_592_751,
            7_992_044_290_744_552_158,
            3_093_144_621_554_237_182,
            -8_285_353_611_820_675_923,
            -9_179_498_540_622_493_565,
            -3_523_750_622_051_075_091,
            -3_301_147_413_771_501_268,
            4_745_257_116_846_169_240,
        ],
        "update only with a migration of story_bands"
    );
}

/// The numbers the band index keeps rule a candidate out exactly when the whole text's do,
/// and never when they are not kept.
#[test]
fn kept_numbers_rule_out_what_the_whole_numbers_do() {
    let leads = [
        "no numbers at all in this one".to_string(),
        "the toll rose to 12 on Tuesday".to_string(),
        "the toll rose to 14 on Tuesday".to_string(),
        "the toll rose to 12 on Tuesday, with 30 hurt".to_string(),
        "the toll rose to 12 on Tuesday, with 31 hurt".to_string(),
        "in 2024 the toll rose to 12 on Tuesday, with 30 hurt".to_string(),
        "in 2025 the toll rose to 12 on Tuesday, with 30 hurt".to_string(),
    ];
    let texts: Vec<StoryText> = leads
        .iter()
        .map(|lead| {
            sketch(
                "Floods hit the northern valley towns again",
                &format!("{LEAD} {lead}"),
            )
            .unwrap()
            .text
            .as_ref()
            .clone()
        })
        .collect();
    let mut ruled_out = 0;
    for a in &texts {
        for b in &texts {
            let kept = b.kept_numbers();
            let known = b.numbers().len() <= StoryNumbers::KEPT;
            assert_eq!(kept == StoryNumbers::UNKNOWN, !known);
            let disagree = !numbers_agree(a.numbers(), b.numbers());
            assert_eq!(a.numbers_rule_out(kept), known && disagree);
            if a.numbers_rule_out(kept) {
                assert_eq!(a.similarity(b), None);
                ruled_out += 1;
            }
        }
    }
    // 12 against 14, and 12 and 30 against 12 and 31, among others.
    assert!(ruled_out >= 6, "{ruled_out}");
}
