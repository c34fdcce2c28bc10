//! WebSub publishing (W3C WebSub §7): a form POST of `hub.mode=publish` and `hub.url` to the
//! hub when a feed changed; the hub then fetches the feed and pushes it to its subscribers.

/// Why a hub was not told.
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    #[error("{0}")]
    Request(#[from] reqwest::Error),
    #[error("the hub answered HTTP {0}")]
    Status(u16),
}
pub(super) async fn publish(
    client: &reqwest::Client,
    hub: &str,
    feed: &str,
) -> Result<(), PingError> {
    let response = client
        .post(hub)
        .form(&[("hub.mode", "publish"), ("hub.url", feed)])
        .send()
        .await?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(PingError::Status(status.as_u16()))
    }
}
