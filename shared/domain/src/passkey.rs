use crate::user_name::{UserNameError, display_text};
use std::fmt;

const MAX_LENGTH: usize = 64;

/// A passkey's name, chosen by its user so that a list of passkeys tells them apart ("Laptop",
/// "Phone"): the rules of a user's name, 1 to 64 characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyName(String);

/// Why a passkey's name is refused: as for a user's name.
pub type PasskeyNameError = UserNameError;

impl PasskeyName {
    pub fn parse(raw: &str) -> Result<Self, PasskeyNameError> {
        display_text(raw, MAX_LENGTH).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PasskeyName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_1_to_64_characters_trimmed_and_visible() {
        assert_eq!(PasskeyName::parse("  Laptop ").unwrap().as_str(), "Laptop");
        assert_eq!(
            PasskeyName::parse(&"é".repeat(64))
                .unwrap()
                .as_str()
                .chars()
                .count(),
            64
        );
        assert_eq!(
            PasskeyName::parse(&"a".repeat(65)),
            Err(PasskeyNameError::TooLong { max: 64 })
        );
        assert_eq!(PasskeyName::parse(" "), Err(PasskeyNameError::Empty));
        assert_eq!(
            PasskeyName::parse("Phone\u{202E}"),
            Err(PasskeyNameError::InvisibleFormatting)
        );
    }
}
