//! Status pages in the dashboard: create, settings, groups, components and their order,
//! password, preview, delete; invalid and hostile input; other workspaces and viewers.

use std::time::Duration;

use bitwobbly_core::schedule::Schedule;
use bitwobbly_core::state::Thresholds;
use bitwobbly_core::{CheckSpec, HttpSpec};
use bitwobbly_server::Clock;
use bitwobbly_store::prelude::*;
use bitwobbly_test_support::db::Backend;

use crate::common::{Client, DashServer, Page};

/// A form's fields, in order.
pub(crate) type Fields<'a> = Vec<(&'a str, &'a str)>;

pub(crate) const PASSWORD: &str = "correct-horse-battery";

/// A server with owner `owner@acme.test` of workspace `acme`, signed in.
pub(crate) async fn owner(backend: Backend) -> (DashServer, Client) {
    let server = DashServer::start(backend).await;
    server.user("owner@acme.test", PASSWORD, "acme").await;
    let client = server.signed_in("owner@acme.test", PASSWORD).await;
    (server, client)
}

/// A paused monitor `name` in workspace `slug`.
pub(crate) async fn monitor(server: &DashServer, slug: &str, name: &str) -> Monitor {
    let ws = server.workspace(slug).await;
    server
        .store()
        .workspace(ws.id)
        .create_monitor(
            &NewMonitor {
                key: None,
                name: name.to_owned(),
                spec: CheckSpec::Http(HttpSpec::get("http://127.0.0.1:9/")),
                schedule: Schedule::interval(Duration::from_secs(60)).expect("60s"),
                thresholds: Thresholds::default(),
                parent_id: None,
                paused: true,
                locations: vec![],
                quorum: Default::default(),
            },
            Clock.now(),
        )
        .await
        .expect("a monitor")
}

/// The settings of a page as the form sends them.
pub(crate) fn page_fields<'a>(slug: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("slug", slug),
        ("title", title),
        ("description", ""),
        ("public", "on"),
        ("logo_url", ""),
        ("theme", "system"),
        ("footer_label", ""),
        ("footer_url", ""),
        ("domains", ""),
        ("time_zone", "UTC"),
    ]
}

/// The fields with `name` replaced (or added).
pub(crate) fn with<'a>(
    mut fields: Vec<(&'a str, &'a str)>,
    name: &'a str,
    value: &'a str,
) -> Vec<(&'a str, &'a str)> {
    fields.retain(|(k, _)| *k != name);
    fields.push((name, value));
    fields
}

/// Creates a page through the form; its editor's path.
pub(crate) async fn create_page(client: &Client, slug: &str, title: &str) -> String {
    client.get("/app/w/acme/pages/new").await;
    let res = client
        .post_form("/app/w/acme/pages", &page_fields(slug, title))
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    res.location()
}

/// The id at the end of a path.
pub(crate) fn last_id(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().expect("an id")
}

/// A public page, fetched without any session.
async fn public(server: &DashServer, path: &str) -> Page {
    server.client().get(path).await
}

/// Position of `a` before `b` in `page`.
fn before(page: &Page, a: &str, b: &str) -> bool {
    let ia = page
        .body
        .find(a)
        .unwrap_or_else(|| panic!("{a} is missing"));
    let ib = page
        .body
        .find(b)
        .unwrap_or_else(|| panic!("{b} is missing"));
    ia < ib
}

async fn a_page_is_built_and_published_from_the_dashboard(backend: Backend) {
    let (server, client) = owner(backend).await;
    let api = monitor(&server, "acme", "API server").await;
    monitor(&server, "acme", "Website").await;

    let list = client.get("/app/w/acme/pages").await;
    assert_eq!(list.status, 200);
    assert!(list.has("No status pages yet"));

    let editor = create_page(&client, "acme-status", "Acme Status").await;
    let page_id = last_id(&editor);
    let shown = client.get(&editor).await;
    assert_eq!(shown.status, 200);
    assert!(
        shown.has("Status page &#34;Acme Status&#34; created.")
            || shown.has("Status page \"Acme Status\" created.")
    );
    assert!(shown.has("Acme Status"));
    let p = public(&server, "/s/acme-status").await;
    assert_eq!(p.status, 200);
    assert!(p.has("Acme Status"));

    // A group and two components, one backed by a monitor, one manual.
    let res = client
        .post_form(&format!("{editor}/groups"), &[("name", "Core")])
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let ws = server.workspace("acme").await;
    let groups = server
        .store()
        .workspace(ws.id)
        .component_groups(StatusPageId(page_id))
        .await
        .unwrap();
    assert_eq!(groups.len(), 1);
    let core = groups[0].id.0.to_string();
    let api_id = api.id.0.to_string();
    let res = client
        .post_form(
            &format!("{editor}/components"),
            &[
                ("name", "Public API"),
                ("description", "REST and webhooks"),
                ("group_id", core.as_str()),
                ("monitor_id", api_id.as_str()),
                ("status", ""),
                ("show_uptime", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let res = client
        .post_form(
            &format!("{editor}/components"),
            &[
                ("name", "Docs site"),
                ("group_id", core.as_str()),
                ("monitor_id", ""),
                ("status", "partial_outage"),
                ("show_uptime", "on"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);

    let shown = client.get(&editor).await;
    assert!(shown.has("Monitor: API server"), "{}", shown.body);
    assert!(shown.has("Manual: Partial outage"));
    // The public page changed at once: the dashboard drops the cached snapshot.
    let p = public(&server, "/s/acme-status").await;
    assert!(p.has("Public API") && p.has("Docs site") && p.has("Core"));
    assert!(before(&p, "Public API", "Docs site"));

    // Move "Docs site" up within its group.
    let comps = server
        .store()
        .workspace(ws.id)
        .components(StatusPageId(page_id))
        .await
        .unwrap();
    let docs = comps.iter().find(|c| c.name == "Docs site").unwrap().id.0;
    let res = client
        .post_form(
            &format!("{editor}/components/{docs}/move"),
            &[("dir", "up")],
        )
        .await;
    assert_eq!(res.status, 303);
    let p = public(&server, "/s/acme-status").await;
    assert!(
        before(&p, "Docs site", "Public API"),
        "moved up on the public page"
    );
    // Already first: nothing changes, the editor says so.
    let res = client
        .post_form(
            &format!("{editor}/components/{docs}/move"),
            &[("dir", "up")],
        )
        .await;
    assert_eq!(res.status, 303);
    assert!(client.get(&editor).await.has("already at that end"));

    // Edit the manual component: a new status shows publicly.
    let edit = client.get(&format!("{editor}/components/{docs}")).await;
    assert_eq!(edit.status, 200);
    assert_eq!(edit.input_value("name").as_deref(), Some("Docs site"));
    let res = client
        .post_form(
            &format!("{editor}/components/{docs}"),
            &[
                ("name", "Documentation"),
                ("group_id", core.as_str()),
                ("monitor_id", ""),
                ("status", "major_outage"),
            ],
        )
        .await;
    assert_eq!(res.status, 303, "{}", res.body);
    let p = public(&server, "/s/acme-status").await;
    assert!(p.has("Documentation") && p.has("Major outage"));

    // Settings: theme, footer link, time zone, held automatic incidents.
    let fields = with(
        with(
            with(page_fields("acme-status", "Acme Platform"), "theme", "dark"),
            "footer_label",
            "Home",
        ),
        "footer_url",
        "https://acme.example/",
    );
    let fields = with(
        with(fields, "time_zone", "Europe/Berlin"),
        "hold_auto_incidents",
        "on",
    );
    let res = client.post_form(&editor, &fields).await;
    assert_eq!(res.status, 303, "{}", res.body);
    let saved = server
        .store()
        .workspace(ws.id)
        .status_page(StatusPageId(page_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.title, "Acme Platform");
    assert_eq!(saved.time_zone, "Europe/Berlin");
    assert!(saved.hold_auto_incidents);
    assert_eq!(saved.footer_links.len(), 1);
    assert_eq!(saved.footer_links[0].url, "https://acme.example/");
    let p = public(&server, "/s/acme-status").await;
    assert!(p.has("Acme Platform") && p.has("https://acme.example/"));
    assert!(p.has("data-theme=\"dark\""));

    // The preview renders the public page for the dashboard's frame only.
    let preview = client.get(&format!("{editor}/preview")).await;
    assert_eq!(preview.status, 200);
    assert!(preview.has("Acme Platform") && preview.has("Documentation"));
    assert_eq!(
        preview.header("x-frame-options").as_deref(),
        Some("SAMEORIGIN")
    );
    assert!(
        preview
            .header("content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'self'")
    );
    assert!(
        client
            .get(&editor)
            .await
            .has(&format!("src=\"{editor}/preview\""))
    );

    // A password hides the page from visitors; the preview still shows it.
    let res = client
        .post_form(
            &format!("{editor}/password"),
            &[("action", "set"), ("password", "visitors-only")],
        )
        .await;
    assert_eq!(res.status, 303);
    let p = public(&server, "/s/acme-status").await;
    assert!(
        !p.has("Documentation"),
        "a protected page shows no components"
    );
    assert!(
        client
            .get(&format!("{editor}/preview"))
            .await
            .has("Documentation")
    );
    let res = client
        .post_form(&format!("{editor}/password"), &[("action", "remove")])
        .await;
    assert_eq!(res.status, 303);
    assert!(public(&server, "/s/acme-status").await.has("Documentation"));

    // Rename, move and delete the group; delete a component; delete the page.
    let res = client
        .post_form(&format!("{editor}/groups/{core}"), &[("name", "Platform")])
        .await;
    assert_eq!(res.status, 303);
    assert!(public(&server, "/s/acme-status").await.has("Platform"));
    let res = client
        .post_form(&format!("{editor}/groups/{core}/delete"), &[])
        .await;
    assert_eq!(res.status, 303);
    let res = client
        .post_form(&format!("{editor}/components/{docs}/delete"), &[])
        .await;
    assert_eq!(res.status, 303);
    let p = public(&server, "/s/acme-status").await;
    assert!(!p.has("Documentation") && p.has("Public API"));
    let res = client.post_form(&format!("{editor}/delete"), &[]).await;
    assert_eq!(res.status, 303);
    assert_eq!(res.location(), "/app/w/acme/pages");
    assert_eq!(public(&server, "/s/acme-status").await.status, 404);
    assert_eq!(client.get(&editor).await.status, 404);
    server.stop().await;
}

async fn groups_move_up_and_down(backend: Backend) {
    let (server, client) = owner(backend).await;
    let editor = create_page(&client, "order", "Order").await;
    for name in ["First", "Second", "Third"] {
        let res = client
            .post_form(&format!("{editor}/groups"), &[("name", name)])
            .await;
        assert_eq!(res.status, 303);
        client
            .post_form(
                &format!("{editor}/components"),
                &[
                    ("name", format!("{name} thing").as_str()),
                    ("monitor_id", ""),
                ],
            )
            .await;
    }
    let ws = server.workspace("acme").await;
    let groups = server
        .store()
        .workspace(ws.id)
        .component_groups(StatusPageId(last_id(&editor)))
        .await
        .unwrap();
    let third = groups.iter().find(|g| g.name == "Third").unwrap().id.0;
    let first = groups.iter().find(|g| g.name == "First").unwrap().id.0;
    client
        .post_form(&format!("{editor}/groups/{third}/move"), &[("dir", "up")])
        .await;
    client
        .post_form(&format!("{editor}/groups/{first}/move"), &[("dir", "down")])
        .await;
    let names: Vec<String> = server
        .store()
        .workspace(ws.id)
        .component_groups(StatusPageId(last_id(&editor)))
        .await
        .unwrap()
        .into_iter()
        .map(|g| g.name)
        .collect();
    assert_eq!(names, ["Third", "First", "Second"]);
    let bad = client
        .post_form(
            &format!("{editor}/groups/{first}/move"),
            &[("dir", "sideways")],
        )
        .await;
    assert_eq!(bad.status, 400);
    server.stop().await;
}

async fn invalid_input_is_named_on_the_form(backend: Backend) {
    let (server, client) = owner(backend).await;
    client.get("/app/w/acme/pages/new").await;
    let cases: Vec<(Fields<'_>, &str, &str)> = vec![
        (page_fields("", "T"), "slug", ""),
        (page_fields("Bad Slug!", "T"), "slug", ""),
        (page_fields("ok", ""), "title", ""),
        (
            with(page_fields("ok", "T"), "logo_url", "javascript:alert(1)"),
            "logo_url",
            "",
        ),
        (with(page_fields("ok", "T"), "theme", "neon"), "theme", ""),
        (
            with(page_fields("ok", "T"), "time_zone", "Mars/Olympus"),
            "time_zone",
            "",
        ),
        (
            with(
                page_fields("ok", "T"),
                "domains",
                "status.acme.example\n\nnot a host!",
            ),
            "domains",
            "line 3",
        ),
        (
            with(
                with(page_fields("ok", "T"), "footer_label", "Home"),
                "footer_url",
                "ftp://acme.example/",
            ),
            "footer_links[0].url",
            "",
        ),
        (
            with(page_fields("ok", "T"), "footer_label", "No URL"),
            "footer_links[0].url",
            "",
        ),
    ];
    for (fields, field, mention) in &cases {
        let res = client.post_form("/app/w/acme/pages", fields).await;
        assert_eq!(res.status, 422, "{field}: {}", res.body);
        let msg = res
            .field_error(field)
            .unwrap_or_else(|| panic!("no error on {field}: {}", res.body));
        assert!(msg.contains(mention), "{field}: {msg}");
        assert!(res.has("class=\"error-summary\""));
    }
    // What was typed stays in the form.
    let res = client
        .post_form("/app/w/acme/pages", &page_fields("ok", ""))
        .await;
    assert_eq!(res.input_value("slug").as_deref(), Some("ok"));

    // Oversized description.
    let long = "d".repeat(6_000);
    let res = client
        .post_form(
            "/app/w/acme/pages",
            &with(page_fields("ok", "T"), "description", &long),
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("description").unwrap().contains("5000"));

    // A taken slug is a conflict on the slug field.
    let editor = create_page(&client, "taken", "Taken").await;
    let res = client
        .post_form("/app/w/acme/pages", &page_fields("taken", "Again"))
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("slug").unwrap().contains("already exists"));

    // Settings of an existing page.
    client.get(&editor).await;
    let res = client.post_form(&editor, &page_fields("taken", "")).await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("title").is_some());

    // Groups, components and the password.
    let res = client
        .post_form(&format!("{editor}/groups"), &[("name", "   ")])
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("name").is_some());
    let m = monitor(&server, "acme", "Mon").await;
    let mid = m.id.0.to_string();
    for (fields, field) in [
        (vec![("name", "")], "name"),
        (vec![("name", "X"), ("monitor_id", "999999")], "monitor_id"),
        (vec![("name", "X"), ("monitor_id", "abc")], "monitor_id"),
        (vec![("name", "X"), ("group_id", "999999")], "group_id"),
        (
            vec![
                ("name", "X"),
                ("monitor_id", mid.as_str()),
                ("status", "major_outage"),
            ],
            "status",
        ),
        (vec![("name", "X"), ("status", "on_fire")], "status"),
    ] {
        let res = client
            .post_form(&format!("{editor}/components"), &fields)
            .await;
        assert_eq!(res.status, 422, "{field}: {}", res.body);
        assert!(res.field_error(field).is_some(), "{field}: {}", res.body);
    }
    let res = client
        .post_form(
            &format!("{editor}/password"),
            &[("action", "set"), ("password", "short")],
        )
        .await;
    assert_eq!(res.status, 422);
    assert!(res.field_error("password").unwrap().contains("8 to"));

    // Hostile text is escaped wherever it is shown.
    let res = client
        .post_form(
            &format!("{editor}/groups"),
            &[("name", "<script>alert(1)</script>")],
        )
        .await;
    assert_eq!(res.status, 303);
    let page = client.get(&editor).await;
    assert!(!page.has("<script>alert(1)</script>"));
    assert!(page.has("&lt;script&gt;") || page.has("&#60;script&#62;"));

    // Ids that are not ids, or not of this page.
    for path in [
        "/app/w/acme/pages/abc".to_owned(),
        "/app/w/acme/pages/0".to_owned(),
        "/app/w/acme/pages/-1".to_owned(),
        "/app/w/acme/pages/99999999999999999999".to_owned(),
        format!("{editor}/components/424242"),
        format!("{editor}/components/x"),
    ] {
        assert_eq!(client.get(&path).await.status, 404, "{path}");
    }
    // No token, a wrong token: refused.
    let res = client
        .post_form_without_csrf(&format!("{editor}/groups"), &[("name", "A")])
        .await;
    assert_eq!(res.status, 403);
    let res = client
        .post_form_without_csrf(
            &format!("{editor}/groups"),
            &[("csrf", "0000"), ("name", "A")],
        )
        .await;
    assert_eq!(res.status, 403);
    server.stop().await;
}

async fn other_workspaces_and_viewers_are_refused(backend: Backend) {
    let (server, client) = owner(backend).await;
    let m = monitor(&server, "acme", "Mon").await;
    let editor = create_page(&client, "acme", "Acme").await;
    let page_id = last_id(&editor);
    client
        .post_form(&format!("{editor}/groups"), &[("name", "G")])
        .await;
    client
        .post_form(
            &format!("{editor}/components"),
            &[("name", "C"), ("monitor_id", m.id.0.to_string().as_str())],
        )
        .await;
    let ws = server.workspace("acme").await;
    let gid = server
        .store()
        .workspace(ws.id)
        .component_groups(StatusPageId(page_id))
        .await
        .unwrap()[0]
        .id
        .0;
    let cid = server
        .store()
        .workspace(ws.id)
        .components(StatusPageId(page_id))
        .await
        .unwrap()[0]
        .id
        .0;

    let gets = [
        "/app/w/acme/pages".to_owned(),
        "/app/w/acme/pages/new".to_owned(),
        editor.clone(),
        format!("{editor}/preview"),
        format!("{editor}/components/{cid}"),
    ];
    let posts: Vec<(String, Vec<(&str, &str)>)> = vec![
        ("/app/w/acme/pages".to_owned(), page_fields("x", "X")),
        (editor.clone(), page_fields("acme", "Hijacked")),
        (format!("{editor}/delete"), vec![]),
        (
            format!("{editor}/password"),
            vec![("action", "set"), ("password", "hijacked-pw")],
        ),
        (format!("{editor}/groups"), vec![("name", "H")]),
        (format!("{editor}/groups/{gid}"), vec![("name", "H")]),
        (format!("{editor}/groups/{gid}/move"), vec![("dir", "up")]),
        (format!("{editor}/groups/{gid}/delete"), vec![]),
        (format!("{editor}/components"), vec![("name", "H")]),
        (format!("{editor}/components/{cid}"), vec![("name", "H")]),
        (
            format!("{editor}/components/{cid}/move"),
            vec![("dir", "up")],
        ),
        (format!("{editor}/components/{cid}/delete"), vec![]),
    ];

    // A member of another workspace: every route is "not found", also by this page's id
    // under their own workspace.
    server.user("mallory@other.test", PASSWORD, "other").await;
    let other = server.signed_in("mallory@other.test", PASSWORD).await;
    other.get("/app/w/other/pages").await;
    for path in &gets {
        assert_eq!(other.get(path).await.status, 404, "{path}");
        let own = path.replace("/w/acme/", "/w/other/");
        if own.contains(&format!("/pages/{page_id}")) {
            assert_eq!(other.get(&own).await.status, 404, "{own}");
        }
    }
    for (path, fields) in &posts {
        assert_eq!(other.post_form(path, fields).await.status, 404, "{path}");
        let own = path.replace("/w/acme/", "/w/other/");
        if own.contains(&format!("/pages/{page_id}")) {
            let res = other.post_form(&own, fields).await;
            assert_eq!(res.status, 404, "{own}: {}", res.body);
        }
    }

    // A viewer of acme sees the pages but changes nothing.
    server
        .member("viewer@acme.test", PASSWORD, "acme", Role::Viewer)
        .await;
    let viewer = server.signed_in("viewer@acme.test", PASSWORD).await;
    let list = viewer.get("/app/w/acme/pages").await;
    assert_eq!(list.status, 200);
    assert!(list.has("Acme") && !list.has("New status page"));
    let page = viewer.get(&editor).await;
    assert_eq!(page.status, 200);
    assert!(page.has("Viewers cannot change status pages"));
    assert!(!page.has("Add a component"));
    assert_eq!(viewer.get(&format!("{editor}/preview")).await.status, 200);
    assert_eq!(viewer.get("/app/w/acme/pages/new").await.status, 403);
    assert_eq!(
        viewer
            .get(&format!("{editor}/components/{cid}"))
            .await
            .status,
        403
    );
    for (path, fields) in &posts {
        let res = viewer.post_form(path, fields).await;
        assert_eq!(res.status, 403, "{path}: {}", res.body);
    }
    // Nothing changed.
    let p = server
        .store()
        .workspace(ws.id)
        .status_page(StatusPageId(page_id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.title, "Acme");
    assert!(!p.is_protected());
    assert_eq!(
        server
            .store()
            .workspace(ws.id)
            .components(StatusPageId(page_id))
            .await
            .unwrap()
            .len(),
        1
    );

    // Signed out: to the sign-in page.
    let anon = server.client();
    let res = anon.get(&editor).await;
    assert_eq!(res.status, 303);
    assert!(res.location().starts_with("/app/login?next="));
    server.stop().await;
}

crate::dash_both!(
    a_page_is_built_and_published_from_the_dashboard,
    groups_move_up_and_down,
    invalid_input_is_named_on_the_form,
    other_workspaces_and_viewers_are_refused,
);
