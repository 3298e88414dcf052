//! Listing cursors: opaque to clients, readable only here. A cursor names the listing it
//! belongs to and the last item of the page it ends, so a cursor replayed against another
//! listing, or a forged one, is refused rather than silently misread.

use super::errors::repository_error;
use super::items::Item;
use application::ports::{Cursor, Page, PageError, PageLimit, RepositoryError, StatusFilter};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
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

/// An entity that listings page through: how its id reads back from a cursor, and how an
/// item reads as the entity.
pub(crate) trait Listed: Sized {
    type Id: Display;
    fn parse_id(raw: &str) -> Option<Self::Id>;
    fn id(&self) -> Self::Id;
    fn read(item: Item) -> Result<Self, RepositoryError>;
}

/// One page of `listing`, newest first: `query` (table, index and key condition set) resumes
/// after the cursor's item, whose table key (and index key) `resume_after` gives.
pub(crate) async fn page<T: Listed>(
    query: QueryFluentBuilder,
    listing: String,
    cursor: Option<&Cursor>,
    limit: PageLimit,
    resume_after: impl FnOnce(T::Id) -> Item,
) -> Result<Page<T>, PageError> {
    let start = match cursor {
        None => None,
        Some(token) => {
            let after = decode(&listing, token, T::parse_id).ok_or(PageError::InvalidCursor)?;
            Some(resume_after(after))
        }
    };
    let limit = limit.get();
    let output = query
        .scan_index_forward(false)
        .limit(query_limit(limit))
        .set_exclusive_start_key(start)
        .send()
        .await
        .map_err(repository_error)?;
    Ok(page_of(output, limit, listing, T::read, |item: &T| {
        item.id()
    })?)
}

/// The Query `Limit` for a page of `limit`: one more item than a page tells whether another
/// page follows, without ever answering an empty last page with a cursor.
fn query_limit(limit: usize) -> i32 {
    i32::try_from(limit + 1).unwrap_or(i32::MAX)
}

/// One page from a Query run with `query_limit(limit)`; the cursor, if another page follows,
/// points after the page's last item.
fn page_of<T, Id: Display>(
    output: QueryOutput,
    limit: usize,
    listing: String,
    read: impl Fn(Item) -> Result<T, RepositoryError>,
    id_of: impl Fn(&T) -> Id,
) -> Result<Page<T>, RepositoryError> {
    let more_in_store = output.last_evaluated_key.is_some();
    let mut items = output
        .items
        .unwrap_or_default()
        .into_iter()
        .map(read)
        .collect::<Result<Vec<_>, _>>()?;
    let more = items.len() > limit || more_in_store;
    items.truncate(limit);
    let next_cursor = match items.last() {
        Some(last) if more => Some(encode(listing, id_of(last))),
        _ => None,
    };
    Ok(Page { items, next_cursor })
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
