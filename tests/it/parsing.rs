//! Parsing as a subscriber sees it: documents in legacy charsets (with headers and
//! declarations that lie), malformed XML, relative links and an HTML page, polled by the real
//! daemon from a local server; the output feed must show the right text and links, and the
//! page must be refused with a reason on that feed.

use std::time::Duration;

use encoding_rs::{EUC_KR, KOI8_R, SHIFT_JIS};

use crate::support::{Fixture, FixtureServer, Workspace, wait_for};

fn rss_document(declaration: &str, title: &str, guid: &str) -> String {
    format!(
        "{declaration}<rss version=\"2.0\"><channel><title>c</title>\
         <link>https://site.example/news/</link>\
         <item><guid>{guid}</guid><title>{title}</title><link>{guid}.html</link></item>\
         </channel></rss>"
    )
}

fn encoded(text: &str, encoding: &'static encoding_rs::Encoding) -> Vec<u8> {
    encoding.encode(text).0.into_owned()
}

const RUSSIAN: &str = "Северная Корея провела испытание ракеты";
const KOREAN: &str = "북한, 동해상으로 탄도미사일 발사";
const JAPANESE: &str = "北朝鮮が弾道ミサイルを発射、日本海に落下";
const EUC_KOREAN: &str = "우크라이나 전쟁 소식";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn charsets_malformed_documents_and_relative_links_come_out_right() {
    let server = FixtureServer::start().await;
    // KOI8-R bytes under a declaration that still says windows-1251: the header is right.
    server.set(
        "/koi8.xml",
        Fixture::raw(
            200,
            "application/rss+xml; charset=KOI8-R",
            encoded(
                &rss_document(
                    "<?xml version=\"1.0\" encoding=\"windows-1251\"?>",
                    RUSSIAN,
                    "ru",
                ),
                KOI8_R,
            ),
        ),
    );
    // UTF-8 bytes under a server default of ISO-8859-1: the bytes are right.
    server.set(
        "/lying-header.xml",
        Fixture::raw(
            200,
            "text/xml; charset=ISO-8859-1",
            rss_document("<?xml version=\"1.0\"?>", KOREAN, "ko"),
        ),
    );
    // Shift_JIS declared in the document, no charset in the header.
    server.set(
        "/sjis.xml",
        Fixture::raw(
            200,
            "application/xml",
            encoded(
                &rss_document(
                    "<?xml version=\"1.0\" encoding=\"Shift_JIS\"?>",
                    JAPANESE,
                    "ja",
                ),
                SHIFT_JIS,
            ),
        ),
    );
    // EUC-KR, no label anywhere: sniffed.
    server.set(
        "/euc-kr.xml",
        Fixture::raw(
            200,
            "application/rss+xml",
            encoded(&rss_document("", EUC_KOREAN, "euc"), EUC_KR),
        ),
    );
    // Not well-formed: HTML entities, a bare ampersand, junk before the root, no end.
    server.set(
        "/broken.xml",
        Fixture::raw(
            200,
            "application/rss+xml",
            "Notice: undefined index in feed.php\n<rss version=\"2.0\"><channel><title>b</title>\
             <item><guid>b1</guid><title>Kyiv&nbsp;&amp; Odesa & Kharkiv &mdash; update</title></item>\
             <item><guid>b2</guid><title>cut off</tit",
        ),
    );
    server.set(
        "/page.html",
        Fixture::raw(
            200,
            "text/html; charset=utf-8",
            "<!DOCTYPE html><html><head><title>Home</title></head><body>hi</body></html>",
        ),
    );
    let names = [
        "/koi8.xml",
        "/lying-header.xml",
        "/sjis.xml",
        "/euc-kr.xml",
        "/broken.xml",
        "/page.html",
    ];
    let config: String = names
        .iter()
        .map(|path| {
            format!(
                "[[feeds]]\nurl = \"{}\"\nname = \"{}\"\n",
                server.url(path),
                path.trim_start_matches('/')
            )
        })
        .collect();
    let workspace = Workspace::new(&config);
    let daemon = workspace.start_daemon().await;
    let entries = wait_for(Duration::from_secs(30), || async {
        let entries = daemon.entries("/feeds/all.atom").await;
        (entries.len() >= 5).then_some(entries)
    })
    .await
    .unwrap_or_else(|| panic!("the polls never showed up; log:\n{}", daemon.log_text()));
    let mut titles: Vec<&str> = entries.iter().map(|(_, title, _)| title.as_str()).collect();
    titles.sort_unstable();
    let mut expected = vec![
        RUSSIAN,
        KOREAN,
        JAPANESE,
        EUC_KOREAN,
        "Kyiv & Odesa & Kharkiv — update",
    ];
    expected.sort_unstable();
    assert_eq!(titles, expected);
    // Relative item links resolve against the channel's link.
    let links: Vec<&str> = entries.iter().map(|(_, _, link)| link.as_str()).collect();
    assert!(
        links.contains(&"https://site.example/news/ru.html"),
        "{links:?}"
    );
    drop(daemon);
    let rows = workspace.status().await;
    let page = rows
        .iter()
        .find(|row| row["name"] == "page.html")
        .unwrap_or_else(|| panic!("{rows:?}"));
    let error = page["last_error"].as_str().unwrap_or_default();
    assert!(error.contains("not a feed"), "{page}");
}
