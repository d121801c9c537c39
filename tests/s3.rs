//! Ingesting from a real S3-compatible server on 127.0.0.1, through a proxy that counts
//! requests and injects the failures real buckets produce.

use std::path::Path;
use std::process::Output;

use curwatch_schema::Money;

use crate::util::proxy::{Fault, Proxy, Seen};
use crate::util::s3::{ACCESS_KEY, Bucket, SECRET_KEY, aws_env, server_addr};
use crate::util::{Env, describe, fixture, money, snapshot};

/// A store, a bucket, and a proxy in front of the S3 server.
struct S3Env {
    env: Env,
    bucket: Bucket,
    proxy: Proxy,
}

impl S3Env {
    fn new(tag: &str) -> S3Env {
        S3Env { env: Env::new(), bucket: Bucket::new(tag), proxy: Proxy::start(server_addr()) }
    }

    /// Uploads a fixture export under `billing/`.
    fn with_fixture(self, name: &str) -> S3Env {
        self.bucket.put_tree("billing", &fixture(&format!("exports/{name}")));
        self
    }

    /// `curwatch ingest <args>`, reaching S3 through the proxy via `AWS_ENDPOINT_URL`.
    fn ingest(&self, args: &[&str]) -> Output {
        let mut cmd = self.env.cmd();
        aws_env(&mut cmd, &self.proxy.endpoint);
        let out = cmd.arg("ingest").args(args).output().expect("curwatch runs");
        assert_no_secrets(&out);
        out
    }

    fn ingest_ok(&self, args: &[&str]) -> String {
        let out = self.ingest(args);
        assert!(out.status.success(), "ingest {args:?}:\n{}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    fn by_export_period_service(&self) -> String {
        self.env.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"])
    }

    fn url(&self) -> String {
        self.bucket.url("billing")
    }

    /// Every data file key the store's partitions were read from.
    fn stored_source_keys(&self) -> Vec<String> {
        let state: serde_json::Value =
            serde_json::from_slice(&std::fs::read(self.env.store().join("state/partitions.json")).unwrap()).unwrap();
        state["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|p| p["source_files"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap().to_owned()))
            .collect()
    }
}

fn assert_no_secrets(out: &Output) {
    for text in [String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)] {
        for secret in [SECRET_KEY, ACCESS_KEY, "Signature=", "X-Amz-Credential", "Authorization"] {
            assert!(!text.contains(secret), "output shows `{secret}`:\n{text}");
        }
    }
}

fn local_report(export: &str) -> String {
    let env = Env::new();
    env.ingest(&fixture(&format!("exports/{export}")));
    env.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"])
}

#[test]
fn every_layout_from_s3_matches_the_local_mirror_and_a_rerun_downloads_nothing() {
    let s3 = S3Env::new("layouts");
    s3.bucket.put_tree("billing", &fixture("exports"));
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert!(stderr.contains("12 period(s): 12 ingested, 0 unchanged, 0 waiting, 0 failed"), "{stderr}");

    let local = Env::new();
    local.ingest(&fixture("exports"));
    let expected = local.ok(&["report", "--by", "export,billing_period,service", "--format", "csv"]);
    assert_eq!(s3.by_export_period_service(), expected, "S3 and the local mirror give the same store");

    // Six exports of the same organisation's January sit side by side.
    let january = s3.env.report_json(&["--month", "2024-01", "--by", "export", "--metric", "unblended"]);
    assert_eq!(january.len(), 6, "{january:?}");
    assert!(january.iter().all(|r| money(&r["cost"]) == money(&january[0]["cost"])), "{january:?}");

    // Exactly the manifests' files were downloaded, once each: no stale assembly, no old export file.
    let stored = s3.stored_source_keys();
    let downloads: Vec<Seen> = s3.proxy.seen().into_iter().filter(Seen::is_data_download).collect();
    assert_eq!(downloads.len(), stored.len(), "{downloads:?}");
    for key in &stored {
        assert_eq!(downloads.iter().filter(|s| s.path().ends_with(key.as_str())).count(), 1, "{key}");
    }
    assert!(stderr.contains(&format!("{} data downloads", stored.len())), "{stderr}");

    // Minutes later, nothing new: listing and manifest reads only, and the store is untouched.
    let before = snapshot(&s3.env.store());
    s3.proxy.reset();
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert!(stderr.contains("12 period(s): 0 ingested, 12 unchanged"), "{stderr}");
    assert!(stderr.contains("0 data downloads (0 B), 0 retries"), "{stderr}");
    assert_eq!(s3.proxy.count(Seen::is_data_download), 0);
    let seen = s3.proxy.seen();
    assert!(seen.iter().all(|s| s.is_list() || s.is_manifest_read()), "{seen:?}");
    assert_eq!(snapshot(&s3.env.store()), before, "a no-change run writes nothing");

    // --full reads everything again.
    s3.proxy.reset();
    let stderr = s3.ingest_ok(&["--full", &s3.url()]);
    assert!(stderr.contains("12 ingested"), "{stderr}");
    assert_eq!(s3.proxy.count(Seen::is_data_download), stored.len());
}

#[test]
fn a_restatement_replaces_the_month_and_the_old_assembly_is_not_counted() {
    let s3 = S3Env::new("restated").with_fixture("legacy-csv");
    s3.ingest_ok(&[&s3.url()]);
    let full_month = money(&s3.env.report_json(&["--month", "2024-01", "--by", "billing_period"])[0]["cost"]);
    let early = crate::ingest::early_usage(&s3.env);

    // AWS re-delivers January: a new assembly and a current manifest pointing at it.
    let range = fixture("exports/legacy-csv/cur/legacy-csv/20240101-20240201");
    let current = assembly_id(&range.join("legacy-csv-Manifest.json"));
    let other = std::fs::read_dir(&range)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir() && p.file_name().unwrap() != current.as_str())
        .expect("a second assembly in the fixture");
    let other_id = other.file_name().unwrap().to_str().unwrap().to_owned();
    let manifest_key = "billing/cur/legacy-csv/20240101-20240201/legacy-csv-Manifest.json";
    s3.bucket.put(manifest_key, &std::fs::read(other.join("legacy-csv-Manifest.json")).unwrap());

    s3.proxy.reset();
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert!(stderr.contains("2 period(s): 1 ingested, 1 unchanged"), "{stderr}");
    let downloads: Vec<Seen> = s3.proxy.seen().into_iter().filter(Seen::is_data_download).collect();
    assert!(!downloads.is_empty() && downloads.iter().all(|s| s.target.contains(&other_id)), "{downloads:?}");

    let restated = money(&s3.env.report_json(&["--month", "2024-01", "--by", "billing_period"])[0]["cost"]);
    assert_ne!(restated, full_month, "January's total follows the new delivery");
    assert_eq!(restated, early, "January holds exactly the new assembly's rows, the old one's are gone");
    assert_eq!(s3.env.report_json(&["--month", "2024-02", "--by", "export"]).len(), 1, "February untouched");
    let old_file = format!("billing/cur/legacy-csv/20240101-20240201/{current}/legacy-csv-00001.csv.gz");
    assert!(!s3.bucket.get(&old_file).is_empty(), "the old assembly stays in the bucket");
    let partitions = std::fs::read_to_string(s3.env.store().join("state/partitions.json")).unwrap();
    assert!(partitions.contains(&other_id) && !partitions.contains(&current), "the new delivery id is recorded");
}

fn assembly_id(manifest: &Path) -> String {
    let value: serde_json::Value = serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
    value["assemblyId"].as_str().unwrap().to_owned()
}

#[test]
fn a_vanished_object_fails_only_its_period_and_the_store_keeps_it() {
    let s3 = S3Env::new("vanished").with_fixture("cur2-parquet");
    s3.ingest_ok(&[&s3.url()]);
    let baseline = s3.by_export_period_service();
    let store_before = snapshot(&s3.env.store().join("line_items"));

    // Deleted between listing and download: S3 answers NoSuchKey.
    s3.proxy.inject("/data/BILLING_PERIOD=2024-01/", 1, Fault::Status(404, "NoSuchKey"));
    let out = s3.ingest(&["--full", &s3.url()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("2 period(s): 1 ingested, 0 unchanged, 0 waiting, 1 failed"), "{stderr}");
    assert!(stderr.contains(&format!("{}/exports/cur2-parquet/data/BILLING_PERIOD=2024-01/", s3.url())), "{stderr}");
    assert!(stderr.contains("gone (NoSuchKey)"), "{stderr}");
    assert_eq!(s3.by_export_period_service(), baseline, "January keeps its previous data");
    assert_eq!(snapshot(&s3.env.store().join("line_items")), store_before);
    assert!(
        !s3.env.store().join(".staging").exists()
            || std::fs::read_dir(s3.env.store().join(".staging")).unwrap().count() == 0
    );

    // Deleted for good: the manifest lists an object the bucket no longer has.
    s3.bucket.delete("billing/exports/cur2-parquet/data/BILLING_PERIOD=2024-01/cur2-parquet-00002.snappy.parquet");
    let out = s3.ingest(&[&s3.url()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("cur2-parquet-00002.snappy.parquet"), "{stderr}");
    assert!(stderr.contains("0 ingested, 1 unchanged, 0 waiting, 1 failed"), "{stderr}");
    assert_eq!(s3.by_export_period_service(), baseline, "January keeps its previous data");
}

#[test]
fn throttling_server_errors_and_dropped_connections_are_retried() {
    let s3 = S3Env::new("retries").with_fixture("focus-parquet");
    s3.proxy.inject("list-type=2", 2, Fault::Status(503, "SlowDown"));
    s3.proxy.inject("-Manifest.json", 1, Fault::Status(500, "InternalError"));
    s3.proxy.inject(".parquet", 2, Fault::Truncate);
    s3.proxy.inject(".parquet", 1, Fault::Status(503, "SlowDown"));
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert_eq!(s3.proxy.pending_faults(), 0, "every fault was met");
    assert_eq!(s3.proxy.seen().iter().filter(|s| s.faulted).count(), 6);
    assert!(stderr.contains("2 ingested"), "{stderr}");
    assert!(stderr.contains("6 retries"), "2 list + 1 manifest + 2 truncated + 1 throttled download: {stderr}");
    assert_eq!(s3.by_export_period_service(), local_report("focus-parquet"), "retried downloads are whole");

    // A connection that keeps dropping: the period fails after the allowed attempts and keeps its data.
    let baseline = s3.by_export_period_service();
    s3.proxy.inject("/data/BILLING_PERIOD=2024-02/", 100, Fault::Truncate);
    let out = s3.ingest(&["--full", "--max-attempts", "2", &s3.url()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("broke off") && stderr.contains("gave up after 2 attempts"), "{stderr}");
    assert!(stderr.contains("1 ingested, 0 unchanged, 0 waiting, 1 failed"), "{stderr}");
    assert_eq!(s3.by_export_period_service(), baseline);
}

fn data_status(value: &str) -> Vec<u8> {
    use std::sync::Arc;
    let array: arrow_array::ArrayRef = Arc::new(arrow_array::StringArray::from(vec![value]));
    let batch = arrow_array::RecordBatch::try_from_iter([("status", array)]).unwrap();
    let mut bytes = Vec::new();
    let mut writer = parquet::arrow::ArrowWriter::try_new(&mut bytes, batch.schema(), None).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes
}

#[test]
fn a_report_aws_is_rewriting_is_left_for_the_next_run() {
    let s3 = S3Env::new("updating").with_fixture("legacy-parquet");
    let status_key = "billing/cur/legacy-parquet/cost_and_usage_data_status/cost_and_usage_data_status.parquet";
    s3.bucket.put(status_key, &data_status("UPDATING"));
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert!(stderr.contains("2 period(s): 0 ingested, 0 unchanged, 2 waiting, 0 failed"), "{stderr}");
    assert!(stderr.contains("UPDATING"), "{stderr}");
    assert_eq!(s3.proxy.count(Seen::is_data_download), 0, "nothing is read while AWS rewrites");

    s3.bucket.put(status_key, &data_status("READY"));
    let stderr = s3.ingest_ok(&[&s3.url()]);
    assert!(stderr.contains("2 ingested"), "{stderr}");
    assert_eq!(s3.by_export_period_service(), local_report("legacy-parquet"));

    // A rewrite starts again: even --full waits, and the store keeps what it has.
    let before = snapshot(&s3.env.store());
    s3.bucket.put(status_key, &data_status("UPDATING"));
    let stderr = s3.ingest_ok(&["--full", &s3.url()]);
    assert!(stderr.contains("2 waiting"), "{stderr}");
    assert_eq!(snapshot(&s3.env.store()), before);
}

#[test]
fn denied_access_missing_buckets_and_bad_manifests_are_explained() {
    let s3 = S3Env::new("denied").with_fixture("cur2-parquet");
    // --endpoint-url works as well as AWS_ENDPOINT_URL.
    let run = |args: &[&str]| {
        let mut cmd = s3.env.cmd();
        aws_env(&mut cmd, "http://127.0.0.1:9");
        cmd.env_remove("AWS_ENDPOINT_URL").arg("ingest").arg("--endpoint-url").arg(&s3.proxy.endpoint).args(args);
        let out = cmd.output().expect("curwatch runs");
        assert_no_secrets(&out);
        assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    };

    let mut cmd = s3.env.cmd();
    aws_env(&mut cmd, &s3.proxy.endpoint);
    let out = cmd.env_remove("AWS_ACCESS_KEY_ID").env_remove("AWS_SECRET_ACCESS_KEY").args(["ingest", &s3.url()]);
    let out = out.output().expect("curwatch runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", describe(&out));
    assert!(stderr.contains("no AWS credentials found: set AWS_PROFILE"), "{stderr}");

    let stderr = run(&["s3://cw-no-such-bucket/billing"]);
    assert!(stderr.contains("s3://cw-no-such-bucket/billing") && stderr.contains("NoSuchBucket"), "{stderr}");

    s3.proxy.inject("list-type=2", 1, Fault::Status(403, "AccessDenied"));
    let stderr = run(&[&s3.url()]);
    assert!(stderr.contains("AccessDenied") && stderr.contains("s3:ListBucket"), "{stderr}");
    assert!(!s3.env.store().join("state/partitions.json").exists(), "nothing stored");

    s3.proxy.inject("/data/BILLING_PERIOD=2024-02/", 1, Fault::Status(403, "AccessDenied"));
    let stderr = run(&[&s3.url()]);
    assert!(stderr.contains("1 ingested, 0 unchanged, 0 waiting, 1 failed"), "{stderr}");
    assert!(stderr.contains("BILLING_PERIOD=2024-02/") && stderr.contains("s3:GetObject"), "{stderr}");

    let manifest = "billing/exports/cur2-parquet/metadata/BILLING_PERIOD=2024-02/cur2-parquet-Manifest.json";
    s3.bucket.put(manifest, b"{\"not\": \"a manifest\"");
    let stderr = run(&[&s3.url()]);
    assert!(
        stderr.contains(&format!("{}/exports/cur2-parquet/metadata/BILLING_PERIOD=2024-02/", s3.url())),
        "{stderr}"
    );
    assert!(stderr.contains("0 ingested, 1 unchanged, 0 waiting, 1 failed"), "{stderr}");
    let january: Money = s3.env.report_json(&["--by", "billing_period"]).iter().map(|r| money(&r["cost"])).sum();
    assert!(january > Money::ZERO, "January is still stored");
}
