//! Parses a Sentry envelope and prints its items.
//!
//! Run with: `cargo run -p example-parse-envelope -- path/to/envelope` (or pipe it on stdin).
#![allow(clippy::print_stdout)] // An example program whose job is printing.

use std::io::Read;

use bitwobbly_envelope::{CheckIn, Envelope, EventInfo, ItemType, Limits, group};

fn main() -> anyhow::Result<()> {
    let mut raw = Vec::new();
    match std::env::args_os().nth(1) {
        Some(path) => raw = std::fs::read(path)?,
        None => {
            std::io::stdin().read_to_end(&mut raw)?;
        }
    }
    let envelope = Envelope::parse(bytes::Bytes::from(raw))?;
    let event_id = envelope.event_id().map(|id| id.to_string());
    println!("event_id: {}", event_id.as_deref().unwrap_or("-"));
    if let Err(e) = Limits::default().check(&envelope) {
        println!("over limits: {e}");
    }
    for (index, item) in envelope.items().iter().enumerate() {
        println!(
            "item {index}: type={} bytes={} content_type={} filename={}",
            item.ty(),
            item.payload().len(),
            item.content_type().unwrap_or("-"),
            item.filename().unwrap_or("-"),
        );
        match item.ty() {
            ItemType::Event | ItemType::Transaction => {
                let info = EventInfo::from_json(item.payload())?;
                let grouping = group(&info);
                println!(
                    "  level={} release={} grouping={} {:?}",
                    info.level.as_deref().unwrap_or("-"),
                    info.release.as_deref().unwrap_or("-"),
                    grouping.hash,
                    grouping.components
                );
            }
            ItemType::CheckIn => {
                let check_in = CheckIn::from_json(item.payload())?;
                println!(
                    "  monitor={} status={:?}",
                    check_in.monitor_slug, check_in.status
                );
            }
            _ => {}
        }
    }
    Ok(())
}
