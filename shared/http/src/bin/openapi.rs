//! Prints the OpenAPI document; `make openapi` writes it to docs/openapi.json.
use std::io::Write;

fn main() -> std::io::Result<()> {
    std::io::stdout().write_all(http_api::openapi::document_json().as_bytes())
}
