//! Pages of a listing: their size, the opaque cursor between them, and how listing fails.

use super::RepositoryError;

#[derive(Debug, thiserror::Error)]
pub enum PageError {
    #[error("the cursor is not one this service issued for this listing")]
    InvalidCursor,
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

/// How many items one page holds: 1 to 100, 20 unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u8);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a whole number from {min} to {max}", min = PageLimit::MIN, max = PageLimit::MAX)]
pub struct PageLimitError;

impl PageLimit {
    pub const MIN: u8 = 1;
    pub const MAX: u8 = 100;
    pub const DEFAULT: PageLimit = PageLimit(20);

    pub fn parse(raw: &str) -> Result<Self, PageLimitError> {
        match raw.trim().parse::<u8>() {
            Ok(limit) if (Self::MIN..=Self::MAX).contains(&limit) => Ok(Self(limit)),
            _ => Err(PageLimitError),
        }
    }

    pub fn get(&self) -> usize {
        usize::from(self.0)
    }
}

/// Where the next page starts. Clients get it as an opaque string and hand it back
/// unchanged; only the repository that issued it can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor(String);

impl Cursor {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<Cursor>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_page_limit_is_a_whole_number_from_1_to_100(raw in "\\PC{0,6}|-?[0-9]{1,4}") {
            let expected = raw.trim().parse::<i64>().ok().filter(|n| (1..=100).contains(n));
            prop_assert_eq!(PageLimit::parse(&raw).ok().map(|limit| limit.get() as i64), expected);
        }
    }
}
