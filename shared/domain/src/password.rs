use std::fmt;

/// A new password as chosen by its owner: 12 to 128 characters. Never shown: its `Debug`
/// is redacted, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be {min} to {max} characters", min = Password::MIN_LENGTH, max = Password::MAX_LENGTH)]
pub struct PasswordError;

impl Password {
    pub const MIN_LENGTH: usize = 12;
    pub const MAX_LENGTH: usize = 128;

    /// Taken as given: spaces are characters of a passphrase like any other.
    pub fn parse(raw: &str) -> Result<Self, PasswordError> {
        if (Self::MIN_LENGTH..=Self::MAX_LENGTH).contains(&raw.chars().count()) {
            Ok(Self(raw.to_owned()))
        } else {
            Err(PasswordError)
        }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// A stored password hash in PHC string form (`$argon2id$v=19$...`). Redacted in `Debug` too:
/// a hash is still material for an offline attack.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    pub fn as_phc(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twelve_to_128_characters_are_accepted_counting_characters() {
        assert!(Password::parse("correct horse").is_ok());
        assert!(Password::parse(&"é".repeat(12)).is_ok());
        assert!(Password::parse(&"x".repeat(128)).is_ok());
        assert_eq!(Password::parse("short pass1"), Err(PasswordError));
        assert_eq!(Password::parse(&"x".repeat(129)), Err(PasswordError));
    }

    proptest::proptest! {
        #[test]
        fn a_password_is_accepted_exactly_with_12_to_128_characters(raw in "\\PC{0,140}") {
            let length = raw.chars().count();
            proptest::prop_assert_eq!(Password::parse(&raw).is_ok(), (12..=128).contains(&length));
            if let Ok(password) = Password::parse(&raw) {
                proptest::prop_assert_eq!(password.expose(), raw.as_str());
                let shown = format!("{password:?}");
                proptest::prop_assert!(!shown.contains(&raw));
            }
        }
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let password = Password::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
        assert!(!format!("{hash:?}").contains("argon2id"));
    }
}
