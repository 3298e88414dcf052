//! Just enough HTTP/1.1 for a loopback Runtime API and a mailbox read: one message at a time,
//! with a `Content-Length` or chunked body.

use anyhow::{Context, bail};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

/// A request or a response: its first line, headers (names lowercased) and body.
#[derive(Debug)]
pub struct Message {
    pub start_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Message {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The next message, or `None` when the peer closed the connection between messages.
/// `body_until_close` reads a body without length to the end (responses only).
pub async fn read_message<R: AsyncBufRead + Unpin>(
    reader: &mut R,
    body_until_close: bool,
) -> anyhow::Result<Option<Message>> {
    let mut start_line = String::new();
    if reader.read_line(&mut start_line).await? == 0 {
        return Ok(None);
    }
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            bail!("connection closed inside the headers");
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').context("a header without ':'")?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
    }
    let mut message = Message {
        start_line: start_line.trim_end().to_owned(),
        headers,
        body: Vec::new(),
    };
    if message
        .header("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        message.body = read_chunked(reader).await?;
    } else if let Some(length) = message.header("content-length") {
        let mut body = vec![0; length.parse().context("a bad Content-Length")?];
        reader.read_exact(&mut body).await?;
        message.body = body;
    } else if body_until_close {
        reader.read_to_end(&mut message.body).await?;
    }
    Ok(Some(message))
}

async fn read_chunked<R: AsyncBufRead + Unpin>(reader: &mut R) -> anyhow::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).await?;
        let size_text = size_line.trim().split(';').next().unwrap_or_default();
        let size = usize::from_str_radix(size_text, 16).context("a bad chunk size")?;
        if size == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).await? == 0 || line.trim().is_empty() {
                    return Ok(body);
                }
            }
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).await?;
        let mut crlf = [0; 2];
        reader.read_exact(&mut crlf).await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_length_and_chunked_bodies_back_to_back() {
        let wire: &[u8] = b"POST /a HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\
POST /b HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhe\r\n3;x=y\r\nllo\r\n0\r\n\r\n";
        let mut reader = tokio::io::BufReader::new(wire);
        let first = read_message(&mut reader, false).await.unwrap().unwrap();
        assert_eq!(first.start_line, "POST /a HTTP/1.1");
        assert_eq!(first.body, b"abc");
        let second = read_message(&mut reader, false).await.unwrap().unwrap();
        assert_eq!(second.body, b"hello");
        assert!(read_message(&mut reader, false).await.unwrap().is_none());
    }
}
