//! Text helpers shared by the normalisers and the report.

/// Lower-cases, trims and folds French accents, so that vocabularies typed by hand
/// ("Payée", "payee ", "PAYÉE") compare equal.
pub fn fold(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.trim().chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'â' | 'ä' | 'á' | 'ã' => out.push('a'),
            'é' | 'è' | 'ê' | 'ë' => out.push('e'),
            'î' | 'ï' | 'í' | 'ì' => out.push('i'),
            'ô' | 'ö' | 'ó' | 'ò' | 'õ' => out.push('o'),
            'ù' | 'û' | 'ü' | 'ú' => out.push('u'),
            'ç' => out.push('c'),
            'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            'æ' => out.push_str("ae"),
            '\u{a0}' | '\u{202f}' => out.push(' '),
            _ => out.push(c),
        }
    }
    out
}

/// The most characters of one legacy value the report quotes.
pub const EXCERPT_CHARS: usize = 80;

/// A legacy value as the report may quote it: control characters escaped (so that a
/// hostile value cannot forge lines in a log or a terminal) and at most
/// [`EXCERPT_CHARS`] characters, with the total length when cut.
pub fn excerpt(s: &str) -> String {
    let mut out = String::new();
    for (count, c) in s.chars().enumerate() {
        if count == EXCERPT_CHARS {
            let total = s.chars().count();
            out.push_str(&format!("… ({total} characters)"));
            return out;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a legacy text is missing in substance (empty or only whitespace).
pub fn is_blank(s: &str) -> bool {
    s.trim().is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_ignores_case_accents_and_padding() {
        assert_eq!(fold(" PAYÉE "), "payee");
        assert_eq!(fold("Résilié"), "resilie");
        assert_eq!(fold("proposée"), "proposee");
        assert_eq!(fold("Œuvre"), "oeuvre");
    }

    #[test]
    fn excerpt_escapes_and_cuts() {
        assert_eq!(excerpt("a\nb\u{1b}"), "a\\nb\\u{1b}");
        let long = "x".repeat(200);
        let cut = excerpt(&long);
        assert!(cut.starts_with(&"x".repeat(EXCERPT_CHARS)));
        assert!(cut.ends_with("(200 characters)"));
    }
}
