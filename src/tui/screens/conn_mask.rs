//! Passwords inside connection strings being edited: where they are, how they are
//! drawn (one `*` per character, so the cursor stays where it is), and putting the
//! original password back where the text still says `***`.
//!
//! Where a password sits is what the driver's `mask_password` says, so the editor
//! and every other place that masks agree on libpq strings and URLs alike.

use std::ops::Range;

use crate::driver::postgres::conn::mask_password;

/// What the driver writes in place of a password.
const MASK: &str = "***";
/// Stands in for `*` while looking for the masks the driver wrote.
const STAR_STAND_IN: char = '\u{E000}';

/// The byte ranges of the password values in `text` (empty ranges for an empty
/// `password=`).
pub(crate) fn password_spans(text: &str) -> Vec<Range<usize>> {
    // With every `*` of the text swapped out, each `***` in the masked text is a
    // password the driver masked, and the pieces between them are copied verbatim.
    let swapped: String = text
        .chars()
        .map(|c| if c == '*' { STAR_STAND_IN } else { c })
        .collect();
    let lead = swapped.len() - swapped.trim_start().len();
    let trimmed = swapped.trim();
    let masked = mask_password(trimmed);
    let pieces: Vec<&str> = masked.split(MASK).collect();
    let Some((first, rest)) = pieces.split_first() else {
        return Vec::new();
    };
    if !trimmed.starts_with(first) {
        return Vec::new();
    }
    let mut spans = Vec::new();
    let mut at = first.len();
    for (n, piece) in rest.iter().enumerate() {
        let end = if n + 1 == rest.len() {
            match trimmed.len().checked_sub(piece.len()) {
                Some(end) if end >= at && trimmed.ends_with(piece) => end,
                _ => return Vec::new(),
            }
        } else {
            match trimmed[at..].find(piece) {
                Some(i) if !piece.is_empty() => at + i,
                _ => return Vec::new(),
            }
        };
        spans.push(lead + at..lead + end);
        at = end + piece.len();
    }
    spans
        .into_iter()
        .map(|span| unswap(&swapped, text, span.start)..unswap(&swapped, text, span.end))
        .collect()
}

/// The byte offset in `text` of byte offset `at` in `swapped` (they differ only in
/// the stand-ins for `*`).
fn unswap(swapped: &str, text: &str, at: usize) -> usize {
    let chars = swapped[..at].chars().count();
    text.char_indices()
        .nth(chars)
        .map_or(text.len(), |(byte, _)| byte)
}

/// `text` with every character of every password drawn as `*`; as many characters
/// as `text`, so a cursor column means the same in both.
pub(crate) fn masked_for_display(text: &str) -> String {
    let spans = password_spans(text);
    text.char_indices()
        .map(|(byte, c)| {
            if spans.iter().any(|s| s.contains(&byte)) {
                '*'
            } else {
                c
            }
        })
        .collect()
}

/// `edited` with each password that still reads `***` replaced by the password of
/// `original` in the same place (or its first one); an error when there is none to
/// put back.
pub(crate) fn restore_password(edited: &str, original: &str) -> Result<String, String> {
    let known: Vec<&str> = password_spans(original)
        .into_iter()
        .map(|span| &original[span])
        .filter(|value| *value != MASK)
        .collect();
    let mut out = edited.to_string();
    let spans = password_spans(edited);
    for (n, span) in spans.iter().enumerate().rev() {
        if &edited[span.clone()] != MASK {
            continue;
        }
        let Some(value) = known.get(n).or(known.first()) else {
            return Err(
                "the password reads *** and the console does not know the original one; \
                 type the password in its place"
                    .to_string(),
            );
        };
        out.replace_range(span.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_cover_passwords_in_every_spelling() {
        let cases = [
            ("host=x password=s3cret user=u", vec!["s3cret"]),
            ("password = 'a b' host=x", vec!["'a b'"]),
            ("postgres://app:pw@db/shop", vec!["pw"]),
            ("postgresql://db/shop?user=a&password=pw", vec!["pw"]),
            ("host=x password=***", vec!["***"]),
            ("host=x password=a*b dbname=***", vec!["a*b"]),
            ("host=x user=nopassword", vec![]),
        ];
        for (text, want) in cases {
            let got: Vec<&str> = password_spans(text).into_iter().map(|s| &text[s]).collect();
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn display_masks_each_character_in_place() {
        assert_eq!(
            masked_for_display("host=x password=héllo user=u"),
            "host=x password=***** user=u"
        );
    }

    #[test]
    fn restore_puts_the_original_back_only_where_it_reads_mask() {
        let original = "host=x password='p w' user=u";
        assert_eq!(
            restore_password("host=y password=*** user=u", original).unwrap(),
            "host=y password='p w' user=u"
        );
        assert_eq!(
            restore_password("host=y password=new user=u", original).unwrap(),
            "host=y password=new user=u"
        );
        let url = "postgres://app:pw@db/shop";
        assert_eq!(
            restore_password("postgres://app:***@db2/shop", url).unwrap(),
            "postgres://app:pw@db2/shop"
        );
        assert!(restore_password("host=y password=***", "host=y password=***").is_err());
    }
}
