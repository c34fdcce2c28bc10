use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::*;
use crate::config;
use crate::topics::TopicSet;

fn state() -> AppState {
    let text = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"ukraine\"\nany = [\"ukrain*\"]\n";
    let config = config::parse(Path::new("feeds.toml"), text).unwrap();
    let store = Store::open_in_memory().unwrap();
    store.sync_feeds(&[("https://a.example/", None)]).unwrap();
    let topics = Arc::new(TopicSet::compile(&config.topics));
    AppState {
        store: store.clone(),
        live: Live::new(),
        public_url: "http://tidings.example".into(),
        outputs: Arc::new(Outputs::new(
            store,
            topics,
            crate::store::Grouping::Stories,
            "http://tidings.example".into(),
            None,
            std::time::Duration::from_secs(300),
        )),
    }
}

async fn get(state: &AppState, uri: &str, headers: &[(header::HeaderName, &str)]) -> Response {
    let mut request = Request::get(uri);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    router(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn known_topics_are_served_and_unknown_ones_are_404() {
    let state = state();
    assert_eq!(
        get(&state, "/feeds/ukraine.atom", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&state, "/feeds/all.atom", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&state, "/feeds/nope.atom", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&state, "/feeds/ukraine.pdf", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&state, "/feeds/ukraine", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn bad_limits_are_400() {
    let state = state();
    let response = get(&state, "/feeds/all.atom?limit=abc", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = get(&state, "/feeds/all.atom?limit=0", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = get(&state, "/feeds/all.atom?limit=100000", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn validators_give_304() {
    let state = state();
    let first = get(&state, "/feeds/all.atom", &[]).await;
    let etag = first.headers()[header::ETAG].to_str().unwrap().to_string();
    let last_modified = first.headers()[header::LAST_MODIFIED]
        .to_str()
        .unwrap()
        .to_string();
    let again = get(&state, "/feeds/all.atom", &[(header::IF_NONE_MATCH, &etag)]).await;
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    let since = get(
        &state,
        "/feeds/all.atom",
        &[(header::IF_MODIFIED_SINCE, &last_modified)],
    )
    .await;
    assert_eq!(since.status(), StatusCode::NOT_MODIFIED);
    let other = get(
        &state,
        "/feeds/all.atom",
        &[(header::IF_NONE_MATCH, "\"other\"")],
    )
    .await;
    assert_eq!(other.status(), StatusCode::OK);
}

#[tokio::test]
async fn health_and_index_answer() {
    let state = state();
    assert_eq!(get(&state, "/healthz", &[]).await.status(), StatusCode::OK);
    let index = get(&state, "/", &[]).await;
    assert_eq!(index.status(), StatusCode::OK);
    let body = axum::body::to_bytes(index.into_body(), 1 << 20)
        .await
        .unwrap();
    let page = String::from_utf8(body.to_vec()).unwrap();
    assert!(
        page.contains("rel=\"alternate\" type=\"application/atom+xml\""),
        "{page}"
    );
    for wanted in [
        "http://tidings.example/feeds/ukraine.atom",
        "type=\"application/rss+xml\" title=\"ukraine (RSS)\" href=\"http://tidings.example/feeds/ukraine.rss\"",
        "type=\"application/feed+json\"",
        "href=\"/opml\"",
    ] {
        assert!(page.contains(wanted), "{wanted}: {page}");
    }
    assert!(!page.contains("<script"), "{page}");
}

#[tokio::test]
async fn every_format_is_served_with_its_type_cache_control_and_head() {
    let state = state();
    for (extension, media_type) in [
        ("atom", "application/atom+xml"),
        ("rss", "application/rss+xml"),
        ("json", "application/feed+json"),
    ] {
        let uri = format!("/feeds/ukraine.{extension}");
        let response = get(&state, &uri, &[]).await;
        assert_eq!(response.status(), StatusCode::OK, "{uri}");
        let content_type = response.headers()[header::CONTENT_TYPE].to_str().unwrap();
        assert!(content_type.starts_with(media_type), "{content_type}");
        assert_eq!(
            response.headers()[header::CACHE_CONTROL],
            "public, max-age=300"
        );
        let head = router(state.clone())
            .oneshot(Request::head(&uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.headers().contains_key(header::ETAG));
        let body = axum::body::to_bytes(head.into_body(), 1 << 20)
            .await
            .unwrap();
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn gzip_when_asked() {
    let state = state();
    let response = get(
        &state,
        "/feeds/all.rss",
        &[(header::ACCEPT_ENCODING, "gzip")],
    )
    .await;
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
}

async fn body_of(response: Response) -> Vec<u8> {
    axum::body::to_bytes(response.into_body(), 1 << 24)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn feeds_are_served_in_the_coding_asked_for_and_vary_on_it() {
    use std::io::Read as _;
    let state = state();
    let plain = get(&state, "/feeds/all.atom", &[]).await;
    assert!(!plain.headers().contains_key(header::CONTENT_ENCODING));
    assert_eq!(plain.headers()[header::VARY], "accept-encoding");
    let etag = plain.headers()[header::ETAG].to_str().unwrap().to_string();
    let plain = body_of(plain).await;
    for _ in 0..2 {
        let brotli = get(
            &state,
            "/feeds/all.atom",
            &[(header::ACCEPT_ENCODING, "gzip, deflate, br")],
        )
        .await;
        assert_eq!(brotli.headers()[header::CONTENT_ENCODING], "br");
        assert_eq!(brotli.headers()[header::VARY], "accept-encoding");
        assert_eq!(brotli.headers()[header::ETAG].to_str().unwrap(), etag);
        let mut decoded = Vec::new();
        brotli::Decompressor::new(body_of(brotli).await.as_slice(), 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, plain);
    }
    let gzip = get(
        &state,
        "/feeds/all.atom",
        &[(header::ACCEPT_ENCODING, "br;q=0.1, gzip")],
    )
    .await;
    assert_eq!(gzip.headers()[header::CONTENT_ENCODING], "gzip");
    let mut decoded = Vec::new();
    flate2::read::GzDecoder::new(body_of(gzip).await.as_slice())
        .read_to_end(&mut decoded)
        .unwrap();
    assert_eq!(decoded, plain);
    // A 304 carries what the 200 would have (validators, Cache-Control, Vary), no body.
    let not_modified = get(
        &state,
        "/feeds/all.atom",
        &[
            (header::ACCEPT_ENCODING, "gzip"),
            (header::IF_NONE_MATCH, &format!("\"other\", {etag}")),
        ],
    )
    .await;
    assert_eq!(not_modified.status(), StatusCode::NOT_MODIFIED);
    for name in [
        header::ETAG,
        header::LAST_MODIFIED,
        header::CACHE_CONTROL,
        header::VARY,
    ] {
        assert!(not_modified.headers().contains_key(&name), "{name}");
    }
    assert!(
        !not_modified
            .headers()
            .contains_key(header::CONTENT_ENCODING)
    );
    assert!(body_of(not_modified).await.is_empty());
    // A percent-encoded path names the same feed.
    let encoded = get(&state, "/feeds/all%2Eatom", &[]).await;
    assert_eq!(encoded.status(), StatusCode::OK);
    assert_eq!(encoded.headers()[header::ETAG].to_str().unwrap(), etag);
}

#[tokio::test]
async fn bad_cursors_are_400_and_opml_is_served() {
    let state = state();
    let response = get(&state, "/feeds/all.atom?before=yesterday", &[]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = get(&state, "/opml", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    assert!(text.contains("xmlUrl=\"https://a.example/\""), "{text}");
}

#[tokio::test]
async fn a_refused_config_is_named_on_the_index_and_topics_follow_a_reload() {
    let state = state();
    state
        .live
        .set_config_error(Some("feeds.toml:3:7: bad feed url".into()));
    let response = get(&state, "/", &[]).await;
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&body);
    assert!(page.contains("feeds.toml:3:7: bad feed url"), "{page}");
    state.live.set_config_error(None);
    let text = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"korea\"\nany = [\"korea\"]\n";
    let config = config::parse(Path::new("feeds.toml"), text).unwrap();
    state
        .outputs
        .set_topics(Arc::new(TopicSet::compile(&config.topics)));
    let response = get(&state, "/", &[]).await;
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    let page = String::from_utf8_lossy(&body);
    assert!(!page.contains("bad feed url"), "{page}");
    assert_eq!(
        get(&state, "/feeds/korea.atom", &[]).await.status(),
        StatusCode::OK
    );
    assert_eq!(
        get(&state, "/feeds/ukraine.atom", &[]).await.status(),
        StatusCode::NOT_FOUND
    );
}
