use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;

use super::*;
use crate::config;

fn state() -> AppState {
    let text = "[[feeds]]\nurl = \"https://a.example/\"\n[[topics]]\nname = \"ukraine\"\nany = [\"ukrain*\"]\n";
    let config = config::parse(Path::new("feeds.toml"), text).unwrap();
    AppState {
        store: Store::open_in_memory().unwrap(),
        live: Live::new(Arc::new(TopicSet::compile(&config.topics))),
        public_url: "http://tidings.example".into(),
        grouping: crate::store::Grouping::Stories,
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
    assert!(
        page.contains("http://tidings.example/feeds/ukraine.atom"),
        "{page}"
    );
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
        .live
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
