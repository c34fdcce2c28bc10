//! A rendered page as it is served: the bytes and their validators, the `Last-Modified` of the
//! content (decided by `Outputs::page`, which may differ from the newest entry's time), that
//! time written once as an HTTP date, and gzip and brotli copies of the body, each made at
//! most once, when a client first asks for it.

use std::io::Write as _;
use std::sync::OnceLock;

use chrono::{DateTime, Utc};

use crate::publish::Rendered;

/// gzip level and brotli quality: a page is compressed once per change and then served many
/// times, so the compression is worth more than its few milliseconds.
const GZIP_LEVEL: u32 = 9;
const BROTLI_QUALITY: u32 = 9;
const BROTLI_WINDOW: u32 = 22;

/// A content coding of the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Brotli,
}

impl Encoding {
    /// The `Content-Encoding` token; `None` for identity.
    pub fn token(self) -> Option<&'static str> {
        match self {
            Encoding::Identity => None,
            Encoding::Gzip => Some("gzip"),
            Encoding::Brotli => Some("br"),
        }
    }

    /// The coding to answer an `Accept-Encoding` value with (RFC 9110 §12.5.3): the one with
    /// the highest weight among brotli and gzip (`*` standing for those not named; brotli on
    /// a tie, being smaller), identity when neither is acceptable or the header is absent.
    pub fn negotiate(accept: Option<&str>) -> Encoding {
        let Some(accept) = accept else {
            return Encoding::Identity;
        };
        let (mut brotli, mut gzip, mut any) = (None, None, None);
        for item in accept.split(',') {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let mut weight = 1.0_f32;
            for parameter in parts {
                if let Some((name, value)) = parameter.split_once('=')
                    && name.trim().eq_ignore_ascii_case("q")
                {
                    // A weight that does not parse is taken as "not acceptable".
                    weight = value.trim().parse().unwrap_or(0.0);
                }
            }
            if coding.eq_ignore_ascii_case("br") {
                brotli = Some(weight);
            } else if coding.eq_ignore_ascii_case("gzip") || coding.eq_ignore_ascii_case("x-gzip") {
                gzip = Some(weight);
            } else if coding == "*" {
                any = Some(weight);
            }
        }
        let brotli = brotli.or(any).unwrap_or(0.0);
        let gzip = gzip.or(any).unwrap_or(0.0);
        if brotli > 0.0 && brotli >= gzip {
            Encoding::Brotli
        } else if gzip > 0.0 {
            Encoding::Gzip
        } else {
            Encoding::Identity
        }
    }
}

/// One page of one feed, ready to serve.
#[derive(Debug)]
pub struct Page {
    pub rendered: Rendered,
    /// When the feed's content became what this page holds: the newest entry's time when that
    /// is later than the previous content's `Last-Modified`, else the time the change was
    /// seen, so that a change which brings no newer entry (a source removed, an older item
    /// added) still moves it.
    pub last_modified: DateTime<Utc>,
    /// `last_modified` as an HTTP date.
    last_modified_http: String,
    /// Compressed copies; `None` inside when compressing failed (the page is then served
    /// uncompressed).
    gzip: OnceLock<Option<Vec<u8>>>,
    brotli: OnceLock<Option<Vec<u8>>>,
}

impl Page {
    pub(super) fn new(rendered: Rendered, last_modified: DateTime<Utc>) -> Page {
        Page {
            rendered,
            last_modified,
            last_modified_http: last_modified
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
            gzip: OnceLock::new(),
            brotli: OnceLock::new(),
        }
    }

    /// The strong validator, quoted.
    pub fn etag(&self) -> &str {
        &self.rendered.etag
    }

    /// `last_modified` as an HTTP date (IMF-fixdate).
    pub fn last_modified_http(&self) -> &str {
        &self.last_modified_http
    }

    /// The body in `encoding` if no work is needed to have it: always for identity, for a
    /// compressed coding once it was made. `Some(None)` means compressing failed.
    pub fn ready(&self, encoding: Encoding) -> Option<Option<&[u8]>> {
        match encoding {
            Encoding::Identity => Some(Some(&self.rendered.body)),
            Encoding::Gzip => self.gzip.get().map(Option::as_deref),
            Encoding::Brotli => self.brotli.get().map(Option::as_deref),
        }
    }

    /// The body in `encoding`, compressed now if nobody asked for it before; `None` when
    /// compressing failed. Blocking (CPU) the first time.
    pub fn body(&self, encoding: Encoding) -> Option<&[u8]> {
        let body = &self.rendered.body;
        match encoding {
            Encoding::Identity => Some(body),
            Encoding::Gzip => self.gzip.get_or_init(|| gzip(body).ok()).as_deref(),
            Encoding::Brotli => self.brotli.get_or_init(|| brotli(body).ok()).as_deref(),
        }
    }
}

fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 4),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(body)?;
    encoder.finish()
}

fn brotli(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(body.len() / 4);
    {
        let mut encoder =
            brotli::CompressorWriter::new(&mut out, 4096, BROTLI_QUALITY, BROTLI_WINDOW);
        encoder.write_all(body)?;
        encoder.flush()?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Read as _;

    use super::*;

    #[test]
    fn accept_encoding_is_negotiated_by_weight() {
        use Encoding::*;
        for (accept, expected) in [
            (None, Identity),
            (Some(""), Identity),
            (Some("gzip"), Gzip),
            (Some("x-gzip"), Gzip),
            (Some("gzip, deflate, br"), Brotli),
            (Some("br;q=0.5, gzip"), Gzip),
            (Some("br;q=0, gzip;q=0"), Identity),
            (Some("BR ; Q=1"), Brotli),
            (Some("*"), Brotli),
            (Some("*;q=0.3, br;q=0"), Gzip),
            (Some("gzip;q=nonsense"), Identity),
            (Some("identity, deflate"), Identity),
        ] {
            assert_eq!(Encoding::negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn compressed_bodies_decode_to_the_page_and_are_made_once() {
        let body = "<feed>".repeat(2_000).into_bytes();
        let page = Page::new(
            Rendered {
                body: body.clone(),
                content_type: "application/atom+xml",
                etag: "\"x\"".into(),
                last_modified: DateTime::<Utc>::UNIX_EPOCH,
            },
            DateTime::<Utc>::UNIX_EPOCH,
        );
        assert_eq!(page.last_modified_http(), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert!(page.ready(Encoding::Gzip).is_none());
        let gzipped = page.body(Encoding::Gzip).unwrap().to_vec();
        assert!(gzipped.len() < body.len() / 10);
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(gzipped.as_slice())
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert_eq!(page.ready(Encoding::Gzip), Some(Some(gzipped.as_slice())));
        let brotli = page.body(Encoding::Brotli).unwrap().to_vec();
        let mut decoded = Vec::new();
        brotli::Decompressor::new(brotli.as_slice(), 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        assert!(std::ptr::eq(
            page.body(Encoding::Brotli).unwrap(),
            page.body(Encoding::Brotli).unwrap()
        ));
    }
}
