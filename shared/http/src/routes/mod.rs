//! One module per route (or small group of routes): the request type with the parser that
//! collects every failing field, the handler, and its `#[utoipa::path]`. A handler parses,
//! runs its use case through `UseCase`, and answers every business outcome itself; only
//! `serve` sees the truly unexpected.

pub mod credentials;
pub mod documentation;
pub mod jwks;
pub mod orders;
pub mod users;

use crate::response::{self, PageBody};
use application::ports::Page;
use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};

/// A listing's page as JSON, each item shown by `body`.
fn page_response<'a, T: 'a, B: serde::Serialize>(
    page: &'a Page<T>,
    body: impl Fn(&'a T) -> B,
) -> Response<Body> {
    let body = PageBody {
        items: page.items.iter().map(body).collect(),
        next_cursor: page
            .next_cursor
            .as_ref()
            .map(|cursor| cursor.as_str().to_owned()),
    };
    response::json(StatusCode::OK, &body)
}
