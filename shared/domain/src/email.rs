use std::fmt;

const MAX_LENGTH: usize = 254;
const MAX_LOCAL_PART_LENGTH: usize = 64;
const MAX_LABEL_LENGTH: usize = 63;

/// An email address, trimmed and validated. An internationalized domain is kept in its ASCII
/// (punycode) form, so `bücher.example` and `xn--bcher-kva.example` are one address; the
/// part before the `@` must be ASCII, since SES delivers to nothing else. Uniqueness compares
/// the lowercase form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email {
    address: String,
    normalized: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("must contain exactly one '@'")]
    NotOneAt,
    #[error(
        "must have a local part of 1 to {MAX_LOCAL_PART_LENGTH} characters before the '@', with no spaces or control characters"
    )]
    InvalidLocalPart,
    #[error(
        "the part before the '@' must be ASCII: email cannot be delivered to other characters there"
    )]
    NonAsciiLocalPart,
    #[error("must have a dotted domain of letters, digits and hyphens after the '@'")]
    InvalidDomain,
}

impl Email {
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let address = raw.trim();
        if address.is_empty() {
            return Err(EmailError::Empty);
        }
        if address.chars().count() > MAX_LENGTH {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = match address.split_once('@') {
            Some((local, domain)) if !domain.contains('@') => (local, domain),
            _ => return Err(EmailError::NotOneAt),
        };
        if !local.is_ascii() {
            return Err(EmailError::NonAsciiLocalPart);
        }
        if !is_valid_local_part(local) {
            return Err(EmailError::InvalidLocalPart);
        }
        // UTS 46 processing: maps and checks a Unicode domain, and checks the punycode of an
        // ASCII one (`xn--` labels must decode).
        let ascii_domain = idna::domain_to_ascii(domain).map_err(|_| EmailError::InvalidDomain)?;
        if !is_valid_domain(&ascii_domain) {
            return Err(EmailError::InvalidDomain);
        }
        // An ASCII domain keeps the spelling it was given; a Unicode one is stored as ASCII.
        let address = if domain.is_ascii() {
            address.to_owned()
        } else {
            format!("{local}@{ascii_domain}")
        };
        if address.len() > MAX_LENGTH {
            return Err(EmailError::TooLong);
        }
        Ok(Self {
            normalized: format!("{}@{ascii_domain}", local.to_ascii_lowercase()),
            address,
        })
    }

    /// The address with all of its local part but the first character hidden
    /// (`j***@example.org`): enough for its owner to recognize, too little to use.
    pub fn masked(&self) -> String {
        let (local, domain) = self.address.rsplit_once('@').unwrap_or(("", &self.address));
        let first: String = local.chars().take(1).collect();
        format!("{first}***@{domain}")
    }

    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The form two addresses are compared by: `Ada@Example.com` and `ada@example.com`
    /// belong to the same person.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }

    pub fn is_same_address(&self, other: &Email) -> bool {
        self.normalized == other.normalized
    }
}

fn is_valid_local_part(local: &str) -> bool {
    !local.is_empty()
        && local.len() <= MAX_LOCAL_PART_LENGTH
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !"<>()[]\\,;:\"".contains(c))
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL_LENGTH
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.chars().count() >= 2 && !tld.chars().all(|c| c.is_ascii_digit()))
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.address
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_masked_address_shows_the_first_character_and_the_domain_only() {
        let email = Email::parse("jane.doe@example.org").unwrap();
        assert_eq!(email.masked(), "j***@example.org");
    }

    #[test]
    fn an_internationalized_domain_is_stored_as_punycode_and_both_spellings_are_one_address() {
        let unicode = Email::parse("ada@bücher.example").unwrap();
        assert_eq!(unicode.as_str(), "ada@xn--bcher-kva.example");
        let ascii = Email::parse("Ada@XN--BCHER-KVA.example").unwrap();
        assert!(unicode.is_same_address(&ascii));
        assert_eq!(
            Email::parse("ada@BÜCHER.example").unwrap().normalized(),
            "ada@xn--bcher-kva.example"
        );
    }

    #[test]
    fn a_non_ascii_local_part_is_refused_with_its_reason() {
        assert_eq!(
            Email::parse("jürgen@example.com"),
            Err(EmailError::NonAsciiLocalPart)
        );
        assert!(
            EmailError::NonAsciiLocalPart
                .to_string()
                .contains("must be ASCII")
        );
    }

    #[test]
    fn broken_punycode_and_symbols_in_a_domain_are_invalid() {
        for raw in [
            "ada@xn--zz-.example",
            "ada@exa_mple.com",
            "ada@exa mple.com",
        ] {
            assert_eq!(Email::parse(raw), Err(EmailError::InvalidDomain), "{raw}");
        }
    }

    #[test]
    fn a_plain_address_is_accepted_and_trimmed() {
        let email = Email::parse("  ada@example.com \n").unwrap();
        assert_eq!(email.as_str(), "ada@example.com");
    }

    #[test]
    fn the_normalized_form_ignores_case_but_the_address_keeps_it() {
        let email = Email::parse("Ada.Lovelace@Example.COM").unwrap();
        assert_eq!(email.as_str(), "Ada.Lovelace@Example.COM");
        assert_eq!(email.normalized(), "ada.lovelace@example.com");
        assert!(email.is_same_address(&Email::parse("ada.lovelace@example.com").unwrap()));
    }

    #[test]
    fn addresses_without_exactly_one_at_are_rejected() {
        assert_eq!(Email::parse("ada.example.com"), Err(EmailError::NotOneAt));
        assert_eq!(Email::parse("ada@@example.com"), Err(EmailError::NotOneAt));
        assert_eq!(Email::parse("a@b@example.com"), Err(EmailError::NotOneAt));
    }

    #[test]
    fn a_domain_must_be_dotted() {
        assert_eq!(
            Email::parse("ada@localhost"),
            Err(EmailError::InvalidDomain)
        );
        assert_eq!(Email::parse("ada@example."), Err(EmailError::InvalidDomain));
        assert_eq!(
            Email::parse("ada@.example.com"),
            Err(EmailError::InvalidDomain)
        );
        assert_eq!(
            Email::parse("ada@exa mple.com"),
            Err(EmailError::InvalidDomain)
        );
        assert_eq!(
            Email::parse("ada@-example.com"),
            Err(EmailError::InvalidDomain)
        );
    }

    #[test]
    fn blank_and_malformed_local_parts_are_rejected() {
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
        assert_eq!(
            Email::parse("@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
        assert_eq!(
            Email::parse("a da@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
        assert_eq!(
            Email::parse(".ada@example.com"),
            Err(EmailError::InvalidLocalPart)
        );
    }

    #[test]
    fn at_most_254_characters_are_accepted() {
        let domain = format!(
            "{}.{}.{}.com",
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(58)
        );
        let longest = format!("{}@{domain}", "x".repeat(254 - 1 - domain.len()));
        assert_eq!(longest.len(), 254);
        assert!(Email::parse(&longest).is_ok());
        let too_long = format!("y{longest}");
        assert_eq!(Email::parse(&too_long), Err(EmailError::TooLong));
    }

    proptest! {
        #[test]
        fn every_accepted_address_is_trimmed_and_bounded(raw in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.as_str(), email.as_str().trim());
                prop_assert!(email.as_str().chars().count() <= MAX_LENGTH);
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
            }
        }

        #[test]
        fn parsing_is_idempotent(local in "[a-z0-9._+-]{1,20}", domain in "[a-z0-9]{1,10}\\.[a-z]{2,5}") {
            if let Ok(email) = Email::parse(&format!("{local}@{domain}")) {
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email.clone()));
            }
        }
    }
}
