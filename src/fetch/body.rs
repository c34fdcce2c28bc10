//! A response body, decoded as it streams in (`Content-Encoding` gzip, br or deflate) and cut
//! off at the cap, so a gzip bomb costs no more memory than the cap.

use std::io;

use async_compression::tokio::bufread::{BrotliDecoder, GzipDecoder, ZlibDecoder};
use http_body_util::{BodyDataStream, BodyExt};
use hyper::header::{CONTENT_ENCODING, HeaderMap};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio_util::io::StreamReader;

use super::lanes::Exchange;
use super::{FetchError, error_chain};

/// How a body is encoded on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Encoding {
    Gzip,
    Brotli,
    Deflate,
    /// Not encoded, or encoded in a way we did not ask for (servers send `utf-8` or `none`
    /// here): the bytes are taken as they are, and the parser says if they are not a feed.
    Identity,
}

impl Encoding {
    fn of(headers: &HeaderMap) -> Encoding {
        let value = headers
            .get(CONTENT_ENCODING)
            .and_then(|value| value.to_str().ok())
            .map(|value| value.trim().to_ascii_lowercase());
        match value.as_deref() {
            Some("gzip" | "x-gzip") => Encoding::Gzip,
            Some("br") => Encoding::Brotli,
            // As browsers and reqwest read it: zlib-wrapped deflate.
            Some("deflate") => Encoding::Deflate,
            _ => Encoding::Identity,
        }
    }
}

/// Reads the body of `exchange`, decoded, failing with `TooLarge` past `max_body` bytes. A
/// body read to its end leaves the connection to the next request.
pub async fn read(mut exchange: Exchange, max_body: usize) -> Result<Vec<u8>, FetchError> {
    let encoding = Encoding::of(exchange.response.headers());
    let failed = |error: io::Error| FetchError::Http(error_chain(&error));
    let mut body = Vec::new();
    {
        let stream = BodyDataStream::new(exchange.response.body_mut().map_err(io::Error::other));
        let raw = StreamReader::new(stream);
        let mut decoded: Box<dyn AsyncRead + Send + Unpin + '_> = match encoding {
            Encoding::Gzip => Box::new(GzipDecoder::new(raw)),
            Encoding::Brotli => Box::new(BrotliDecoder::new(raw)),
            Encoding::Deflate => Box::new(ZlibDecoder::new(raw)),
            Encoding::Identity => Box::new(raw),
        };
        // One byte past the cap tells a body at the cap from a longer one.
        let limit = u64::try_from(max_body)
            .unwrap_or(u64::MAX)
            .saturating_add(1);
        (&mut decoded)
            .take(limit)
            .read_to_end(&mut body)
            .await
            .map_err(failed)?;
    }
    if body.len() > max_body {
        return Err(FetchError::TooLarge { limit: max_body });
    }
    // A compressed stream can end before the HTTP body does (a chunked body's last chunk).
    exchange.drain().await;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_are_read_leniently() {
        let of = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(CONTENT_ENCODING, value.parse().unwrap());
            Encoding::of(&headers)
        };
        assert_eq!(of("gzip"), Encoding::Gzip);
        assert_eq!(of(" X-GZIP "), Encoding::Gzip);
        assert_eq!(of("br"), Encoding::Brotli);
        assert_eq!(of("deflate"), Encoding::Deflate);
        assert_eq!(of("utf-8"), Encoding::Identity);
        assert_eq!(Encoding::of(&HeaderMap::new()), Encoding::Identity);
    }
}
