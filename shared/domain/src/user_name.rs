use std::fmt;
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

const MAX_LENGTH: usize = 100;

/// A user's display name: trimmed and NFC-normalized (so one name has one spelling), 1 to 100
/// characters, with no control characters and no bidirectional overrides or other invisible
/// formatting characters, which could make a name read as another; the zero-width joiner and
/// non-joiner stay allowed, since scripts need them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters")]
    TooLong { max: usize },
    #[error("must not contain control characters")]
    ControlCharacter,
    #[error(
        "must not contain bidirectional overrides or other invisible formatting characters (zero-width joiner and non-joiner excepted)"
    )]
    InvisibleFormatting,
}

const ZERO_WIDTH_NON_JOINER: char = '\u{200C}';
const ZERO_WIDTH_JOINER: char = '\u{200D}';

/// A format character (Unicode category Cf: bidi controls, zero-width spaces, tags, ...)
/// other than the two joiners.
fn is_invisible_formatting(c: char) -> bool {
    c.general_category() == GeneralCategory::Format
        && c != ZERO_WIDTH_JOINER
        && c != ZERO_WIDTH_NON_JOINER
}

/// Text a person chose to be shown (a user's name, a passkey's): trimmed, NFC, 1 to `max`
/// characters, no control characters or invisible formatting.
pub(crate) fn display_text(raw: &str, max: usize) -> Result<String, UserNameError> {
    let text: String = raw.trim().nfc().collect();
    if text.is_empty() {
        return Err(UserNameError::Empty);
    }
    if text.chars().count() > max {
        return Err(UserNameError::TooLong { max });
    }
    if text.chars().any(char::is_control) {
        return Err(UserNameError::ControlCharacter);
    }
    if text.chars().any(is_invisible_formatting) {
        return Err(UserNameError::InvisibleFormatting);
    }
    Ok(text)
}

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, UserNameError> {
        display_text(raw, MAX_LENGTH).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for UserName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_name_is_stored_in_its_composed_form() {
        let decomposed = UserName::parse("Zoe\u{0308}").unwrap();
        assert_eq!(decomposed.as_str(), "Zo\u{00EB}");
        assert_eq!(decomposed, UserName::parse("Zo\u{00EB}").unwrap());
    }

    #[test]
    fn bidi_overrides_and_invisible_characters_are_refused_but_joiners_are_not() {
        for hidden in [
            '\u{202E}', '\u{2066}', '\u{200B}', '\u{200E}', '\u{FEFF}', '\u{00AD}',
        ] {
            assert_eq!(
                UserName::parse(&format!("Ada{hidden}Lovelace")),
                Err(UserNameError::InvisibleFormatting),
                "U+{:04X}",
                u32::from(hidden)
            );
        }
        assert!(
            UserName::parse("\u{0928}\u{094D}\u{200D}\u{0928}").is_ok(),
            "ZWJ"
        );
        assert!(UserName::parse("\u{0645}\u{200C}\u{0645}").is_ok(), "ZWNJ");
    }

    proptest! {
        #[test]
        fn an_accepted_name_is_nfc_and_has_no_invisible_formatting(raw in "\\PC{0,40}") {
            if let Ok(name) = UserName::parse(&raw) {
                let text = name.as_str();
                prop_assert_eq!(text.nfc().collect::<String>(), text);
                prop_assert!(!text.chars().any(is_invisible_formatting));
                prop_assert_eq!(UserName::parse(text), Ok(name.clone()), "parsing is idempotent");
            }
        }
    }

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(
            UserName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
    }

    #[test]
    fn blank_names_are_rejected() {
        assert_eq!(UserName::parse(""), Err(UserNameError::Empty));
        assert_eq!(UserName::parse(" \t "), Err(UserNameError::Empty));
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert_eq!(
            UserName::parse(&"é".repeat(101)),
            Err(UserNameError::TooLong { max: MAX_LENGTH })
        );
    }

    #[test]
    fn control_characters_inside_are_rejected() {
        assert_eq!(
            UserName::parse("Ada\u{0}Lovelace"),
            Err(UserNameError::ControlCharacter)
        );
        assert_eq!(
            UserName::parse("Ada\nLovelace"),
            Err(UserNameError::ControlCharacter)
        );
    }

    proptest! {
        #[test]
        fn accepted_names_are_trimmed_bounded_and_printable(raw in "\\PC{0,120}|[\\x00-\\x1f a-z]{0,20}") {
            if let Ok(name) = UserName::parse(&raw) {
                let chars = name.as_str().chars().count();
                prop_assert!((1..=MAX_LENGTH).contains(&chars));
                prop_assert_eq!(name.as_str(), name.as_str().trim());
                prop_assert!(!name.as_str().chars().any(char::is_control));
            }
        }
    }
}
