//! Client setup, listing and small reads.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use aws_config::BehaviorVersion;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, Region, RuntimeComponents};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::retries::RequestAttempts;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;

use super::errors::describe;
use super::retry::backoff;
use super::{S3Location, S3Options};
use crate::stats::RequestStats;
use crate::{ObjectInfo, SourceError};

/// Builds a client for `bucket`: standard credential chain, the bucket's own region,
/// retries with backoff and jitter for throttling and 5xx.
pub(super) async fn build(bucket: &str, options: &S3Options, stats: Arc<RequestStats>) -> Result<Client, SourceError> {
    let http =
        aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(CryptoMode::Ring)).build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(options.max_attempts.max(1))
                .with_max_backoff(Duration::from_secs(20)),
        )
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(10))
                .read_timeout(Duration::from_secs(60))
                .build(),
        );
    if let Some(url) = &options.endpoint_url {
        loader = loader.endpoint_url(url);
    }
    let shared = loader.load().await;
    let custom_endpoint = options.endpoint_url.clone().or_else(|| shared.endpoint_url().map(str::to_owned));
    let path_style = options.force_path_style || custom_endpoint.as_deref().is_some_and(is_local_or_ip);
    let configured_region = shared.region().cloned();
    let make = |region: Option<Region>| {
        let mut conf = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(path_style)
            .interceptor(CountAttempts(Arc::clone(&stats)));
        // S3 answers in any region for a custom endpoint; for AWS the bucket's own region is found below.
        conf = conf.region(region.or_else(|| Some(Region::from_static("us-east-1"))));
        Client::from_conf(conf.build())
    };
    let client = make(configured_region.clone());
    if custom_endpoint.is_some() {
        return Ok(client);
    }
    match bucket_region(&client, bucket).await {
        Some(region) if Some(region.as_str()) != configured_region.as_ref().map(|r| r.as_ref()) => {
            Ok(make(Some(Region::new(region))))
        }
        _ => Ok(client),
    }
}

/// The region S3 says the bucket lives in (it tells even when asked in the wrong region).
async fn bucket_region(client: &Client, bucket: &str) -> Option<String> {
    match client.head_bucket().bucket(bucket).send().await {
        Ok(out) => out.bucket_region().map(str::to_owned),
        Err(e) => e.raw_response().and_then(|r| r.headers().get("x-amz-bucket-region")).map(str::to_owned),
    }
}

fn is_local_or_ip(url: &str) -> bool {
    let host = url.split("://").nth(1).unwrap_or(url).split(['/', ':']).next().unwrap_or("");
    host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok() || url.contains("://[")
}

/// Every object under the prefix, keys relative to it. Folder markers are skipped.
pub(super) async fn list(
    client: &Client,
    location: &S3Location,
    stats: &RequestStats,
) -> Result<Vec<ObjectInfo>, SourceError> {
    let mut out = Vec::new();
    let mut pages = client.list_objects_v2().bucket(&location.bucket).prefix(&location.prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        stats.listed();
        let page = page.map_err(|e| SourceError::Request {
            location: location.to_string(),
            problem: describe("ListObjectsV2", &e),
        })?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            if key.ends_with('/') {
                continue;
            }
            let relative = key.strip_prefix(location.prefix.as_str()).unwrap_or(key).to_owned();
            out.push(ObjectInfo {
                key: relative,
                size: object.size().unwrap_or(0).max(0) as u64,
                modified: object.last_modified().and_then(|t| SystemTime::try_from(*t).ok()),
                etag: object.e_tag().map(unquote),
            });
        }
    }
    Ok(out)
}

/// Reads a small object whole (manifests, status files), again if its body breaks off.
pub(super) async fn read(
    client: &Client,
    location: &S3Location,
    key: &str,
    stats: &RequestStats,
    max_attempts: u32,
) -> Result<Vec<u8>, SourceError> {
    stats.read_small();
    let url = location.url(key);
    let mut attempt = 1;
    loop {
        let out = client
            .get_object()
            .bucket(&location.bucket)
            .key(location.key(key))
            .send()
            .await
            .map_err(|e| SourceError::Request { location: url.clone(), problem: describe("GetObject", &e) })?;
        match out.body.collect().await {
            Ok(body) => return Ok(body.into_bytes().to_vec()),
            Err(_) if attempt < max_attempts => {
                stats.retried();
                tokio::time::sleep(backoff(attempt)).await;
                attempt += 1;
            }
            Err(e) => {
                let problem = format!("the download broke off: {e} (gave up after {attempt} attempts)");
                return Err(SourceError::Request { location: url, problem });
            }
        }
    }
}

pub(crate) fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_owned()
}

/// Counts HTTP attempts the SDK makes again after throttling, 5xx or network errors.
#[derive(Debug)]
struct CountAttempts(Arc<RequestStats>);

impl Intercept for CountAttempts {
    fn name(&self) -> &'static str {
        "CountAttempts"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg.load::<RequestAttempts>().is_some_and(|a| a.attempts() > 1) {
            self.0.retried();
        }
        Ok(())
    }
}
