//! The baseline of the polling benchmark: a minimal reqwest loop that only downloads the same
//! documents `tidings poll` fetches, with the same client settings, the same global
//! concurrency and the same per-host bound, and does nothing with them. Run by
//! `benches/poll_scale.py`; see docs/PERFORMANCE.md.
//!
//! Usage: bare_download URLS_FILE CONCURRENCY PER_HOST [BETWEEN_URL]
//! BETWEEN_URL, if given, is fetched between the passes (the benchmark bumps some feeds there).
//! Prints two lines: the cold pass (plain GETs) and the warm pass (the same GETs with the
//! ETags and Last-Modified dates from the cold pass), each as `cold SECONDS STATUS_COUNTS`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use tokio::sync::Semaphore;

type Validators = (Option<String>, Option<String>);

async fn pass(
    client: &reqwest::Client,
    urls: &[String],
    concurrency: usize,
    per_host: usize,
    validators: &HashMap<String, Validators>,
) -> (Duration, HashMap<u16, usize>, HashMap<String, Validators>) {
    let global = Arc::new(Semaphore::new(concurrency));
    let mut hosts: HashMap<String, Arc<Semaphore>> = HashMap::new();
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(urls.len());
    for url in urls {
        let host = url.split('/').nth(2).unwrap_or_default().to_string();
        let host_permits = Arc::clone(
            hosts
                .entry(host)
                .or_insert_with(|| Arc::new(Semaphore::new(per_host))),
        );
        let global = Arc::clone(&global);
        let client = client.clone();
        let url = url.clone();
        let (etag, last_modified) = validators.get(&url).cloned().unwrap_or_default();
        tasks.push(tokio::spawn(async move {
            let _host = host_permits.acquire_owned().await.ok()?;
            let _global = global.acquire_owned().await.ok()?;
            let mut request = client.get(&url);
            if let Some(etag) = etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(last_modified) = last_modified {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
            let response = request.send().await.ok()?;
            let status = response.status().as_u16();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                    .map(str::to_string)
            };
            let found = (header(ETAG), header(LAST_MODIFIED));
            let _body = response.bytes().await.ok()?;
            Some((url, status, found))
        }));
    }
    let mut statuses = HashMap::new();
    let mut seen = HashMap::new();
    for task in tasks {
        if let Ok(Some((url, status, found))) = task.await {
            *statuses.entry(status).or_insert(0) += 1;
            seen.insert(url, found);
        } else {
            *statuses.entry(0).or_insert(0) += 1;
        }
    }
    (started.elapsed(), statuses, seen)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let arguments: Vec<String> = std::env::args().collect();
    let (urls_file, concurrency, per_host, between) = match &arguments[..] {
        [_, urls_file, concurrency, per_host] => (urls_file, concurrency, per_host, None),
        [_, urls_file, concurrency, per_host, between] => {
            (urls_file, concurrency, per_host, Some(between))
        }
        _ => {
            return Err("usage: bare_download URLS_FILE CONCURRENCY PER_HOST [BETWEEN_URL]".into());
        }
    };
    let urls: Vec<String> = std::fs::read_to_string(urls_file)?
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_string)
        .collect();
    let concurrency: usize = concurrency.parse()?;
    let per_host: usize = per_host.parse()?;
    let client = tidings::fetch::build_client(Duration::from_secs(30))?;
    let (cold, statuses, validators) =
        pass(&client, &urls, concurrency, per_host, &HashMap::new()).await;
    println!("cold {:.3} {statuses:?}", cold.as_secs_f64());
    if let Some(between) = between {
        client.get(between).send().await?.error_for_status()?;
    }
    let (warm, statuses, _) = pass(&client, &urls, concurrency, per_host, &validators).await;
    println!("warm {:.3} {statuses:?}", warm.as_secs_f64());
    Ok(())
}
