//! Access-token keys. `keys generate KID DIR` writes a new Ed25519 key pair into DIR:
//! `KID.private` (base64 of PKCS#8: the secret) and `KID.jwk.json` (the public JWK), and
//! prints nothing secret. `make run` / `make test` use it once for the local stack; `make keys`
//! for a deployment (docs in the README).
use infrastructure::tokens::generate_key;
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, kid, dir] = args.as_slice() else {
        anyhow::bail!("usage: keys generate KID DIR");
    };
    anyhow::ensure!(command == "generate", "usage: keys generate KID DIR");
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir)?;
    let key = generate_key(kid)?;
    let private = dir.join(format!("{kid}.private"));
    write_private(&private, &key.private_key)?;
    std::fs::write(
        dir.join(format!("{kid}.jwk.json")),
        serde_json::to_string(&key.public)?,
    )?;
    tracing::info!(kid = %kid, "key pair written");
    Ok(())
}

/// Readable by its owner only.
fn write_private(path: &std::path::Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}
