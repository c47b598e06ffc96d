//! Key definitions for `Input.dispatchKeyEvent`.

/// A key as CDP wants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) key: String,
    pub(crate) code: String,
    pub(crate) virtual_key: u32,
    /// Text the key inserts (`"\r"` for Enter, which is what submits a form).
    pub(crate) text: Option<String>,
}

/// A named key, for [`Page::press`](crate::Page::press).
pub(crate) fn named(name: &str) -> Option<Key> {
    let (key, code, virtual_key, text) = match name {
        "Enter" => ("Enter", "Enter", 13, Some("\r")),
        "Tab" => ("Tab", "Tab", 9, None),
        "Escape" => ("Escape", "Escape", 27, None),
        "Backspace" => ("Backspace", "Backspace", 8, None),
        "Delete" => ("Delete", "Delete", 46, None),
        "ArrowUp" => ("ArrowUp", "ArrowUp", 38, None),
        "ArrowDown" => ("ArrowDown", "ArrowDown", 40, None),
        "ArrowLeft" => ("ArrowLeft", "ArrowLeft", 37, None),
        "ArrowRight" => ("ArrowRight", "ArrowRight", 39, None),
        "Home" => ("Home", "Home", 36, None),
        "End" => ("End", "End", 35, None),
        "PageUp" => ("PageUp", "PageUp", 33, None),
        "PageDown" => ("PageDown", "PageDown", 34, None),
        "Space" | " " => (" ", "Space", 32, Some(" ")),
        _ => return None,
    };
    Some(Key {
        key: key.to_owned(),
        code: code.to_owned(),
        virtual_key,
        text: text.map(str::to_owned),
    })
}

/// The key that types one character (US layout codes where there is one).
pub(crate) fn for_char(c: char) -> Key {
    let (code, virtual_key) = match c {
        'a'..='z' | 'A'..='Z' => (
            format!("Key{}", c.to_ascii_uppercase()),
            u32::from(c.to_ascii_uppercase()),
        ),
        '0'..='9' => (format!("Digit{c}"), u32::from(c)),
        ' ' => ("Space".to_owned(), 32),
        _ => (String::new(), 0),
    };
    Key {
        key: c.to_string(),
        code,
        virtual_key,
        text: Some(c.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enter_types_a_carriage_return() {
        let enter = named("Enter").expect("Enter is known");
        assert_eq!(enter.virtual_key, 13);
        assert_eq!(enter.text.as_deref(), Some("\r"));
        assert!(named("Tab").expect("Tab is known").text.is_none());
        assert!(named("F13").is_none());
    }

    #[test]
    fn letters_have_us_codes() {
        let k = for_char('q');
        assert_eq!((k.code.as_str(), k.virtual_key), ("KeyQ", 81));
        assert_eq!(for_char('7').code, "Digit7");
        assert_eq!(for_char('é').virtual_key, 0);
    }
}
