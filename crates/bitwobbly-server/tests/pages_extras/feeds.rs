//! Atom and RSS feeds and SVG/shields.io badges, through a real server, checked with a real
//! XML parser.

use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

use crate::harness::{PUBLIC_URL, Running, Target, both, client, eventually, seed};

const ATOM: &str = "http://www.w3.org/2005/Atom";
const SVG: &str = "http://www.w3.org/2000/svg";

/// An incident title and message no feed may break on.
const HOSTILE_TITLE: &str = "DB <down> & \"slow\" 'ish' ]]> \u{1} \u{1F525}";
const HOSTILE_MESSAGE: &str = "<script>alert(1)</script> &amp; </content> line\nbreak";

fn child<'a, 'i>(n: roxmltree::Node<'a, 'i>, name: &str) -> Option<roxmltree::Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

fn text_of(n: roxmltree::Node<'_, '_>, name: &str) -> String {
    child(n, name)
        .unwrap_or_else(|| panic!("<{name}> missing in <{}>", n.tag_name().name()))
        .text()
        .unwrap_or_default()
        .to_owned()
}

async fn get(server: &Running, path: &str) -> reqwest::Response {
    client()
        .get(server.url(path))
        .send()
        .await
        .expect("request")
}

async fn feeds_and_badges(backend: Backend) {
    let target = Target::start();
    let server = Running::start(backend, |_| {}).await;
    let s = seed(&server.store, "acme", &target.url(), 2).await;
    let now = Clock.now();
    let inc = server
        .store
        .workspace(s.ws)
        .open_incident_affecting(
            &NewIncident {
                monitor_id: None,
                kind: IncidentKind::Manual,
                title: HOSTILE_TITLE.to_owned(),
                status: IncidentStatus::Investigating,
                impact: Impact::Minor,
                message: HOSTILE_MESSAGE.to_owned(),
                started_at: now,
            },
            &[AffectedComponent {
                component_id: s.components[2].id,
                status: ComponentStatus::PartialOutage,
            }],
        )
        .await
        .expect("incident");
    server.state.pages.invalidate(s.ws);

    // Atom.
    let res = get(&server, "/s/acme/history.atom").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/atom+xml")
    );
    let etag = res.headers()[ETAG].clone();
    let body = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("the Atom feed is well-formed XML");
    let feed = doc.root_element();
    assert_eq!(feed.tag_name().name(), "feed");
    assert_eq!(feed.tag_name().namespace(), Some(ATOM));
    assert_eq!(text_of(feed, "title"), "acme status status history");
    assert_eq!(
        text_of(feed, "id"),
        format!("{PUBLIC_URL}/s/acme/history.atom")
    );
    OffsetDateTime::parse(&text_of(feed, "updated"), &Rfc3339).expect("feed updated");
    assert!(child(child(feed, "author").unwrap(), "name").is_some());
    let self_link = feed
        .children()
        .find(|c| c.tag_name().name() == "link" && c.attribute("rel") == Some("self"))
        .expect("rel=self");
    assert_eq!(
        self_link.attribute("href"),
        Some(format!("{PUBLIC_URL}/s/acme/history.atom").as_str())
    );
    let entries: Vec<_> = feed
        .children()
        .filter(|c| c.tag_name().name() == "entry")
        .collect();
    assert_eq!(entries.len(), 1);
    let e = entries[0];
    // The title survives escaping (the control character, invalid in XML, is dropped).
    let expected_title = format!("[Investigating] {}", HOSTILE_TITLE.replace('\u{1}', ""));
    assert_eq!(text_of(e, "title"), expected_title);
    assert_eq!(
        text_of(e, "id"),
        format!("{PUBLIC_URL}/s/acme/incidents/{}", inc.id.0)
    );
    OffsetDateTime::parse(&text_of(e, "updated"), &Rfc3339).expect("entry updated");
    let content = child(e, "content").unwrap();
    assert_eq!(content.attribute("type"), Some("html"));
    let html = content.text().unwrap();
    // The HTML inside is escaped once more: the message's markup stays text.
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp;amp; &lt;/content&gt;"),
        "{html}"
    );
    assert!(html.contains("Support desk (partial outage)"), "{html}");
    // Cached: the same ETag answers 304.
    let res = client()
        .get(server.url("/s/acme/history.atom"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    // RSS.
    let res = get(&server, "/s/acme/history.rss").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/rss+xml")
    );
    let body = res.text().await.unwrap();
    let doc = roxmltree::Document::parse(&body).expect("the RSS feed is well-formed XML");
    let rss = doc.root_element();
    assert_eq!(rss.tag_name().name(), "rss");
    assert_eq!(rss.attribute("version"), Some("2.0"));
    let channel = child(rss, "channel").expect("channel");
    assert_eq!(text_of(channel, "title"), "acme status status history");
    assert_eq!(text_of(channel, "link"), format!("{PUBLIC_URL}/s/acme"));
    assert_eq!(
        text_of(channel, "description"),
        "Live status of the <Acme> & co. services"
    );
    OffsetDateTime::parse(&text_of(channel, "lastBuildDate"), &Rfc2822).expect("lastBuildDate");
    let items: Vec<_> = channel
        .children()
        .filter(|c| c.tag_name().name() == "item")
        .collect();
    assert_eq!(items.len(), 1);
    assert_eq!(text_of(items[0], "title"), expected_title);
    assert_eq!(
        text_of(items[0], "guid"),
        format!("{PUBLIC_URL}/s/acme/incidents/{}", inc.id.0)
    );
    OffsetDateTime::parse(&text_of(items[0], "pubDate"), &Rfc2822).expect("pubDate");

    // The same feeds on a custom domain.
    let mut page = NewStatusPage::new("acme", "acme status");
    page.description = s.page.description.clone();
    page.domains = vec!["status.acme.test".to_owned()];
    server
        .store
        .workspace(s.ws)
        .update_status_page(s.page.id, &page, Clock.now())
        .await
        .expect("domain");
    server.state.pages.invalidate(s.ws);
    let res = client()
        .get(server.url("/history.rss"))
        .header("host", "status.acme.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    roxmltree::Document::parse(&res.text().await.unwrap()).expect("well-formed");
    let res = client()
        .get(server.url("/history.rss"))
        .header("host", "unknown.test")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);

    // Badges: the page's status, as SVG and as shields.io JSON.
    let res = get(&server, "/s/acme/badge/status.svg").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("image/svg+xml")
    );
    let etag = res.headers()[ETAG].clone();
    let svg = res.text().await.unwrap();
    let (label, width) = check_svg(&svg);
    assert!(label.starts_with("status: "), "{label}");
    let res = client()
        .get(server.url("/s/acme/badge/status.svg"))
        .header(IF_NONE_MATCH, etag)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);

    let json: serde_json::Value = get(&server, "/s/acme/badge/status.json")
        .await
        .json()
        .await
        .unwrap();
    check_shields(&json);
    assert_eq!(json["label"], "status");

    // A component's badges.
    let api = s.components[0].id.0;
    let manual = s.components[2].id.0;
    for name in [
        "status",
        "uptime-24h",
        "uptime-7d",
        "uptime-30d",
        "response-time",
    ] {
        let res = get(
            &server,
            &format!("/s/acme/components/{api}/badge/{name}.svg"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        check_svg(&res.text().await.unwrap());
        let res = get(
            &server,
            &format!("/s/acme/components/{api}/badge/{name}.json"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::OK, "{name}");
        check_shields(&res.json().await.unwrap());
    }
    let json: serde_json::Value = get(
        &server,
        &format!("/s/acme/components/{manual}/badge/status.json"),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(json["label"], "Support desk");
    assert_eq!(json["message"], "partial outage");
    assert_eq!(json["color"], "orange");
    // The manual component hides its uptime and response times: no such badges.
    for name in ["uptime-24h.svg", "response-time.json"] {
        let res = get(
            &server,
            &format!("/s/acme/components/{manual}/badge/{name}"),
        )
        .await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{name}");
    }

    // Hostile and unknown paths.
    for path in [
        "/s/acme/badge/status.png".to_owned(),
        "/s/acme/badge/uptime-1y.svg".to_owned(),
        "/s/acme/badge/..%2F..%2Fstatus.svg".to_owned(),
        format!("/s/acme/badge/{}.svg", "a".repeat(5000)),
        "/s/acme/components/abc/badge/status.svg".to_owned(),
        "/s/acme/components/-1/badge/status.svg".to_owned(),
        "/s/acme/components/99999999999999999999999/badge/status.svg".to_owned(),
        "/s/no-such-page/badge/status.svg".to_owned(),
        "/s/no-such-page/history.atom".to_owned(),
        format!("/s/{}/history.atom", "x".repeat(400)),
    ] {
        let res = get(&server, &path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
    }

    // Another workspace's page cannot show this workspace's component, nor its incidents.
    let other = seed(&server.store, "other", &target.url(), 0).await;
    let res = get(
        &server,
        &format!("/s/other/components/{api}/badge/status.svg"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body = get(&server, "/s/other/history.atom")
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains("<entry>"), "{body}");
    assert_ne!(other.ws, s.ws);

    // The monitors' target fails: the page's badge and feed follow.
    target.set(500);
    let json = eventually("the component's badge to show the outage", || async {
        let json: serde_json::Value = get(
            &server,
            &format!("/s/acme/components/{api}/badge/status.json"),
        )
        .await
        .json()
        .await
        .ok()?;
        (json["message"] == "major outage").then_some(json)
    })
    .await;
    assert_eq!(json["color"], "red");
    let body = eventually("the automatic incident in the feed", || async {
        let body = get(&server, "/s/acme/history.atom")
            .await
            .text()
            .await
            .ok()?;
        (body.matches("<entry>").count() >= 2).then_some(body)
    })
    .await;
    roxmltree::Document::parse(&body).expect("well-formed");
    assert!(width > 0.0);
    server.stop().await;
}

/// Checks an SVG badge; returns its aria-label and width.
fn check_svg(svg: &str) -> (String, f64) {
    let doc = roxmltree::Document::parse(svg).expect("the badge is well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some(SVG));
    assert_eq!(root.attribute("role"), Some("img"));
    let label = root.attribute("aria-label").expect("aria-label").to_owned();
    let title = child(root, "title").expect("<title>").text().unwrap();
    assert_eq!(title, label);
    let width: f64 = root
        .attribute("width")
        .and_then(|w| w.parse().ok())
        .expect("a numeric width");
    assert!(width > 20.0 && width < 1000.0, "{width}");
    let texts: Vec<_> = root
        .descendants()
        .filter(|n| n.tag_name().name() == "text")
        .collect();
    assert_eq!(texts.len(), 4, "label and message, each with a shadow");
    (label, width)
}

/// Checks shields.io's endpoint rules: `schemaVersion` 1, string `label`, non-empty
/// `message`, a named `color`, and no other key.
fn check_shields(json: &serde_json::Value) {
    let obj = json.as_object().expect("an object");
    assert_eq!(obj["schemaVersion"], 1);
    assert!(obj["label"].is_string());
    assert!(!obj["message"].as_str().unwrap().is_empty());
    let named = [
        "brightgreen",
        "green",
        "yellowgreen",
        "yellow",
        "orange",
        "red",
        "blue",
        "lightgrey",
    ];
    assert!(named.contains(&obj["color"].as_str().unwrap()), "{json}");
    assert!(obj["cacheSeconds"].as_u64().unwrap() >= 300);
    for key in obj.keys() {
        assert!(
            ["schemaVersion", "label", "message", "color", "cacheSeconds"].contains(&key.as_str()),
            "{key}"
        );
    }
}

both!(feeds_and_badges);
