//! Feature `tracing`: a span per green thread carrying its id and name, so
//! a subscriber knows which green thread logged what; events for
//! cancellations and panics.
#![cfg(feature = "tracing")]

mod support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Fields of a span or an event, as text.
#[derive(Default)]
struct Fields(String);

impl Visit for Fields {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

/// A minimal subscriber: remembers each span's fields, which span each
/// OS thread is in, and each event with the fields of the span it was in.
#[derive(Default)]
struct Recorder {
    spans: Mutex<HashMap<u64, String>>,
    next: Mutex<u64>,
    current: Mutex<HashMap<std::thread::ThreadId, Vec<u64>>>,
    events: Arc<Mutex<Vec<(String, String, String)>>>,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut f = Fields::default();
        span.record(&mut f);
        let mut next = self.next.lock().unwrap();
        *next += 1;
        self.spans.lock().unwrap().insert(*next, f.0);
        Id::from_u64(*next)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut f = Fields::default();
        event.record(&mut f);
        let me = std::thread::current().id();
        let span = self
            .current
            .lock()
            .unwrap()
            .get(&me)
            .and_then(|s| s.last().copied())
            .and_then(|id| self.spans.lock().unwrap().get(&id).cloned())
            .unwrap_or_default();
        let target = event.metadata().target().to_owned();
        self.events.lock().unwrap().push((target, f.0, span));
    }
    fn enter(&self, span: &Id) {
        let me = std::thread::current().id();
        self.current
            .lock()
            .unwrap()
            .entry(me)
            .or_default()
            .push(span.into_u64());
    }
    fn exit(&self, span: &Id) {
        let me = std::thread::current().id();
        if let Some(s) = self.current.lock().unwrap().get_mut(&me) {
            if let Some(i) = s.iter().rposition(|x| *x == span.into_u64()) {
                s.remove(i);
            }
        }
    }
}

#[test]
fn events_carry_the_green_threads_span_and_cancellations_and_panics_are_events() {
    let _w = support::watchdog(Duration::from_secs(60));
    let recorder = Recorder::default();
    let events = recorder.events.clone();
    tracing::subscriber::set_global_default(recorder).expect("the only subscriber of this binary");
    let rt = support::rt(2);

    let h = verdant::Builder::new()
        .name("logger".into())
        .runtime(rt.handle())
        .spawn(|| {
            tracing::info!(target: "app", "hello from a green thread");
            verdant::current().id().as_u64()
        })
        .unwrap();
    let id = h.join().unwrap();
    let sleeper = rt.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    let sleeper_id = sleeper.thread().id().as_u64();
    sleeper.cancel();
    assert!(sleeper.join().unwrap_err().is_cancelled());
    let panicker = rt.spawn(|| panic!("boom in a green thread"));
    assert!(panicker.join().is_err());

    let events = events.lock().unwrap();
    let hello = events
        .iter()
        .find(|(t, f, _)| t == "app" && f.contains("hello from a green thread"))
        .expect("the event was recorded");
    assert!(hello.2.contains(&format!("id={id}")), "{hello:?}");
    assert!(hello.2.contains("name=\"logger\""), "{hello:?}");
    assert!(
        events
            .iter()
            .any(|(t, f, _)| t == "verdant::cancel" && f.contains(&format!("thread={sleeper_id}"))),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|(t, f, _)| t == "verdant::panic" && f.contains("boom in a green thread")),
        "{events:?}"
    );
}
