//! A counting TCP proxy in front of DynamoDB Local: it forwards bytes untouched and counts the
//! operations the requests name in their `X-Amz-Target` header (`DynamoDB_20120810.GetItem`).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const TARGET_HEADER: &[u8] = b"x-amz-target:";

/// Operation name → calls seen since the last `take`.
#[derive(Debug, Default, Clone)]
pub struct Calls(Arc<Mutex<BTreeMap<String, u64>>>);

impl Calls {
    fn add(&self, operation: String) {
        *self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(operation)
            .or_default() += 1;
    }

    pub fn take(&self) -> BTreeMap<String, u64> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// Starts the proxy; the returned address replaces DynamoDB's endpoint.
pub async fn start(upstream: SocketAddr, calls: Calls) -> anyhow::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let calls = calls.clone();
            tokio::spawn(async move {
                if let Ok(server) = TcpStream::connect(upstream).await {
                    let _ = relay(client, server, calls).await;
                }
            });
        }
    });
    Ok(address)
}

async fn relay(client: TcpStream, server: TcpStream, calls: Calls) -> std::io::Result<()> {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let upstream = async {
        let mut scanner = TargetScanner::default();
        let mut buffer = vec![0; 64 * 1024];
        loop {
            let read = client_read.read(&mut buffer).await?;
            if read == 0 {
                return server_write.shutdown().await;
            }
            for operation in scanner.feed(&buffer[..read]) {
                calls.add(operation);
            }
            server_write.write_all(&buffer[..read]).await?;
        }
    };
    let downstream = tokio::io::copy(&mut server_read, &mut client_write);
    let (up, down) = tokio::join!(upstream, downstream);
    up.and(down.map(drop))
}

/// Finds complete `x-amz-target` header lines in a byte stream that arrives in pieces.
#[derive(Debug, Default)]
struct TargetScanner {
    pending: Vec<u8>,
}

impl TargetScanner {
    fn feed(&mut self, bytes: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(bytes);
        let mut found = Vec::new();
        let mut consumed = 0;
        let mut partial_header = None;
        while let Some(start) = find_ignoring_case(&self.pending[consumed..], TARGET_HEADER) {
            let value_start = consumed + start + TARGET_HEADER.len();
            let Some(end) = self.pending[value_start..]
                .windows(2)
                .position(|pair| pair == b"\r\n")
            else {
                partial_header = Some(consumed + start);
                break;
            };
            let value = String::from_utf8_lossy(&self.pending[value_start..value_start + end]);
            let operation = value.trim().rsplit('.').next().unwrap_or_default();
            found.push(operation.to_owned());
            consumed = value_start + end;
        }
        // Keep a header still arriving, or the tail that could begin one.
        let keep_from = partial_header.unwrap_or_else(|| {
            let tail = self.pending.len().saturating_sub(TARGET_HEADER.len() - 1);
            tail.max(consumed)
        });
        self.pending.drain(..keep_from);
        found
    }
}

fn find_ignoring_case(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window.eq_ignore_ascii_case(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_targets_split_across_reads() {
        let stream = b"POST / HTTP/1.1\r\nX-Amz-Target: DynamoDB_20120810.GetItem\r\n\r\n{}\
POST / HTTP/1.1\r\nx-amz-target: DynamoDB_20120810.TransactWriteItems\r\n\r\n{}";
        for split in 1..stream.len() {
            let mut scanner = TargetScanner::default();
            let mut found = scanner.feed(&stream[..split]);
            found.extend(scanner.feed(&stream[split..]));
            assert_eq!(found, ["GetItem", "TransactWriteItems"], "split at {split}");
        }
    }
}
