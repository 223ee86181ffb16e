//! Framing, auth, decompression, limits, extraction, grouping and rate-limit tests.

use std::io::Write;

use bitwobbly_envelope::*;
use bytes::Bytes;
use proptest::prelude::*;

fn parse(input: &[u8]) -> Result<Envelope, EnvelopeError> {
    Envelope::parse(Bytes::copy_from_slice(input))
}

#[test]
fn spec_example_with_binary_attachment_and_no_final_newline() {
    let input = b"{\"event_id\":\"9ec79c33ec9942ab8353589fcb2e04dc\",\"sent_at\":\"2025-01-01T00:00:00Z\"}\n{\"type\":\"attachment\",\"length\":10,\"content_type\":\"text/plain\",\"filename\":\"hello.txt\"}\n\xef\xbb\xbfHello\r\n\n{\"type\":\"event\",\"length\":41,\"content_type\":\"application/json\"}\n{\"message\":\"hello world\",\"level\":\"error\"}";
    let env = parse(input).unwrap();
    assert_eq!(
        env.event_id().unwrap().to_string(),
        "9ec79c33ec9942ab8353589fcb2e04dc"
    );
    assert_eq!(env.headers().sent_at(), Some("2025-01-01T00:00:00Z"));
    assert_eq!(env.items().len(), 2);
    assert_eq!(env.items()[0].ty(), &ItemType::Attachment);
    assert_eq!(&env.items()[0].payload()[..], b"\xef\xbb\xbfHello\r\n");
    assert_eq!(env.items()[0].filename(), Some("hello.txt"));
    assert_eq!(env.items()[1].content_type(), Some("application/json"));
    assert_eq!(env.items()[1].payload().len(), 41);
}

#[test]
fn payloads_are_slices_of_the_input() {
    let input = Bytes::from_static(b"{}\n{\"type\":\"attachment\",\"length\":3}\nabc\n");
    let env = Envelope::parse(input.clone()).unwrap();
    let payload = env.items()[0].payload();
    assert!(input.as_ptr_range().contains(&payload.as_ptr()));
}

#[test]
fn implicit_lengths_empty_items_and_unknown_types() {
    let env = parse(b"{}\n{\"type\":\"event\"}\n{\"a\":1}\n{\"type\":\"attachment\",\"length\":0}\n\n{\"type\":\"future_thing\",\"x\":[1]}\nraw\n{\"type\":\"session\"}").unwrap();
    let items = env.items();
    assert_eq!(items.len(), 4);
    assert_eq!(&items[0].payload()[..], b"{\"a\":1}");
    assert!(items[1].payload().is_empty());
    assert_eq!(items[2].ty(), &ItemType::Unknown("future_thing".into()));
    assert_eq!(&items[2].payload()[..], b"raw");
    assert!(items[3].payload().is_empty());
    assert_eq!(
        ItemType::from_name("profile_chunk_ui"),
        ItemType::ProfileChunk
    );
}

#[test]
fn header_only_envelope_and_trailing_blank_lines() {
    assert!(parse(b"{}").unwrap().is_empty());
    assert!(parse(b"{}\n").unwrap().is_empty());
    assert_eq!(
        parse(b"{}\n{\"type\":\"event\",\"length\":2}\n{}\n\n\n")
            .unwrap()
            .items()
            .len(),
        1
    );
}

#[test]
fn malformed_inputs_name_what_and_where() {
    type Check = fn(&EnvelopeError) -> bool;
    let cases: &[(&[u8], Check)] = &[
        (b"", |e| matches!(e, EnvelopeError::Empty)),
        (b"not json\n", |e| {
            matches!(e, EnvelopeError::InvalidEnvelopeHeader { .. }) && e.is_envelope_header()
        }),
        (b"[1]\n", |e| {
            matches!(e, EnvelopeError::InvalidEnvelopeHeader { .. })
        }),
        (b"{\"event_id\":\"xyz\"}\n", |e| {
            matches!(e, EnvelopeError::InvalidEventId)
        }),
        (b"{}\r\n", |e| {
            matches!(e, EnvelopeError::CarriageReturn { index: None })
        }),
        (b"{}\n{\"type\":\"event\"}\r\n{}", |e| {
            e.item_index() == Some(0)
        }),
        (b"{}\n{\"length\":2}\nab", |e| {
            matches!(e, EnvelopeError::InvalidItemHeader { index: 0, .. })
        }),
        (
            b"{}\n{\"type\":\"a\",\"length\":1}\nx\n{\"type\":7}\n",
            |e| matches!(e, EnvelopeError::InvalidItemHeader { index: 1, .. }),
        ),
        (b"{}\n{\"type\":\"a\",\"length\":-1}\n", |e| {
            matches!(e, EnvelopeError::InvalidItemHeader { .. })
        }),
        (b"{}\n{\"type\":\"a\",\"length\":99999999999}\n", |e| {
            matches!(e, EnvelopeError::InvalidItemHeader { .. })
        }),
        (b"{}\n{\"type\":\"a\",\"length\":10}\nshort", |e| {
            matches!(
                e,
                EnvelopeError::UnexpectedEof {
                    index: 0,
                    declared: 10,
                    available: 5
                }
            )
        }),
        (b"{}\n{\"type\":\"a\",\"length\":2}\nabc\n", |e| {
            matches!(e, EnvelopeError::MissingNewline { index: 0 })
        }),
        (b"{}\n{\"type\":\"a\",\"type\":\"b\"}\n", |e| {
            matches!(e, EnvelopeError::InvalidItemHeader { .. })
        }),
        (b"{\"sent_at\":\"a\",\"sent_at\":\"b\"}\n", |e| {
            matches!(e, EnvelopeError::InvalidEnvelopeHeader { .. })
        }),
        (b"\xef\xbb\xbf{}\n", |e| {
            matches!(e, EnvelopeError::InvalidEnvelopeHeader { .. })
        }),
    ];
    for (input, check) in cases {
        let err = parse(input).expect_err(&String::from_utf8_lossy(input));
        assert!(check(&err), "{:?}: {err:?}", String::from_utf8_lossy(input));
        assert!(err.is_framing(), "{err:?}");
        assert!(!err.is_too_large());
    }
}

#[test]
fn unknown_header_keys_and_bad_trace_do_not_fail() {
    let env =
        parse(b"{\"trace\":\"garbage\",\"new_key\":{\"deep\":[1,2]},\"sent_at\":null}\n").unwrap();
    assert_eq!(env.headers().sent_at(), None);
    assert_eq!(
        env.to_bytes(),
        Bytes::from_static(
            b"{\"trace\":\"garbage\",\"new_key\":{\"deep\":[1,2]},\"sent_at\":null}\n"
        )
    );
}

#[test]
fn writer_fixes_headers_that_cannot_frame_their_payload() {
    let mut env = Envelope::new(EnvelopeHeaders::new());
    let mut item = Item::with_header(
        Bytes::from_static(b"{\"type\":\"attachment\",\"filename\":\"a\"}"),
        Bytes::from_static(b"x\ny"),
    )
    .unwrap();
    env.add_item(item.clone());
    let back = Envelope::parse(env.to_bytes()).unwrap();
    assert_eq!(&back.items()[0].payload()[..], b"x\ny");
    assert_eq!(back.items()[0].filename(), Some("a"));
    item.set_header("filename", "b.txt".into()).unwrap();
    assert_eq!(item.filename(), Some("b.txt"));
}

fn arb_item() -> impl Strategy<Value = Item> {
    let ty = prop_oneof![
        Just(ItemType::Event),
        Just(ItemType::Attachment),
        Just(ItemType::CheckIn),
        "[a-z_]{1,12}".prop_map(|s| ItemType::from_name(&s)),
    ];
    (
        ty,
        proptest::collection::vec(any::<u8>(), 0..64),
        any::<bool>(),
        proptest::option::of("[ -~]{0,12}"),
    )
        .prop_map(|(ty, payload, explicit, filename)| {
            let no_newline: Vec<u8> = payload.iter().copied().filter(|b| *b != b'\n').collect();
            let mut header = serde_json::json!({"type": ty.as_str()});
            let payload = if explicit {
                header["length"] = payload.len().into();
                payload
            } else {
                no_newline
            };
            if let Some(f) = filename {
                header["filename"] = f.into();
            }
            Item::with_header(Bytes::from(header.to_string()), Bytes::from(payload)).unwrap()
        })
}

proptest! {
    #[test]
    fn write_then_parse_round_trips(
        event_id in proptest::option::of(any::<u128>()),
        items in proptest::collection::vec(arb_item(), 0..6),
    ) {
        let headers = event_id.map(|id| EnvelopeHeaders::with_event_id(EventId(id))).unwrap_or_default();
        let mut env = Envelope::new(headers);
        for item in items {
            env.add_item(item);
        }
        let written = env.to_bytes();
        let back = Envelope::parse(written.clone()).unwrap();
        prop_assert_eq!(&back, &env);
        prop_assert_eq!(back.to_bytes(), written);
    }

    #[test]
    fn parsing_arbitrary_bytes_never_panics(input in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = Envelope::parse(Bytes::from(input));
    }
}

#[test]
fn dsn_forms() {
    let dsn: Dsn = "https://abc123@sentry.example.com/42".parse().unwrap();
    assert_eq!(
        (
            dsn.public_key().as_str(),
            dsn.host(),
            dsn.port(),
            dsn.path(),
            dsn.project_id()
        ),
        ("abc123", "sentry.example.com", None, "", 42)
    );
    assert_eq!(
        dsn.envelope_url(),
        "https://sentry.example.com/api/42/envelope/"
    );
    let dsn: Dsn = "http://pub:sec@[::1]:9000/prefix/deeper/7/"
        .parse()
        .unwrap();
    assert_eq!(dsn.secret_key(), Some("sec"));
    assert_eq!(dsn.host(), "[::1]");
    assert_eq!(dsn.port(), Some(9000));
    assert_eq!(dsn.path(), "/prefix/deeper");
    assert_eq!(
        dsn.envelope_url(),
        "http://[::1]:9000/prefix/deeper/api/7/envelope/"
    );
    assert_eq!(dsn.to_string(), "http://pub:sec@[::1]:9000/prefix/deeper/7");
    for bad in [
        "",
        "ftp://k@h/1",
        "https://h/1",
        "https://k@h/",
        "https://k@h/abc",
        "https://k@h:99999/1",
        "https://@h/1",
        "https://k y@h/1",
    ] {
        let err = bad.parse::<Dsn>().expect_err(bad);
        assert!(err.is_auth(), "{bad}");
    }
}

#[test]
fn auth_sources() {
    let a = parse_x_sentry_auth(
        "Sentry sentry_key=abc, sentry_version=7.0, sentry_client=sentry.python/2.0",
    )
    .unwrap();
    assert_eq!(
        (a.key.as_str(), a.version, a.client.as_deref(), a.source),
        (
            "abc",
            Some(7),
            Some("sentry.python/2.0"),
            KeySource::XSentryAuth
        )
    );
    assert!(matches!(
        parse_x_sentry_auth("Sentry sentry_version=7"),
        Err(EnvelopeError::InvalidAuth { .. })
    ));
    assert!(matches!(
        parse_x_sentry_auth("sentry sentry_key=a, sentry_version=8"),
        Err(EnvelopeError::UnsupportedVersion { version: 8 })
    ));
    let q = parse_query(
        "sentry_version=7&sentry_key=abc&sentry_client=sentry.javascript.browser%2F8.0.0",
    )
    .unwrap()
    .unwrap();
    assert_eq!(
        (q.key.as_str(), q.client.as_deref(), q.source),
        (
            "abc",
            Some("sentry.javascript.browser/8.0.0"),
            KeySource::Query
        )
    );
    assert!(parse_query("foo=bar").unwrap().is_none());
    let d = parse_authorization("DSN https://abc@h/5").unwrap().unwrap();
    assert_eq!(
        (d.source, d.project_id),
        (KeySource::AuthorizationDsn, Some(5))
    );
    let b = parse_authorization("Basic YWJjOng=").unwrap().unwrap();
    assert_eq!(
        (b.key.as_str(), b.source),
        ("abc", KeySource::AuthorizationBasic)
    );
    assert!(parse_authorization("Bearer xyz").unwrap().is_none());
    let s = parse_authorization("Sentry sentry_key=abc")
        .unwrap()
        .unwrap();
    assert_eq!(s.source, KeySource::AuthorizationSentry);

    let tunnel = AuthSources {
        envelope_dsn: Some("https://abc@h/9"),
        ..Default::default()
    };
    let r = tunnel.resolve().unwrap();
    assert_eq!((r.source, r.project_id), (KeySource::EnvelopeDsn, Some(9)));
    let both = AuthSources {
        x_sentry_auth: Some("Sentry sentry_key=abc"),
        query: Some("sentry_key=abc"),
        ..Default::default()
    };
    assert_eq!(both.resolve().unwrap().source, KeySource::XSentryAuth);
    let conflict = AuthSources {
        x_sentry_auth: Some("Sentry sentry_key=abc"),
        query: Some("sentry_key=def"),
        ..Default::default()
    };
    assert!(matches!(
        conflict.resolve(),
        Err(EnvelopeError::ConflictingKeys {
            first: "x-sentry-auth",
            second: "query"
        })
    ));
    let dsn_conflict = AuthSources {
        query: Some("sentry_key=abc"),
        envelope_dsn: Some("https://zzz@h/1"),
        ..Default::default()
    };
    assert!(dsn_conflict.resolve().is_err());
    assert!(matches!(
        AuthSources::default().resolve(),
        Err(EnvelopeError::MissingKey)
    ));
}

fn compress(encoding: ContentEncoding, data: &[u8]) -> Vec<u8> {
    match encoding {
        ContentEncoding::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        ContentEncoding::Deflate => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        ContentEncoding::Brotli => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
                w.write_all(data).unwrap();
            }
            out
        }
        ContentEncoding::Zstd => zstd::encode_all(data, 3).unwrap(),
        _ => data.to_vec(),
    }
}

#[test]
fn decompression_round_trips_and_stops_bombs() {
    let data: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
    for enc in [
        ContentEncoding::Gzip,
        ContentEncoding::Deflate,
        ContentEncoding::Brotli,
        ContentEncoding::Zstd,
    ] {
        let packed = Bytes::from(compress(enc, &data));
        assert_eq!(
            decompress(enc, packed.clone(), data.len()).unwrap(),
            data,
            "{enc}"
        );
        let err = decompress(enc, packed, data.len() - 1).unwrap_err();
        assert!(
            err.is_decompression_bomb() && err.is_too_large(),
            "{enc}: {err:?}"
        );
        let err = decompress(
            enc,
            Bytes::from_static(b"\x00garbage-garbage-garbage"),
            1000,
        )
        .unwrap_err();
        assert!(err.is_encoding(), "{enc}: {err:?}");
    }
    // 1 GiB of zeros squeezed into about 1 MiB: refused at the 1 MiB cap without allocating it.
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for _ in 0..128 {
        e.write_all(&zeros).unwrap();
    }
    let bomb = Bytes::from(e.finish().unwrap());
    assert!(
        decompress(ContentEncoding::Gzip, bomb, 1024 * 1024)
            .unwrap_err()
            .is_decompression_bomb()
    );

    let raw = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b"raw deflate").unwrap();
        Bytes::from(e.finish().unwrap())
    };
    assert_eq!(
        &decompress(ContentEncoding::Deflate, raw, 100).unwrap()[..],
        b"raw deflate"
    );
    assert!(
        decompress(ContentEncoding::Identity, Bytes::from_static(b"abc"), 2)
            .unwrap_err()
            .is_too_large()
    );
}

#[test]
fn content_encoding_header_values() {
    assert_eq!(
        ContentEncoding::from_header("").unwrap(),
        ContentEncoding::Identity
    );
    assert_eq!(
        ContentEncoding::from_header("UTF-8").unwrap(),
        ContentEncoding::Identity
    );
    assert_eq!(
        ContentEncoding::from_header(" X-GZIP ").unwrap(),
        ContentEncoding::Gzip
    );
    assert_eq!(
        ContentEncoding::from_header("br").unwrap(),
        ContentEncoding::Brotli
    );
    assert!(matches!(
        ContentEncoding::from_header("compress"),
        Err(EnvelopeError::UnsupportedEncoding { .. })
    ));
}

fn envelope_with(items: &[(ItemType, usize)]) -> Envelope {
    let mut env = Envelope::new(EnvelopeHeaders::new());
    for (ty, size) in items {
        env.add_item(Item::new(ty.clone(), vec![b'a'; *size]));
    }
    env
}

#[test]
fn limits_match_relay_defaults() {
    let l = Limits::default();
    assert_eq!(
        (
            l.max_event_size,
            l.max_attachment_count,
            l.max_check_in_size,
            l.max_envelope_size
        ),
        (1 << 20, 30, 100 * 1024, 200 << 20)
    );
    assert!(
        l.check(&envelope_with(&[
            (ItemType::Event, 1 << 20),
            (ItemType::Attachment, 5 << 20)
        ]))
        .is_ok()
    );
    let err = l
        .check(&envelope_with(&[(ItemType::Event, (1 << 20) + 1)]))
        .unwrap_err();
    assert!(
        matches!(err, EnvelopeError::ItemTooLarge { index: 0, ref item_type, .. } if item_type == "event")
    );
    let err = l
        .check(&envelope_with(&[
            (ItemType::Event, 10),
            (ItemType::Transaction, 10),
        ]))
        .unwrap_err();
    assert!(matches!(
        err,
        EnvelopeError::TooManyItems {
            index: 1,
            kind: "event",
            limit: 1
        }
    ));
    let err = l
        .check(&envelope_with(&[
            (ItemType::CheckIn, 10),
            (ItemType::CheckIn, 10),
        ]))
        .unwrap_err();
    assert_eq!(err.item_index(), Some(1));
    let mut small = Limits::default();
    small.max_attachments_size = 100;
    let err = small
        .check(&envelope_with(&[
            (ItemType::Attachment, 60),
            (ItemType::Attachment, 60),
        ]))
        .unwrap_err();
    assert!(matches!(
        err,
        EnvelopeError::ItemTooLarge {
            index: 1,
            size: 120,
            limit: 100,
            ..
        }
    ));
    assert!(
        l.check(&envelope_with(&[(
            ItemType::Unknown("x".into()),
            300 << 20
        )]))
        .is_ok()
    );
    assert!(
        l.check_envelope_size((200 << 20) + 1)
            .unwrap_err()
            .is_too_large()
    );
}

#[test]
fn event_extraction_borrows_and_skips() {
    let payload = br#"{"event_id":"9ec79c33-ec99-42ab-8353-589fcb2e04dc","level":"error","platform":"python",
        "timestamp":"2025-01-01T00:00:01.5Z","release":"app@1.0","environment":"prod","transaction":"/users/{id}",
        "huge":{"ignored":[1,2,3,{"x":"y"}]},"fingerprint":["{{ default }}", 42],"user":{"id":7},
        "exception":{"values":[{"type":"ValueError","value":"bad id 12","mechanism":{"synthetic":false},
        "stacktrace":{"frames":[{"module":"lib.db","function":"query","lineno":10,"in_app":false},
        {"filename":"/srv/app/Views.py","function":"get_user","lineno":33,"in_app":true}]}}]}}"#;
    let info = EventInfo::from_json(payload).unwrap();
    assert_eq!(
        info.event_id.unwrap().to_string(),
        "9ec79c33ec9942ab8353589fcb2e04dc"
    );
    assert_eq!(info.timestamp, Some(1_735_689_601.5));
    assert!(matches!(
        info.level,
        Some(std::borrow::Cow::Borrowed("error"))
    ));
    assert_eq!(info.user_id.as_deref(), Some("7"));
    assert_eq!(info.fingerprint.as_ref().unwrap()[1], "42");
    let exc = info.primary_exception().unwrap();
    assert_eq!(exc.in_app_frames().count(), 1);

    let g = group(&info);
    assert_eq!(g.basis, GroupingBasis::Fingerprint);
    assert_eq!(
        g.components,
        ["type:ValueError", "frame:views.py|get_user", "42"]
    );
    assert_eq!(g.hash.len(), 64);

    let bare = EventInfo::from_json(
        br#"{"exception":[{"type":"E","value":"x"}],"message":{"formatted":"hi"},"timestamp":1.5}"#,
    )
    .unwrap();
    assert_eq!(bare.exceptions.len(), 1);
    assert_eq!(bare.message.as_deref(), Some("hi"));
    assert!(
        EventInfo::from_json(b"\"text\"")
            .unwrap_err()
            .to_string()
            .contains("event")
    );
}

#[test]
fn grouping_rules() {
    let ev = |json: &str| {
        EventInfo::from_json(json.as_bytes())
            .unwrap()
            .to_owned_group()
    };
    trait G {
        fn to_owned_group(&self) -> Grouping;
    }
    impl G for EventInfo<'_> {
        fn to_owned_group(&self) -> Grouping {
            group(self)
        }
    }
    // Line numbers and values do not split a stack-trace group.
    let a = ev(
        r#"{"exception":{"values":[{"type":"E","value":"id 1","stacktrace":{"frames":[{"function":"f","module":"m","lineno":1}]}}]}}"#,
    );
    let b = ev(
        r#"{"exception":{"values":[{"type":"E","value":"id 2","stacktrace":{"frames":[{"function":"f","module":"m","lineno":9},{"function":"f","module":"m","lineno":9}]}}]}}"#,
    );
    assert_eq!(a.hash, b.hash);
    let c = ev(
        r#"{"exception":{"values":[{"type":"E","value":"id 2","stacktrace":{"frames":[{"function":"g","module":"m"}]}}]}}"#,
    );
    assert_ne!(a.hash, c.hash);
    // Without frames: type and normalised value.
    let d = ev(
        r#"{"exception":[{"type":"Timeout","value":"after 1500ms to 10.0.0.1:5432 for 9ec79c33-ec99-42ab-8353-589fcb2e04dc"}]}"#,
    );
    assert_eq!(d.basis, GroupingBasis::Exception);
    assert_eq!(
        d.components,
        ["type:Timeout", "value:after <duration> to <ip> for <uuid>"]
    );
    // Messages.
    let m1 = ev(
        r#"{"message":"user bob@example.com hit 0xdeadbeef at 2025-01-01T10:00:00Z (3.5 tries)"}"#,
    );
    assert_eq!(
        m1.components,
        ["message:user <email> hit <hex> at <date> (<float> tries)"]
    );
    // Fingerprints.
    let f1 = ev(r#"{"fingerprint":["{{default}}"],"message":"x 1"}"#);
    let f2 = ev(r#"{"message":"x 2"}"#);
    assert_eq!(f1.hash, f2.hash);
    let f3 = ev(r#"{"fingerprint":["{{ default }}","db"],"message":"x 1"}"#);
    assert_eq!(f3.components, ["message:x <int>", "db"]);
    assert_eq!(f3.basis, GroupingBasis::Fingerprint);
    let f4 = ev(r#"{"fingerprint":["{{ transaction }}","{{ type }}"],"transaction":"/a"}"#);
    assert_eq!(f4.components, ["/a", "<no-type>"]);
    assert_eq!(ev("{}").basis, GroupingBasis::Fallback);
    assert_eq!(
        normalize_function("Object.handler$$Lambda$12/0x1f"),
        "handler"
    );
    assert_eq!(normalize_message("a\n\nb\nc"), "a\nb...");
}

#[test]
fn check_ins_and_sessions() {
    let c = CheckIn::from_json(br#"{"check_in_id":"00000000000000000000000000000000","monitor_slug":"nightly","status":"ok","duration":1.5,"environment":"prod","type":"check_in","release":null,
        "monitor_config":{"schedule":{"type":"crontab","value":"0 * * * *"},"timezone":"Europe/Paris","checkin_margin":5,"max_runtime":30,"failure_issue_threshold":2,"recovery_threshold":3}}"#).unwrap();
    assert_eq!(
        (c.monitor_slug.as_ref(), c.status, c.duration),
        ("nightly", CheckInStatus::Ok, Some(1.5))
    );
    let cfg = c.monitor_config.unwrap();
    assert_eq!(
        cfg.schedule,
        Schedule::Crontab {
            value: "0 * * * *".into()
        }
    );
    assert_eq!(
        (
            cfg.checkin_margin,
            cfg.max_runtime,
            cfg.failure_issue_threshold,
            cfg.recovery_threshold
        ),
        (Some(5), Some(30), Some(2), Some(3))
    );
    let i = CheckIn::from_json(br#"{"monitor_slug":"m","status":"missed","monitor_config":{"schedule":{"type":"interval","value":10,"unit":"minute"}}}"#).unwrap();
    assert_eq!(i.status, CheckInStatus::Unknown);
    assert_eq!(
        i.monitor_config.unwrap().schedule,
        Schedule::Interval {
            value: 10,
            unit: IntervalUnit::Minute
        }
    );
    assert!(CheckIn::from_json(br#"{"status":"ok"}"#).is_err());

    let s = Session::from_json(br#"{"sid":"abc","did":42,"init":true,"started":"2025-01-01T00:00:00Z","status":"crashed","errors":2,"duration":3.0,"attrs":{"release":"r1","environment":"e"}}"#).unwrap();
    assert_eq!(
        (s.status, s.errors, s.init, s.attrs.release.as_deref()),
        (SessionStatus::Crashed, 2, true, Some("r1"))
    );
    assert_eq!(s.started.unwrap().0, 1_735_689_600.0);
    let agg = SessionAggregates::from_json(br#"{"aggregates":[{"started":"2025-01-01T00:01:00+01:00","exited":3,"crashed":1}],"attrs":{"release":"r"}}"#).unwrap();
    assert_eq!(agg.aggregates[0].started.0, 1_735_686_060.0);
    assert_eq!(agg.aggregates[0].exited, 3);
}

#[test]
fn rate_limit_headers() {
    assert_eq!(format_rate_limits(&[]), None);
    let limits = [
        RateLimit {
            retry_after_secs: 60,
            categories: vec![DataCategory::Transaction],
            scope: RateLimitScope::Key,
            reason_code: None,
        },
        RateLimit {
            retry_after_secs: 2700,
            categories: vec![
                DataCategory::Default,
                DataCategory::Error,
                DataCategory::Security,
            ],
            scope: RateLimitScope::Organization,
            reason_code: Some("org_quota".into()),
        },
        RateLimit {
            retry_after_secs: 0,
            categories: vec![],
            scope: RateLimitScope::Project,
            reason_code: Some("a:b, c".into()),
        },
    ];
    assert_eq!(
        format_rate_limits(&limits).unwrap(),
        "60:transaction:key, 2700:default;error;security:organization:org_quota, 1::project:abc"
    );
    assert_eq!(format_retry_after(&limits).as_deref(), Some("2700"));
    assert_eq!(
        ItemType::Log.data_categories(),
        [DataCategory::LogItem, DataCategory::LogByte]
    );
}
