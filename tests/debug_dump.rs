//! `verdant::dump()`: every wait kind named in words, spawn locations at
//! the caller's line, a dump of 100 000 parked threads collapsed.
//!
//! A dump is a snapshot, so each test polls it (bounded) until the thread
//! it looks for has parked, instead of sleeping.

mod support;

use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;

use verdant::debug::{GreenThreadInfo, ThreadState};
use verdant::Handle;

/// The dump entry of green thread `id` once it is parked with a reason.
#[track_caller]
fn parked(h: &Handle, id: verdant::GreenId) -> GreenThreadInfo {
    let id = id.as_u64();
    support::dump_until(h, &format!("#{id} parked"), |d| {
        d.threads
            .iter()
            .find(|t| t.id == id && t.state == ThreadState::Parked && t.wait_kind.is_some())
            .cloned()
    })
    .1
}

#[track_caller]
fn assert_wait(t: &GreenThreadInfo, kind: &str, words: &str) {
    let wait = t.wait.as_deref().unwrap_or("");
    assert_eq!(t.wait_kind, Some(kind), "#{} waits on {wait}", t.id);
    assert!(wait.contains(words), "#{}: {wait:?} does not say {words:?}", t.id);
}

#[test]
fn sleep_is_named_with_its_deadline() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let h = rt.spawn(|| verdant::sleep(Duration::from_secs(3600)));
    let t = parked(rt.handle(), h.thread().id());
    assert_wait(&t, "sleep", "sleep until +");
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
}

#[test]
fn socket_waits_name_accept_read_and_write_with_addresses() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let listener = Arc::new(verdant::net::TcpListener::bind("127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let l = listener.clone();
    let acceptor = rt.spawn(move || l.accept().map(|_| ()));
    let t = parked(rt.handle(), acceptor.thread().id());
    assert_wait(&t, "accept", &format!("accept on {addr}"));

    // Its first connection ends the accept; the reader then waits on it.
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    acceptor.join().unwrap().unwrap();
    let server_side = std::net::TcpStream::connect(addr).unwrap();
    let l = listener.clone();
    let reader = rt.spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut buf = [0u8; 8];
        s.read(&mut buf)
    });
    let t = parked(rt.handle(), reader.thread().id());
    let local = server_side.peer_addr().unwrap();
    let peer = server_side.local_addr().unwrap();
    assert_wait(&t, "read", &format!("read on {local} ← {peer}"));
    drop(server_side);
    assert_eq!(reader.join().unwrap().unwrap(), 0);

    // A writer into a peer that never reads fills the buffers, then waits.
    let writer = rt.spawn(move || {
        let mut s = verdant::net::TcpStream::connect(addr).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        // Bounded: the socket buffers hold a few MB at most.
        for _ in 0..100_000 {
            if s.write(&chunk).is_err() {
                return;
            }
        }
    });
    let t = parked(rt.handle(), writer.thread().id());
    assert_wait(&t, "write", &format!("→ {addr}"));
    writer.cancel();
    let _ = writer.join();
    client.write_all(b"x").unwrap();
}

#[test]
fn channel_lock_condvar_event_join_queue_are_named() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let h = rt.handle();

    let (tx, rx) = verdant::sync::bounded::<u8>(1);
    let recv = rt.spawn(move || rx.recv().ok());
    assert_wait(&parked(h, recv.thread().id()), "recv", "recv on channel 0x");

    let (ftx, _frx) = verdant::sync::bounded::<u8>(1);
    ftx.send(1).unwrap();
    let send = rt.spawn(move || ftx.send(2).is_ok());
    assert_wait(&parked(h, send.thread().id()), "send", "send on channel 0x");

    let m = Arc::new(verdant::sync::Mutex::new(0));
    let guard = m.lock().unwrap();
    let m2 = m.clone();
    let locker = rt.spawn(move || *m2.lock().unwrap());
    assert_wait(&parked(h, locker.thread().id()), "lock", "lock Mutex 0x");

    let pair = Arc::new((verdant::sync::Mutex::new(false), verdant::sync::Condvar::new()));
    let p2 = pair.clone();
    let cv = rt.spawn(move || {
        let (m, c) = &*p2;
        let g = c.wait_while(m.lock().unwrap(), |go| !*go).unwrap();
        *g
    });
    assert_wait(&parked(h, cv.thread().id()), "condvar", "wait on Condvar 0x");

    let ev = Arc::new(verdant::sync::Event::new());
    let e2 = ev.clone();
    let evw = rt.spawn(move || e2.wait());
    assert_wait(&parked(h, evw.thread().id()), "event", "wait on Event 0x");

    let q = Arc::new(verdant::sync::Queue::<u8>::new());
    let q2 = q.clone();
    let getter = rt.spawn(move || q2.get());
    assert_wait(&parked(h, getter.thread().id()), "queue", "get on Queue 0x");

    let sleeper = rt.spawn(verdant::park);
    let sleeper_id = sleeper.thread().id();
    let sleeper_thread = sleeper.thread();
    let joiner = rt.spawn(move || sleeper.join().is_ok());
    assert_wait(
        &parked(h, joiner.thread().id()),
        "join",
        &format!("join #{}", sleeper_id.as_u64()),
    );

    // Everything lets go: each thread ends (no thread is left parked).
    tx.send(7).unwrap();
    assert_eq!(recv.join().unwrap(), Some(7));
    drop(_frx);
    assert!(!send.join().unwrap());
    drop(guard);
    assert_eq!(locker.join().unwrap(), 0);
    {
        let (m, c) = &*pair;
        *m.lock().unwrap() = true;
        c.notify_all();
    }
    assert!(cv.join().unwrap());
    ev.set();
    evw.join().unwrap();
    q.put(3);
    assert_eq!(getter.join().unwrap(), 3);
    sleeper_thread.unpark();
    assert!(joiner.join().unwrap());
}

#[test]
fn dns_lookup_names_the_host_it_waits_for() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    // A nameserver that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let resolver = verdant::net::Resolver::builder()
        .nameservers([silent.local_addr().unwrap()])
        .timeout(Duration::from_secs(60))
        .attempts(1)
        .build()
        .unwrap();
    let h = rt.spawn(move || resolver.lookup_ip("stuck.example.test").is_ok());
    let t = parked(rt.handle(), h.thread().id());
    assert_wait(&t, "recv", "DNS stuck.example.test");
    h.cancel();
    assert!(h.join().unwrap_err().is_cancelled());
}

#[test]
fn child_wait_names_the_pid() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let mut child = verdant::process::Command::new("sleep").arg("3600").spawn().unwrap();
    let pid = child.id();
    let h = rt.spawn(move || {
        let r = child.wait();
        drop(child);
        r.is_ok()
    });
    let t = parked(rt.handle(), h.thread().id());
    // With a pidfd the wait is on the reactor; without one (kernels before
    // 5.3) a blocking-pool thread waits and the green thread joins it.
    let wait = t.wait.clone().unwrap_or_default();
    assert!(
        wait.contains(&format!("child pid {pid}")) || t.wait_kind == Some("join"),
        "{wait}"
    );
    let _ = std::process::Command::new("kill").arg(pid.to_string()).status();
    assert!(h.join().unwrap());
}

#[test]
fn spawn_locations_are_the_callers_lines() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let h = rt.handle().clone();
    let (lines, ids) = rt.block_on(|| {
        let mut lines = vec![];
        let mut hs = vec![];
        lines.push(line!() + 1);
        hs.push(verdant::spawn(verdant::park));
        let builder = verdant::Builder::new().name("built".into());
        lines.push(line!() + 1);
        hs.push(builder.spawn(verdant::park).unwrap());
        lines.push(line!() + 1);
        hs.push(verdant::Handle::current().spawn(verdant::park));
        let pool = verdant::GreenPool::new(4);
        lines.push(line!() + 1);
        hs.push(pool.spawn(verdant::park));
        let ids: Vec<_> = hs.iter().map(|h| h.thread().id()).collect();
        let mut group = verdant::Group::new();
        lines.push(line!() + 1);
        let g = group.spawn(verdant::park);
        let mut ids = ids;
        ids.push(g.id());
        // Detach: a later cancel ends them.
        std::mem::forget(group);
        for h in hs {
            std::mem::forget(h);
        }
        (lines, ids)
    });
    for (line, id) in lines.iter().zip(&ids) {
        let t = parked(&h, *id);
        assert_eq!(t.wait_kind, Some("park"));
        assert!(t.spawned_at.file().ends_with("debug_dump.rs"), "{}", t.spawned_at);
        assert_eq!(
            t.spawned_at.line(),
            *line,
            "thread #{} spawned at {}",
            t.id,
            t.spawned_at
        );
    }
    let d = h.dump();
    let grouped = d.threads.iter().find(|t| t.id == ids[4].as_u64()).unwrap();
    assert!(grouped.group.is_some(), "the Group's thread names its group");
    let built = d.threads.iter().find(|t| t.id == ids[1].as_u64()).unwrap();
    assert_eq!(built.name.as_deref(), Some("built"));
    let json = d.to_json();
    assert!(json.contains(&format!("\"line\":{}", lines[0])), "{json}");
    assert!(json.contains("\"name\":\"built\""), "{json}");
}

/// The dump says which scope, pool or group a thread was spawned in, and
/// tells two owners of the same kind apart.
#[test]
fn scope_pool_and_group_members_name_their_owner() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    let h = rt.handle().clone();
    rt.block_on(move || {
        let (tx, rx) = verdant::sync::bounded::<()>(0);
        let pool_a = verdant::GreenPool::new(2);
        let pool_b = verdant::GreenPool::new(2);
        let (a, b) = {
            let (ra, rb) = (rx.clone(), rx.clone());
            (pool_a.spawn(move || ra.recv()), pool_b.spawn(move || rb.recv()))
        };
        let plain = {
            let r = rx.clone();
            verdant::spawn(move || r.recv())
        };
        let mut group = verdant::Group::new();
        let g = {
            let r = rx.clone();
            group.spawn(move || r.recv().map(drop))
        };
        verdant::scope(|s| {
            let scoped = s.spawn(|| rx.recv());
            let t = parked(&h, scoped.thread().id());
            assert!(t.scope.is_some() && t.pool.is_none() && t.group.is_none(), "{t:?}");
            let (ta, tb) = (parked(&h, a.thread().id()), parked(&h, b.thread().id()));
            assert!(ta.pool.is_some() && ta.scope.is_none(), "{ta:?}");
            assert!(tb.pool.is_some() && ta.pool != tb.pool, "two pools: {ta:?} {tb:?}");
            let tp = parked(&h, plain.thread().id());
            assert!(tp.scope.is_none() && tp.pool.is_none() && tp.group.is_none(), "{tp:?}");
            let tg = parked(&h, g.id());
            assert!(tg.group.is_some() && tg.scope.is_none(), "{tg:?}");
            let d = h.dump();
            let text = d.to_string();
            assert!(
                text.contains(&format!("in scope {}", t.scope.as_ref().unwrap())),
                "{text}"
            );
            assert!(
                text.contains(&format!("in pool {}", ta.pool.as_ref().unwrap())),
                "{text}"
            );
            let json = d.to_json();
            assert!(
                json.contains(&format!("\"scope\":\"{}\"", t.scope.as_ref().unwrap())),
                "{json}"
            );
            assert!(
                json.contains(&format!("\"pool\":\"{}\"", tb.pool.as_ref().unwrap())),
                "{json}"
            );
            for _ in 0..5 {
                tx.send(()).unwrap();
            }
        });
        assert!(a.join().unwrap().is_ok() && b.join().unwrap().is_ok() && plain.join().unwrap().is_ok());
        assert!(group.join_next().unwrap().is_ok());
    });
}

#[test]
fn a_dump_of_100_000_parked_threads_collapses_them() {
    let _w = support::watchdog(Duration::from_secs(300));
    let rt = support::rt(2);
    const N: usize = 100_000;
    let line = line!() + 6;
    let hs: Vec<_> = (0..N)
        .map(|_| {
            verdant::Builder::new()
                .stack_size(16 * 1024)
                .runtime(rt.handle())
                .spawn(|| verdant::sleep(Duration::from_secs(3600)))
                .unwrap()
        })
        .collect();
    let (d, _) = support::dump_until(rt.handle(), "100 000 sleepers", |d| {
        let n = d
            .threads
            .iter()
            .filter(|t| t.state == ThreadState::Parked && t.wait_kind == Some("sleep"))
            .count();
        (n == N).then_some(())
    });
    let text = d.to_string();
    let header = format!("100000 green threads: parked, sleep, spawned at tests/debug_dump.rs:{line}");
    assert!(text.contains(&header), "{header}\n{}", &text[..text.len().min(2000)]);
    assert!(text.contains("... and 99997 more"));
    assert!(text.lines().count() < 50, "collapsed: {} lines", text.lines().count());
    for h in &hs {
        h.cancel();
    }
    for h in hs {
        assert!(h.join().unwrap_err().is_cancelled());
    }
    let after = rt.handle().dump();
    assert!(
        after.threads.is_empty(),
        "finished threads are unlisted: {}",
        after.threads.len()
    );
}

/// Parks in a function whose name the backtrace must show.
#[inline(never)]
fn parked_in_a_named_function() {
    verdant::park();
    std::hint::black_box(());
}

/// With `VERDANT_BACKTRACE=1` (read once per process, so in a child), a
/// parked thread's dump entry carries its stack at the park.
#[test]
fn backtrace_child() {
    if !support::is_child("VERDANT_BACKTRACE") {
        return;
    }
    let rt = support::rt(1);
    let h = rt.spawn(parked_in_a_named_function);
    let t = parked(rt.handle(), h.thread().id());
    let bt = t.backtrace.clone().expect("a backtrace was captured");
    assert!(bt.contains("parked_in_a_named_function"), "{bt}");
    assert!(rt.handle().dump().to_json().contains("\"backtrace\":\""));
    h.thread().unpark();
    h.join().unwrap();
    println!("BACKTRACE OK");
}

#[test]
fn parked_threads_carry_a_backtrace_with_verdant_backtrace_1() {
    let out = support::run_child("backtrace_child", ("VERDANT_BACKTRACE", "1"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("BACKTRACE OK"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A connect that the peer's full accept queue leaves unanswered (its SYN
/// dropped, the socket in SYN-SENT) is named with both addresses.
#[test]
fn connect_is_named_with_its_target() {
    let _w = support::watchdog(Duration::from_secs(60));
    let rt = support::rt(2);
    // Backlog 0: the kernel queues one or two connections, then drops SYNs.
    let listener = verdant::net::TcpListener::builder()
        .backlog(0)
        .bind("127.0.0.1:0")
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let connectors: Vec<_> = (0..8)
        .map(|_| rt.spawn(move || verdant::net::TcpStream::connect(addr).map(|_| ())))
        .collect();
    let ids: Vec<u64> = connectors.iter().map(|h| h.thread().id().as_u64()).collect();
    let (_, t) = support::dump_until(rt.handle(), "a connect in SYN-SENT", |d| {
        d.threads
            .iter()
            .find(|t| ids.contains(&t.id) && t.wait_kind == Some("connect"))
            .cloned()
    });
    let wait = t.wait.unwrap();
    assert!(
        wait.starts_with(&format!("connect to {addr} from 127.0.0.1:")),
        "{wait}"
    );
    for h in connectors {
        h.cancel();
        let _ = h.join();
    }
    drop(listener);
}
