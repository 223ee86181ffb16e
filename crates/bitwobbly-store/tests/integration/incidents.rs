use bitwobbly_store::prelude::*;

use crate::harness::{T0, api_down, at, conformance, http_monitor, workspace};

async fn incidents_move_through_their_timeline(store: Store) {
    let ws = workspace(&store, "inc").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let inc = s.open_incident(&api_down(m.id)).await.unwrap();
    let manual = s
        .open_incident(&NewIncident {
            monitor_id: None,
            kind: IncidentKind::Manual,
            title: "Slow logins".into(),
            status: IncidentStatus::Identified,
            impact: Impact::Minor,
            message: "We know".into(),
            started_at: at(10),
        })
        .await
        .unwrap();
    assert_eq!(
        s.open_incident_for_monitor(m.id).await.unwrap(),
        Some(inc.clone())
    );

    s.add_incident_update(inc.id, IncidentStatus::Monitoring, "fix deployed", at(100))
        .await
        .unwrap();
    s.add_incident_update(inc.id, IncidentStatus::Resolved, "all good", at(200))
        .await
        .unwrap();
    let resolved = s.incident(inc.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_at, resolved.updated_at),
        (IncidentStatus::Resolved, Some(at(200)), at(200))
    );
    let timeline: Vec<_> = s
        .incident_updates(inc.id)
        .await
        .unwrap()
        .into_iter()
        .map(|u| (u.status, u.message, u.created_at))
        .collect();
    assert_eq!(
        timeline,
        vec![
            (IncidentStatus::Investigating, "3 failures".to_owned(), T0),
            (
                IncidentStatus::Monitoring,
                "fix deployed".to_owned(),
                at(100)
            ),
            (IncidentStatus::Resolved, "all good".to_owned(), at(200)),
        ]
    );
    assert_eq!(s.open_incident_for_monitor(m.id).await.unwrap(), None);
    let open: Vec<_> = s
        .incidents(true, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(open, vec![manual.id]);
    let all: Vec<_> = s
        .incidents(false, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.id)
        .collect();
    assert_eq!(all, vec![manual.id, inc.id]);

    // Reopening clears resolved_at.
    s.add_incident_update(inc.id, IncidentStatus::Investigating, "back", at(300))
        .await
        .unwrap();
    assert_eq!(s.incident(inc.id).await.unwrap().unwrap().resolved_at, None);
    assert!(
        s.add_incident_update(IncidentId(999_999), IncidentStatus::Resolved, "x", at(1))
            .await
            .unwrap_err()
            .is_not_found()
    );
}

async fn incidents_are_resolved_and_listed_per_monitor(store: Store) {
    let ws = workspace(&store, "res").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let other = s.create_monitor(&http_monitor("web"), T0).await.unwrap();
    let first = s.open_incident(&api_down(m.id)).await.unwrap();
    let update = s
        .resolve_incident(first.id, at(60), "recovered after 1m")
        .await
        .unwrap();
    assert_eq!(
        (update.status, update.message.as_str(), update.created_at),
        (IncidentStatus::Resolved, "recovered after 1m", at(60))
    );
    let resolved = s.incident(first.id).await.unwrap().unwrap();
    assert_eq!(
        (resolved.status, resolved.resolved_at, resolved.updated_at),
        (IncidentStatus::Resolved, Some(at(60)), at(60))
    );
    // Resolving again adds to the timeline but keeps when it was resolved.
    s.resolve_incident(first.id, at(90), "confirmed")
        .await
        .unwrap();
    assert_eq!(
        s.incident(first.id).await.unwrap().unwrap().resolved_at,
        Some(at(60))
    );
    assert_eq!(s.incident_updates(first.id).await.unwrap().len(), 3);
    assert!(
        s.resolve_incident(IncidentId(999_999), at(1), "x")
            .await
            .unwrap_err()
            .is_not_found()
    );

    let mut later = api_down(m.id);
    later.started_at = at(120);
    let second = s.open_incident(&later).await.unwrap();
    let mut elsewhere = api_down(other.id);
    elsewhere.started_at = at(130);
    s.open_incident(&elsewhere).await.unwrap();
    let ids = |v: Vec<Incident>| v.into_iter().map(|i| i.id).collect::<Vec<_>>();
    assert_eq!(
        ids(s.incidents_for_monitor(m.id, 10).await.unwrap()),
        vec![second.id, first.id]
    );
    assert_eq!(
        ids(s.incidents_for_monitor(m.id, 1).await.unwrap()),
        vec![second.id]
    );
    let b = workspace(&store, "res2").await;
    assert!(
        store
            .workspace(b)
            .incidents_for_monitor(m.id, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

conformance!(
    incidents_move_through_their_timeline,
    incidents_are_resolved_and_listed_per_monitor,
);
