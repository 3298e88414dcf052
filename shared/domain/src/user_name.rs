use std::fmt;

const MAX_LENGTH: usize = 100;

/// A user's display name: trimmed, 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserNameError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("must not contain control characters")]
    ControlCharacter,
}

impl UserName {
    pub fn parse(raw: &str) -> Result<Self, UserNameError> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(UserNameError::Empty);
        }
        if name.chars().count() > MAX_LENGTH {
            return Err(UserNameError::TooLong);
        }
        if name.chars().any(char::is_control) {
            return Err(UserNameError::ControlCharacter);
        }
        Ok(Self(name.to_owned()))
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
            Err(UserNameError::TooLong)
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
