//! Golden tests of article segmentation (`stance::segment`): abbreviations, initials, numbers, quotes,
//! brackets, paragraphs, bullets and unpunctuated lines, then the gold articles of data/articles.

use stance::segment::{Span, segment};
use std::path::Path;

/// The statements of `article`, after checking the span invariants.
fn statements(article: &str) -> Vec<&str> {
    let spans = segment(article);
    check_spans(article, &spans);
    spans.iter().map(|s| s.text(article)).collect()
}

/// Spans are ordered, non-empty, trimmed, on one line, and only whitespace lies outside them.
fn check_spans(article: &str, spans: &[Span]) {
    let mut prev = 0;
    for s in spans {
        assert!(prev <= s.start && s.start < s.end, "bad span {s:?}");
        assert!(
            article[prev..s.start].trim().is_empty(),
            "text lost before {s:?}: {:?}",
            &article[prev..s.start]
        );
        let t = s.text(article);
        assert_eq!(t, t.trim(), "untrimmed span");
        assert!(!t.contains('\n'), "span across lines: {t:?}");
        prev = s.end;
    }
    assert!(article[prev..].trim().is_empty(), "text lost at the end");
}

#[track_caller]
fn golden(article: &str, want: &[&str]) {
    assert_eq!(statements(article), want, "\nfor article {article:?}");
}

#[test]
fn abbreviations_do_not_end_sentences() {
    golden(
        "The U.N. Security Council met on Monday. Gen. Ilir Basha and Mr. Adams attended. \
         Rear Adm. Kim said the U.S. Navy would stay, and Dr. Rossi agreed.",
        &[
            "The U.N. Security Council met on Monday.",
            "Gen. Ilir Basha and Mr. Adams attended.",
            "Rear Adm. Kim said the U.S. Navy would stay, and Dr. Rossi agreed.",
        ],
    );
    golden(
        "Col. Artur Vasilevich and Sgt. Dale Hunt spoke in St. Petersburg. The Co. paid in Oct. last year.",
        &[
            "Col. Artur Vasilevich and Sgt. Dale Hunt spoke in St. Petersburg.",
            "The Co. paid in Oct. last year.",
        ],
    );
}

#[test]
fn a_title_after_a_quote_is_not_an_end() {
    // sentencex alone splits after "Ms." here (it takes it for the degree M.S.).
    golden(
        "“If they continue, they will bear all the consequences,” Ms. Lin said. She also warned outsiders.",
        &[
            "“If they continue, they will bear all the consequences,” Ms. Lin said.",
            "She also warned outsiders.",
        ],
    );
}

#[test]
fn initials_stay_with_the_name() {
    golden(
        "Analyst J. R. Moore said the figures were wrong. Others agreed.",
        &[
            "Analyst J. R. Moore said the figures were wrong.",
            "Others agreed.",
        ],
    );
}

#[test]
fn numbers_do_not_end_sentences() {
    golden(
        "Prices rose 3.5 per cent in October, to about £1,850. About 1,500 soldiers are deployed. \
         The drone had a wingspan of 2.4 metres.",
        &[
            "Prices rose 3.5 per cent in October, to about £1,850.",
            "About 1,500 soldiers are deployed.",
            "The drone had a wingspan of 2.4 metres.",
        ],
    );
}

#[test]
fn closing_quotes_end_with_their_sentence() {
    golden(
        "He called the claims \"pure fiction.\" The ministry agreed. She called it “staged for the cameras.” Nobody replied.",
        &[
            "He called the claims \"pure fiction.\"",
            "The ministry agreed.",
            "She called it “staged for the cameras.”",
            "Nobody replied.",
        ],
    );
    golden(
        "The army said the drills were “purely defensive”. Talks resume on Monday.",
        &[
            "The army said the drills were “purely defensive”.",
            "Talks resume on Monday.",
        ],
    );
}

#[test]
fn a_quote_of_two_sentences_gives_two_statements() {
    golden(
        "\"If this happens again, we will not wait for an explanation. We will act,\" he told reporters.",
        &[
            "\"If this happens again, we will not wait for an explanation.",
            "We will act,\" he told reporters.",
        ],
    );
    golden(
        "Ms. Castell accused suppliers of “profiteering.” “If they will not act, we will act for them. \
         They have until the end of the month,” she said.",
        &[
            "Ms. Castell accused suppliers of “profiteering.”",
            "“If they will not act, we will act for them.",
            "They have until the end of the month,” she said.",
        ],
    );
    golden(
        "He said it was over. \"Every decision was lawful. None was rushed,\" he added.",
        &[
            "He said it was over.",
            "\"Every decision was lawful.",
            "None was rushed,\" he added.",
        ],
    );
}

#[test]
fn apostrophes_are_not_quotes() {
    golden(
        "Belarus’s embassy didn’t reply. The soldiers’ families waited.",
        &[
            "Belarus’s embassy didn’t reply.",
            "The soldiers’ families waited.",
        ],
    );
}

#[test]
fn parentheses() {
    golden(
        "At least 14 incidents were recorded (most involved balloons). The centre (EFSC) said so.",
        &[
            "At least 14 incidents were recorded (most involved balloons).",
            "The centre (EFSC) said so.",
        ],
    );
    golden(
        "The report was leaked. (The ministry did not reply.) Talks resume on Monday.",
        &[
            "The report was leaked.",
            "(The ministry did not reply.)",
            "Talks resume on Monday.",
        ],
    );
}

#[test]
fn questions_and_exclamations() {
    golden(
        "Will they act? Nobody knows! Officials declined to comment.",
        &[
            "Will they act?",
            "Nobody knows!",
            "Officials declined to comment.",
        ],
    );
}

#[test]
fn headlines_captions_and_paragraphs() {
    let article = "Minister slams port deal as ‘reckless’\n\nVILNIUS, March 3 — Lithuania summoned the envoy. \
                   It said so.\r\n\r\nPolice found the wreckage. Talks go on.\n\nA soldier guards the wreckage on Monday\n";
    golden(
        article,
        &[
            "Minister slams port deal as ‘reckless’",
            "VILNIUS, March 3 — Lithuania summoned the envoy.",
            "It said so.",
            "Police found the wreckage.",
            "Talks go on.",
            "A soldier guards the wreckage on Monday",
        ],
    );
    // A line without final punctuation never runs into the next one.
    golden(
        "Ferry capsizes off Lesbos, 12 missing\nThe coast guard said 40 people were rescued.",
        &[
            "Ferry capsizes off Lesbos, 12 missing",
            "The coast guard said 40 people were rescued.",
        ],
    );
}

#[test]
fn bullet_lines_are_statements_with_their_marker() {
    golden(
        "The statement listed the following conditions:\n- Fighters must leave Goma within 30 days\n\
         * Corridors will be opened\n  • Talks resume in June. Observers will attend\nThe rebels did not reply.",
        &[
            "The statement listed the following conditions:",
            "- Fighters must leave Goma within 30 days",
            "* Corridors will be opened",
            "• Talks resume in June. Observers will attend",
            "The rebels did not reply.",
        ],
    );
}

#[test]
fn offsets_are_byte_exact_in_unicode_text() {
    let article = "Kairienė called it “reckless.” Dieveniškės is near 😀 the border.";
    let spans = segment(article);
    assert_eq!(spans.len(), 2);
    assert_eq!(
        spans[0],
        Span {
            start: 0,
            end: "Kairienė called it “reckless.”".len()
        }
    );
    assert_eq!(spans[1].text(article), "Dieveniškės is near 😀 the border.");
    assert_eq!(spans[1].end, article.len());
}

#[test]
fn empty_text_has_no_statements() {
    assert!(segment("").is_empty());
    assert!(segment("\n \n\t\r\n").is_empty());
}

#[test]
fn long_and_odd_lines_do_not_break_invariants() {
    let long = "Officials met again. ".repeat(5000);
    assert_eq!(statements(&long).len(), 5000);
    for odd in [
        "\"x.\" . .",
        "“”“”",
        "(((",
        "...",
        "- ",
        "•",
        "A.B.C.D. e.f. G. H.",
        "He said: “",
        "’’’ ‘‘ ’",
        "a\u{0}b. C\u{2028}d.",
    ] {
        statements(odd);
    }
}

/// Fraction of each gold article's statements that segmentation reproduces exactly (same text, same
/// order): the sentence-boundary accuracy. Printed per article; at least 0.95 overall.
#[test]
fn gold_articles_boundary_accuracy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/articles");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .expect("data/articles")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    names.sort();
    assert!(!names.is_empty(), "no gold articles");
    let (mut hit, mut total) = (0, 0);
    for path in &names {
        let article = std::fs::read_to_string(path).unwrap();
        let gold_path = path.with_extension("gold.jsonl");
        let gold: Vec<String> = std::fs::read_to_string(&gold_path)
            .unwrap()
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["text"].as_str().unwrap().to_string()
            })
            .collect();
        let got = statements(&article);
        let matched = matched_in_order(&gold, &got);
        println!(
            "{:<36} boundaries {matched:>2}/{:<2} = {:.3}",
            path.file_name().unwrap().to_string_lossy(),
            gold.len(),
            matched as f64 / gold.len() as f64
        );
        for g in &gold {
            if !got.contains(&g.as_str()) {
                println!("    missed: {g}");
            }
        }
        hit += matched;
        total += gold.len();
    }
    let acc = hit as f64 / total as f64;
    println!("overall boundary accuracy {hit}/{total} = {acc:.4}");
    assert!(acc >= 0.95, "boundary accuracy {acc:.4} < 0.95");
}

/// How many gold statements appear exactly, in order, among `got` (a longest common subsequence).
fn matched_in_order(gold: &[String], got: &[&str]) -> usize {
    let mut dp = vec![vec![0usize; got.len() + 1]; gold.len() + 1];
    for i in 0..gold.len() {
        for j in 0..got.len() {
            dp[i + 1][j + 1] = if gold[i] == got[j] {
                dp[i][j] + 1
            } else {
                dp[i][j + 1].max(dp[i + 1][j])
            };
        }
    }
    dp[gold.len()][got.len()]
}
