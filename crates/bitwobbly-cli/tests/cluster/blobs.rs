//! `[blobs] backend = "s3"` on a real `serve` process: the configuration is checked before
//! anything starts, readiness follows the bucket, and a large envelope travels through the
//! bucket to an event whose attachment downloads.

use std::time::Duration;

use bitwobbly_test_support::moto::Moto;
use reqwest::StatusCode;

use crate::harness::{Api, Backend, Db, admin_token, bitwobbly, client, wait_until};
use crate::{BUCKET, PREFIX, create_project, envelope, node_env, noise, post_envelope, start_node};

/// `GET /readyz`: the status and the body.
async fn readyz(base: &str) -> (StatusCode, String) {
    let res = client()
        .get(format!("{base}/readyz"))
        .send()
        .await
        .expect("readyz");
    (res.status(), res.text().await.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_blob_settings_stop_serve_before_it_starts_and_name_the_key() {
    let db = Db::new(Backend::Sqlite).await;
    let mut args = vec![
        "serve".to_owned(),
        "--listen".to_owned(),
        "127.0.0.1:0".to_owned(),
    ];
    args.extend(db.args());
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[("BITWOBBLY_BLOBS__BACKEND", "s3")], "blobs.s3.bucket"),
        (
            &[("BITWOBBLY_BLOBS__BACKEND", "ftp")],
            "BITWOBBLY_BLOBS__BACKEND",
        ),
        (
            &[
                ("BITWOBBLY_BLOBS__BACKEND", "s3"),
                ("BITWOBBLY_BLOBS__S3__BUCKET", "ok-bucket"),
                ("BITWOBBLY_BLOBS__S3__ENDPOINT", "http://127.0.0.1:9"),
            ],
            "blobs.s3.allow_http",
        ),
        (
            &[
                ("BITWOBBLY_BLOBS__BACKEND", "s3"),
                ("BITWOBBLY_BLOBS__S3__BUCKET", "ok-bucket"),
                ("BITWOBBLY_BLOBS__S3__SECRET_ACCESS_KEY", "hush-hush-secret"),
            ],
            "blobs.s3.access_key_id",
        ),
        (&[("BITWOBBLY_BLOBS__S3__BUKET", "x")], "buket"),
    ];
    for (env, named) in cases {
        let out = bitwobbly(&args, "", env).await;
        assert_eq!(out.code, 2, "{env:?}: {out:?}");
        assert!(out.stderr.contains(named), "{env:?}: {}", out.stderr);
        assert!(!out.stderr.contains("hush-hush-secret"), "{}", out.stderr);
    }
    db.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_envelope_goes_through_the_bucket_and_readiness_follows_it() {
    let mut moto = Moto::start().await;
    moto.create_bucket(BUCKET).await;
    let db = Db::new(Backend::Sqlite).await;
    let token = admin_token(&db, "ops@example.com", "acme").await;
    let node = start_node(&db, &node_env("solo", &moto)).await;
    let base = node.url("");

    // No bucket: not ready, and the answer says why. Back again: ready.
    moto.delete_bucket(BUCKET).await;
    let (status, body) = readyz(&base).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("blob store"), "{body}");
    assert!(node.logs().contains(BUCKET), "the log names the bucket");
    moto.create_bucket(BUCKET).await;
    assert_eq!(readyz(&base).await.0, StatusCode::OK);

    // 200 KiB of attachment: far over the 64 KiB kept inline, so the envelope is a blob.
    let api = Api::new(&node, "acme", &token);
    let (project, key) = create_project(&api, "Blobs", &[]).await;
    let attachment = noise(200 * 1024, 7);
    let event_id = "0123456789abcdef0123456789abcdef";
    let http = client();
    let status = post_envelope(
        &http,
        &base,
        project,
        &key,
        envelope(event_id, "BigError", Some(&attachment)),
    )
    .await;
    assert_eq!(status, Some(StatusCode::OK));
    let listed = format!("/projects/{project}/events/{event_id}/attachments");
    wait_until("the event and its attachment", || async {
        let res = http
            .get(api_url(&node, &listed))
            .bearer_auth(&token)
            .send()
            .await
            .expect("attachments");
        res.status() == StatusCode::OK
            && res
                .json::<serde_json::Value>()
                .await
                .is_ok_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    })
    .await;
    let list = api.get(&listed).await;
    let item = &list.as_array().expect("a list")[0];
    assert_eq!(item["size"], attachment.len());
    let res = http
        .get(api_url(
            &node,
            &format!("/projects/{project}/attachments/{}", item["id"]),
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("download");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.bytes().await.expect("bytes").as_ref(),
        attachment.as_slice()
    );

    // The raw envelope and the attachment are objects under the prefix, not files.
    let keys = moto.list_keys(BUCKET, PREFIX).await;
    assert!(keys.len() >= 2, "{keys:?}");
    assert!(
        keys.iter().all(|k| k.starts_with(&format!("{PREFIX}/"))),
        "{keys:?}"
    );
    let local = db.dir().join("data/blobs/blobs");
    assert!(
        !local.exists() || std::fs::read_dir(&local).expect("dir").next().is_none(),
        "blobs were written to {}",
        local.display()
    );

    // The store goes away: not ready (within the probe's own time limit), alive all along.
    moto.stop().await;
    let (status, body) = readyz(&base).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    let res = client()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .expect("healthz");
    assert_eq!(res.status(), StatusCode::OK);
    drop(node);
    db.finish().await;
}

/// A workspace API URL on `node`.
fn api_url(node: &crate::harness::Node, path: &str) -> String {
    node.url(&format!("/api/v1/workspaces/acme{path}"))
}
