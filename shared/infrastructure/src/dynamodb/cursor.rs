//! Listing cursors: opaque to clients, readable only here. A cursor names the listing it
//! belongs to and the last user of the page it ends, so a cursor replayed against another
//! listing, or a forged one, is refused rather than silently misread.

use application::ports::{Cursor, StatusFilter};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::UserId;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Position {
    listing: String,
    after: String,
}

fn listing_name(filter: StatusFilter) -> &'static str {
    match filter {
        StatusFilter::Only(status) => status.as_str(),
        StatusFilter::NotDeleted => "live",
    }
}

pub(crate) fn encode(filter: StatusFilter, last: UserId) -> Cursor {
    let position = Position {
        listing: listing_name(filter).to_owned(),
        after: last.to_string(),
    };
    // Serializing two strings cannot fail; an empty cursor would only end the listing early.
    let json = serde_json::to_vec(&position).unwrap_or_default();
    Cursor::new(URL_SAFE_NO_PAD.encode(json))
}

/// The user after whom the page starts, if the cursor was issued for this listing.
pub(crate) fn decode(filter: StatusFilter, cursor: &Cursor) -> Option<UserId> {
    let json = URL_SAFE_NO_PAD.decode(cursor.as_str()).ok()?;
    let position: Position = serde_json::from_slice(&json).ok()?;
    if position.listing != listing_name(filter) {
        return None;
    }
    UserId::parse(&position.after).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::UserStatus;

    #[test]
    fn a_cursor_decodes_only_for_the_listing_it_was_issued_for() {
        let id = UserId::generate();
        let cursor = encode(StatusFilter::Only(UserStatus::Active), id);
        assert_eq!(
            decode(StatusFilter::Only(UserStatus::Active), &cursor),
            Some(id)
        );
        assert_eq!(decode(StatusFilter::NotDeleted, &cursor), None);
        assert_eq!(
            decode(StatusFilter::Only(UserStatus::Deleted), &cursor),
            None
        );
    }

    #[test]
    fn garbage_is_not_a_cursor() {
        for raw in [
            "",
            "!!!",
            "eyJ9",
            &URL_SAFE_NO_PAD.encode(b"{\"listing\":\"live\",\"after\":\"x\"}"),
        ] {
            assert_eq!(
                decode(StatusFilter::NotDeleted, &Cursor::new(raw)),
                None,
                "{raw}"
            );
        }
    }
}
