use bitwobbly_store::prelude::*;

use crate::harness::{T0, at, conformance, http_monitor, result, workspace};

async fn batches_are_written_and_paged_with_cursors(store: Store) {
    let ws = workspace(&store, "r").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("api"), T0).await.unwrap();
    let other = s.create_monitor(&http_monitor("web"), T0).await.unwrap();
    let mut batch: Vec<_> = (0..25)
        .map(|i| result(m.id, at(i * 60), CheckStatus::Up, 1000 + i))
        .collect();
    batch.push(result(other.id, at(30), CheckStatus::Down, 0));
    // Two results at the same instant: the cursor must keep both.
    batch.push(result(m.id, at(600), CheckStatus::Degraded, 9999));
    assert_eq!(s.insert_results(&batch).await.unwrap(), 27);
    assert_eq!(s.insert_results(&[]).await.unwrap(), 0);

    for order in [Order::Ascending, Order::Descending] {
        let mut q = ResultQuery {
            monitor_id: m.id,
            from: at(60),
            to: at(20 * 60),
            order,
            limit: 4,
            after: None,
        };
        let mut got = Vec::new();
        loop {
            let page = s.results(&q).await.unwrap();
            assert!(page.items.len() <= 4);
            got.extend(page.items.iter().map(|r| r.result.clone()));
            match page.next {
                Some(next) => q.after = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
        }
        let mut want: Vec<_> = batch
            .iter()
            .filter(|r| r.monitor_id == m.id && r.started_at >= at(60) && r.started_at < at(1200))
            .cloned()
            .collect();
        // Insertion order breaks ties between equal start times.
        want.sort_by_key(|r| r.started_at);
        if order == Order::Descending {
            want.reverse();
        }
        assert_eq!(got.len(), 20, "{order:?}");
        assert_eq!(got, want, "{order:?}");
    }
}

async fn latest_result_per_monitor(store: Store) {
    let ws = workspace(&store, "latest").await;
    let mut s = store.workspace(ws);
    let a = s.create_monitor(&http_monitor("a"), T0).await.unwrap();
    let b = s.create_monitor(&http_monitor("b"), T0).await.unwrap();
    let _never_ran = s.create_monitor(&http_monitor("c"), T0).await.unwrap();
    s.insert_results(&[
        result(a.id, at(10), CheckStatus::Up, 5),
        result(a.id, at(70), CheckStatus::Down, 0),
        result(b.id, at(20), CheckStatus::Degraded, 7),
        result(a.id, at(40), CheckStatus::Up, 6),
    ])
    .await
    .unwrap();
    let latest = s.latest_results().await.unwrap();
    let got: Vec<_> = latest
        .iter()
        .map(|r| (r.result.monitor_id, r.result.started_at, r.result.status))
        .collect();
    assert_eq!(
        got,
        vec![
            (a.id, at(70), CheckStatus::Down),
            (b.id, at(20), CheckStatus::Degraded)
        ]
    );
    let down = &latest[0].result;
    assert_eq!(
        (down.http_status, down.error_kind.as_deref()),
        (None, Some("connect_refused"))
    );
}

async fn a_batch_naming_an_unknown_monitor_writes_nothing(store: Store) {
    let ws = workspace(&store, "bad").await;
    let mut s = store.workspace(ws);
    let m = s.create_monitor(&http_monitor("a"), T0).await.unwrap();
    let err = s
        .insert_results(&[
            result(m.id, at(1), CheckStatus::Up, 1),
            result(MonitorId(m.id.0 + 1000), at(2), CheckStatus::Up, 1),
        ])
        .await
        .unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(s.latest_results().await.unwrap().is_empty());
}

conformance!(
    batches_are_written_and_paged_with_cursors,
    latest_result_per_monitor,
    a_batch_naming_an_unknown_monitor_writes_nothing,
);
