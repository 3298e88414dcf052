//! Listing cursors: opaque to clients, readable only here. A cursor names the listing it
//! belongs to and the last item of the page it ends, so a cursor replayed against another
//! listing, or a forged one, is refused rather than silently misread.

use application::ports::{Cursor, StatusFilter};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use std::fmt::Display;

#[derive(Serialize, Deserialize)]
struct Position {
    listing: String,
    after: String,
}

/// The listing of users a status filter selects.
pub(crate) fn users_listing(filter: StatusFilter) -> String {
    match filter {
        StatusFilter::Only(status) => status.as_str().to_owned(),
        StatusFilter::NotDeleted => "live".to_owned(),
    }
}

pub(crate) fn encode(listing: String, last: impl Display) -> Cursor {
    let position = Position {
        listing,
        after: last.to_string(),
    };
    // Serializing two strings cannot fail; an empty cursor would only end the listing early.
    let json = serde_json::to_vec(&position).unwrap_or_default();
    Cursor::new(URL_SAFE_NO_PAD.encode(json))
}

/// The id of the item after which the page starts, if the cursor was issued for `listing`.
pub(crate) fn decode<T>(
    listing: &str,
    cursor: &Cursor,
    parse_id: impl FnOnce(&str) -> Option<T>,
) -> Option<T> {
    let json = URL_SAFE_NO_PAD.decode(cursor.as_str()).ok()?;
    let position: Position = serde_json::from_slice(&json).ok()?;
    if position.listing != listing {
        return None;
    }
    parse_id(&position.after)
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::{UserId, UserStatus};

    fn user_id(raw: &str) -> Option<UserId> {
        UserId::parse(raw).ok()
    }

    #[test]
    fn a_cursor_decodes_only_for_the_listing_it_was_issued_for() {
        let id = UserId::generate();
        let active = users_listing(StatusFilter::Only(UserStatus::Active));
        let cursor = encode(active.clone(), id);
        assert_eq!(decode(&active, &cursor, user_id), Some(id));
        assert_eq!(
            decode(&users_listing(StatusFilter::NotDeleted), &cursor, user_id),
            None
        );
        assert_eq!(decode("orders/someone", &cursor, user_id), None);
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        let forged = URL_SAFE_NO_PAD.encode(b"{\"listing\":\"live\",\"after\":\"x\"}");
        for raw in ["", "!!!", "eyJ9", forged.as_str()] {
            assert_eq!(decode("live", &Cursor::new(raw), user_id), None, "{raw}");
        }
    }
}
