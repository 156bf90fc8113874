//! Splitting an article into statements: sentences of body text, headlines, captions and bullet lines,
//! each as an exact byte range of the article.
//!
//! The rules are those of data/GUIDELINES.md (section 8, "Article files"):
//! - each line is a unit of its own, so a headline, a caption or a lead-in line without final
//!   punctuation is one statement and no statement spans a line break;
//! - a bullet line (starting with `- `, `* ` or `• `, after any indentation) is one statement,
//!   marker included;
//! - any other line is split into sentences by [sentencex] (Wikimedia's rule-based segmenter, which
//!   knows abbreviations such as U.N., Gen. and Mr., initials such as J. R. Moore, and numbers such as
//!   3.5 and 1,500), with three small corrections on top:
//!   - sentencex never splits inside quotation marks or brackets, but a quotation of two sentences is
//!     two statements: the line is segmented a second time with the quotation marks and brackets
//!     blanked out, and the cuts of both passes are kept;
//!   - a statement ends after its terminator *and* any closing quotes or brackets right after it
//!     (`."`, `.”`, `.)`), never before them;
//!   - a cut right after a title before a name (`Ms. Lin`) is undone: sentencex reads `Ms.` as the
//!     degree M.S., which may end a sentence.
//!
//! Spans are trimmed of surrounding whitespace (and a byte-order mark) and never empty.

use std::panic::{AssertUnwindSafe, catch_unwind};

/// A statement's place in its article: `&article[start..end]` is its text (UTF-8 byte offsets).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Span {
    /// Byte offset of the statement's first character.
    pub start: usize,
    /// Byte offset just past the statement's last character.
    pub end: usize,
}

impl Span {
    /// The statement's text in `article`, the text this span was computed from.
    ///
    /// Panics if `article` is not that text (the range would not be valid in it).
    pub fn text<'a>(&self, article: &'a str) -> &'a str {
        &article[self.start..self.end]
    }
}

/// Line starts that make a line a bullet item: one statement, marker included.
pub const BULLETS: [&str; 3] = ["- ", "* ", "• "];

/// Titles written before a name; a sentence never ends right after one.
const TITLES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Mx", "Dr", "Prof", "Gen", "Lt", "Col", "Maj", "Capt", "Cpl", "Sgt", "Adm",
    "Cmdr", "Brig", "Gov", "Sen", "Rep", "Rev", "Fr", "St", "Hon", "Supt", "Insp", "Det",
];

/// Splits `article` into statements, in order: every span is non-empty, trimmed of surrounding
/// whitespace, starts and ends on character boundaries, and lies on one line; spans do not overlap.
/// Text with no statement (empty or only whitespace) gives no spans.
pub fn segment(article: &str) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut offset = 0;
    for line in article.split_inclusive('\n') {
        let start = offset;
        offset += line.len();
        let Some(unit) = trimmed(article, start, offset) else {
            continue;
        };
        if is_bullet(unit.text(article)) {
            spans.push(unit);
        } else {
            split_line(article, unit, &mut spans);
        }
    }
    spans
}

/// Whether a (trimmed) line is a bullet item.
pub fn is_bullet(line: &str) -> bool {
    BULLETS.iter().any(|b| line.starts_with(b))
}

/// Whitespace around statements: Unicode white space and the byte-order mark.
fn is_space(c: char) -> bool {
    c.is_whitespace() || c == '\u{feff}'
}

/// `text[start..end]` without surrounding whitespace, or `None` if nothing is left.
fn trimmed(text: &str, start: usize, end: usize) -> Option<Span> {
    let s = &text[start..end];
    let t = s.trim_start_matches(is_space);
    let start = start + (s.len() - t.len());
    let t = t.trim_end_matches(is_space);
    (!t.is_empty()).then_some(Span {
        start,
        end: start + t.len(),
    })
}

/// Appends the sentences of the line `unit` of `text` to `out`.
fn split_line(text: &str, unit: Span, out: &mut Vec<Span>) {
    let line = unit.text(text);
    let mut ends = cuts(line, line);
    let masked = mask_enclosers(line);
    if masked != line {
        ends.extend(cuts(&masked, line));
        ends.sort_unstable();
        ends.dedup();
    }
    let mut pieces: Vec<(usize, usize)> = Vec::with_capacity(ends.len() + 1);
    let mut prev = 0;
    for cut in ends.into_iter().chain(std::iter::once(line.len())) {
        if cut <= prev {
            continue;
        }
        match pieces.last_mut() {
            Some(last)
                if ends_with_title(&line[last.0..last.1]) && starts_upper(&line[prev..cut]) =>
            {
                last.1 = cut
            }
            _ => pieces.push((prev, cut)),
        }
        prev = cut;
    }
    out.extend(
        pieces
            .into_iter()
            .filter_map(|(s, e)| trimmed(text, unit.start + s, unit.start + e)),
    );
}

/// Where sentencex ends sentences in `seg` (`line` itself or its masked copy, of the same length), as
/// offsets in `line` just past the terminator and any closing quotes or brackets right after it;
/// only cuts strictly inside the line.
fn cuts(seg: &str, line: &str) -> Vec<usize> {
    // sentencex is not expected to panic, but a panic on some odd line must not end the run: the
    // line then stays whole.
    let Ok(ends) = catch_unwind(AssertUnwindSafe(|| {
        sentencex::get_sentence_boundaries("en", seg)
            .iter()
            .map(|b| b.end_byte)
            .collect::<Vec<_>>()
    })) else {
        return Vec::new();
    };
    ends.into_iter()
        .filter(|&e| e <= seg.len() && seg.is_char_boundary(e))
        .map(|e| seg[..e].trim_end().len())
        .filter(|&c| line.is_char_boundary(c))
        .map(|c| c + closers_len(&line[c..]))
        .filter(|&c| c > 0 && c < line.len())
        .collect()
}

/// Closing quotes and brackets that end a statement with the terminator before them.
fn is_closer(c: char) -> bool {
    matches!(c, '"' | '”' | '’' | '\'' | '»' | ')' | ']')
}

/// Length in bytes of the closing quotes and brackets at the start of `s`.
fn closers_len(s: &str) -> usize {
    s.chars()
        .take_while(|&c| is_closer(c))
        .map(char::len_utf8)
        .sum()
}

/// `line` with quotation marks and brackets replaced by spaces (as many as the mark has bytes, so
/// offsets are unchanged). `’` between two letters or digits is an apostrophe and stays.
fn mask_enclosers(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut prev: Option<char> = None;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        let encloser = match c {
            '"' | '“' | '”' | '„' | '«' | '»' | '‘' | '(' | ')' | '[' | ']' => true,
            '’' => {
                !(prev.is_some_and(char::is_alphanumeric)
                    && next.is_some_and(char::is_alphanumeric))
            }
            _ => false,
        };
        if encloser {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        } else {
            out.push(c);
        }
        prev = Some(c);
    }
    out
}

/// Whether `piece` ends with a title and its period ("… Ms.").
fn ends_with_title(piece: &str) -> bool {
    let Some(head) = piece.trim_end().strip_suffix('.') else {
        return false;
    };
    let word = head
        .rsplit(|c: char| !c.is_alphabetic())
        .next()
        .unwrap_or("");
    TITLES.contains(&word)
}

/// Whether `s` starts (after whitespace) with an uppercase letter.
fn starts_upper(s: &str) -> bool {
    s.trim_start()
        .chars()
        .next()
        .is_some_and(char::is_uppercase)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(article: &str) -> Vec<&str> {
        segment(article).iter().map(|s| s.text(article)).collect()
    }

    #[test]
    fn empty_and_blank_give_nothing() {
        assert!(segment("").is_empty());
        assert!(segment(" \n\n\t \r\n").is_empty());
    }

    #[test]
    fn offsets_are_exact_and_trimmed() {
        let a = "  Héadline here  \r\n\r\n  Café owners “protested.” Then they left.  \n";
        let spans = segment(a);
        assert_eq!(
            texts(a),
            [
                "Héadline here",
                "Café owners “protested.”",
                "Then they left."
            ]
        );
        for s in &spans {
            let t = s.text(a);
            assert_eq!(t, t.trim());
        }
        assert!(spans.windows(2).all(|w| w[0].end <= w[1].start));
    }

    #[test]
    fn a_byte_order_mark_is_not_text() {
        assert_eq!(
            texts("\u{feff}Headline\n\nBody text."),
            ["Headline", "Body text."]
        );
    }

    #[test]
    fn titles_do_not_end_sentences() {
        assert_eq!(
            texts("It will bear the consequences, Ms. Lin said. She left."),
            ["It will bear the consequences, Ms. Lin said.", "She left."]
        );
        assert!(ends_with_title("said Gen."));
        assert!(!ends_with_title("the general."));
    }

    #[test]
    fn masking_keeps_offsets_and_apostrophes() {
        let line = "“It’s over,” the soldiers’ (own) chief said.";
        let m = mask_enclosers(line);
        assert_eq!(m.len(), line.len());
        assert!(m.contains("It’s"));
        assert!(!m.contains('“') && !m.contains('(') && !m.contains("soldiers’"));
    }

    #[test]
    fn closers_join_the_sentence_they_end() {
        assert_eq!(closers_len("”) next"), "”)".len());
        assert_eq!(closers_len(" ”"), 0);
    }

    #[test]
    fn bullets_are_whole_lines() {
        assert!(is_bullet("- item"));
        assert!(is_bullet("• item"));
        assert!(!is_bullet("-item"));
        assert_eq!(
            texts("Terms:\n- Leave. Now\n  * second item\n"),
            ["Terms:", "- Leave. Now", "* second item"]
        );
    }
}
