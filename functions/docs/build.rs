//! Bundles the Swagger UI assets from the npm package `swagger-ui-dist` (installed by `make`
//! into .devstack/node_modules) into the binary, so /docs needs no CDN and no internet.
use std::path::PathBuf;

const ASSETS: [&str; 2] = ["swagger-ui-bundle.js", "swagger-ui.css"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let package = manifest_dir.join("../../.devstack/node_modules/swagger-ui-dist");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    for asset in ASSETS {
        let source = package.join(asset);
        println!("cargo::rerun-if-changed={}", source.display());
        if std::fs::copy(&source, out_dir.join(asset)).is_err() {
            // One line, and no panic backtrace: what is missing and the command that installs it.
            println!(
                "cargo::error=the /docs viewer (npm package swagger-ui-dist) is not installed: run `make install` first"
            );
            return;
        }
    }
}
