//! Benchmarks of the document store (issue 3, "Benchmarks"). A bench binary without a
//! harness, printing its figures:
//!
//! ```sh
//! cargo bench -p zhichao-core --bench store
//! ```
//!
//! 1. bytes persisted for a one-field edit — the store's chunk plus every other record the
//!    save writes, and what sled actually wrote to its files for it — against automerge's own
//!    incremental chunk;
//! 2. loading a document of 20 000 changes through the store against a bare `Automerge::load`
//!    of the same bytes (goal ≤ 1.2×);
//! 3. opening a store of 10 000 documents and listing the pending ones (goal < 200 ms), after a
//!    clean close and after an unclean shutdown (a child process killed with SIGKILL), with the
//!    peak memory (VmHWM) of the process doing it.
//!
//! Steps that need a fresh process (peak memory, unclean shutdown) re-run this binary with
//! `ZHICHAO_STORE_BENCH_CHILD` set.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use zhichao_core::ids::DocumentId;
use zhichao_core::store::{DocStore, IndexEntry, SaveReport, SledStore};

const CHILD_ENV: &str = "ZHICHAO_STORE_BENCH_CHILD";
const DOCS: usize = 10_000;
const CHANGES: usize = 20_000;

fn main() {
    if let Ok(role) = std::env::var(CHILD_ENV) {
        child(&role);
        return;
    }
    println!("zhichao store benchmarks (release build, {})", machine());
    one_field_edit();
    load_large_document();
    open_large_store();
}

fn machine() -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cpus} CPUs")
}

fn doc_id(n: usize) -> DocumentId {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&(n as u64).to_be_bytes());
    bytes[8..].copy_from_slice(&(n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
    DocumentId::from_bytes(bytes)
}

/// A case-like document: an on-site record, a vehicle, a measurement, an event list and
/// findings text, made in `changes` changes.
fn case_document(n: usize, changes: usize) -> Automerge {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    tx.put(ROOT, "kind", "case").unwrap();
    tx.put(ROOT, "plate", format!("晋E{:05}", n % 100_000))
        .unwrap();
    tx.put(ROOT, "place", "G208 K1024+300 治超检测站").unwrap();
    let officers = tx.put_object(ROOT, "officers", ObjType::List).unwrap();
    tx.insert(&officers, 0, "14052200417").unwrap();
    tx.insert(&officers, 1, "14052200533").unwrap();
    tx.put_object(ROOT, "events", ObjType::List).unwrap();
    let findings = tx.put_object(ROOT, "findings", ObjType::Text).unwrap();
    tx.update_text(&findings, "车辆超限").unwrap();
    tx.commit();
    let events = doc.get(ROOT, "events").unwrap().unwrap().1;
    for i in 1..changes {
        let mut tx = doc.transaction();
        match i % 4 {
            0 => {
                let len = tx.length(&events);
                tx.insert(&events, len, format!("event {i}")).unwrap();
            }
            1 => tx
                .put(ROOT, "gross_kg", 49_000 + (i % 5_000) as i64)
                .unwrap(),
            2 => tx
                .update_text(&findings, format!("车辆超限 {} kg，已卸载", i % 10_000))
                .unwrap(),
            _ => tx.put(ROOT, "axles", (i % 6 + 1) as i64).unwrap(),
        }
        tx.commit();
    }
    doc
}

fn index(n: usize) -> IndexEntry {
    IndexEntry::new("case")
        .with("plate", format!("晋E{:05}", n % 100_000))
        .with(
            "status",
            if n.is_multiple_of(3) {
                "closed"
            } else {
                "investigating"
            },
        )
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

/// `VmHWM` (peak resident set) and `VmRSS` of this process, in KiB.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// Bytes this process has handed to the kernel's `write` calls so far (`wchar` of
/// `/proc/self/io`): around a save, what sled wrote to its files for it. `None` off Linux.
fn bytes_written_by_process() -> Option<u64> {
    std::fs::read_to_string("/proc/self/io")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
}

/// One save of a one-field edit, measured.
struct EditSave {
    report: SaveReport,
    /// What sled wrote to its files during the save (flush included).
    sled_bytes: Option<u64>,
    latency: Duration,
}

fn save_one_field_edit(store: &SledStore, doc: &mut Automerge, value: i64) -> (EditSave, usize) {
    let before = doc.get_heads();
    let mut tx = doc.transaction();
    tx.put(ROOT, "gross_kg", value).unwrap();
    tx.commit();
    let automerge_chunk = doc.save_after(&before).len();
    let written_before = bytes_written_by_process();
    let started = Instant::now();
    let report = store.save(&doc_id(1), doc, &index(1)).unwrap();
    let latency = started.elapsed();
    let sled_bytes = written_before
        .zip(bytes_written_by_process())
        .map(|(a, b)| b - a);
    let save = EditSave {
        report,
        sled_bytes,
        latency,
    };
    (save, automerge_chunk)
}

fn median_of<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

fn one_field_edit() {
    println!("\n## bytes persisted for a one-field edit");
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let mut doc = case_document(1, 400);
    let first = store.save(&doc_id(1), &doc, &index(1)).unwrap();
    println!(
        "document of 400 changes, index entry of 3 keys; first save: snapshot {} B + {} B \
         bookkeeping",
        first.bytes_written, first.overhead_bytes
    );
    // Edits right after an acknowledgement: the save also sets the pending mark.
    let mut after_ack = Vec::new();
    // Edits of a document already pending: the steady state while offline.
    let mut steady = Vec::new();
    let mut automerge_chunks = Vec::new();
    let size_before = store.size_on_disk().unwrap();
    const EDITS: i64 = 60;
    for i in 0..EDITS {
        if i % 10 == 0 {
            assert!(store.acknowledge(&doc_id(1), &doc.get_heads()).unwrap());
        }
        let (save, automerge_chunk) = save_one_field_edit(&store, &mut doc, 52_300 + i);
        if save.report.compacted {
            continue;
        }
        automerge_chunks.push(automerge_chunk);
        if i % 10 == 0 {
            after_ack.push(save);
        } else {
            steady.push(save);
        }
    }
    let size_growth = store.size_on_disk().unwrap() - size_before;
    let summarise = |label: &str, saves: &[EditSave]| {
        let chunk = median_of(saves.iter().map(|s| s.report.bytes_written).collect());
        let overhead = median_of(saves.iter().map(|s| s.report.overhead_bytes).collect());
        let total = median_of(
            saves
                .iter()
                .map(|s| s.report.bytes_written + s.report.overhead_bytes)
                .collect(),
        );
        let sled = median_of(saves.iter().filter_map(|s| s.sled_bytes).collect());
        let latency = median(saves.iter().map(|s| s.latency).collect());
        println!(
            "{label} (median of {} saves without compaction): store chunk {} B, other records \
             {} B → total {} B persisted; sled wrote {} to its files; save latency (flush + \
             fsync) {:.2} ms",
            saves.len(),
            chunk.unwrap_or(0),
            overhead.unwrap_or(0),
            total.unwrap_or(0),
            sled.map_or_else(|| "n/a".to_owned(), |b| format!("{b} B")),
            ms(latency),
        );
    };
    println!(
        "automerge incremental chunk of a one-field edit: {} B (median); the store frames it \
         with a {}-byte header",
        median_of(automerge_chunks).unwrap_or(0),
        zhichao_core::store::CHUNK_HEADER_LEN,
    );
    summarise("document already pending", &steady);
    summarise("first edit after an acknowledgement", &after_ack);
    println!(
        "sled's size on disk grew {size_growth} B over {EDITS} edits (compactions and sled's \
         page rewrites included)"
    );
}

fn load_large_document() {
    println!("\n## load a case document of {CHANGES} changes");
    let started = Instant::now();
    let doc = case_document(2, CHANGES);
    println!(
        "built in {:.0} ms; compact save {} B",
        ms(started.elapsed()),
        doc.save().len()
    );
    // Save it the way a phone does: at save points, here every 10 changes, so the store holds a
    // snapshot and a tail of incremental chunks.
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    let changes = doc.get_changes(&[]);
    let mut partial = Automerge::new();
    let started = Instant::now();
    let mut saves = 0;
    let mut compactions = 0;
    for batch in changes.chunks(10) {
        partial.apply_changes(batch.iter().cloned()).unwrap();
        let report = store.save(&doc_id(2), &partial, &index(2)).unwrap();
        saves += 1;
        compactions += usize::from(report.compacted);
    }
    let elapsed = started.elapsed();
    println!(
        "stored in {saves} saves ({compactions} compactions) in {:.0} ms ({:.2} ms per save)",
        ms(elapsed),
        ms(elapsed) / saves as f64
    );
    let stored = store.load_bytes(&doc_id(2)).unwrap().unwrap();
    let compact = doc.save();
    println!(
        "stored bytes: {} B ({} chunks after the snapshot)",
        stored.bytes.len(),
        stored.report.chunks_loaded
    );

    let runs = 15;
    let (mut through_store, mut bare_same, mut bare_compact) = (vec![], vec![], vec![]);
    for _ in 0..runs {
        let t = Instant::now();
        let loaded = store.load(&doc_id(2)).unwrap().unwrap();
        through_store.push(t.elapsed());
        assert_eq!(loaded.doc.get_heads(), doc.get_heads());

        let t = Instant::now();
        let bare = Automerge::load(&stored.bytes).unwrap();
        bare_same.push(t.elapsed());
        assert_eq!(bare.get_heads(), doc.get_heads());

        let t = Instant::now();
        let bare = Automerge::load(&compact).unwrap();
        bare_compact.push(t.elapsed());
        assert_eq!(bare.get_heads(), doc.get_heads());
    }
    let (s, b, c) = (
        median(through_store),
        median(bare_same),
        median(bare_compact),
    );
    println!(
        "median of {runs}: store.load {:.2} ms; bare Automerge::load of the same bytes {:.2} ms \
         → {:.3}× (goal ≤ 1.2×); bare load of a fresh compact save {:.2} ms",
        ms(s),
        ms(b),
        s.as_secs_f64() / b.as_secs_f64(),
        ms(c)
    );
}

fn open_large_store() {
    println!("\n## open a store of {DOCS} documents and list the pending ones");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clean");
    let started = Instant::now();
    let out = run_child(&format!("populate:{}", path.display()));
    println!(
        "populated in {:.1} s: {}",
        started.elapsed().as_secs_f64(),
        out.trim()
    );
    report_open("first open after a clean close", &path);
    report_open("second open", &path);

    // Unclean: a phone session that saves 100 documents, then dies without closing.
    kill_after_ready(&format!("touch:{}", path.display()));
    report_open("open after SIGKILL mid-session (100 saves)", &path);
    report_open("open after that (clean)", &path);

    // Unclean right after the bulk import: everything since the last open is replayed.
    let fresh = dir.path().join("unclean");
    kill_after_ready(&format!("populate-and-die:{}", fresh.display()));
    report_open("open after SIGKILL right after writing all 10 000", &fresh);
    println!("on disk: {:.1} MB", dir_size(&path) as f64 / 1_000_000.0);
}

fn dir_size(path: &Path) -> u64 {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    let meta = e.metadata().unwrap();
                    if meta.is_dir() {
                        dir_size(&e.path())
                    } else {
                        meta.len()
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn spawn_child(role: &str) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .env(CHILD_ENV, role)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

fn run_child(role: &str) -> String {
    let output = spawn_child(role).wait_with_output().unwrap();
    assert!(output.status.success(), "child {role} failed");
    String::from_utf8(output.stdout).unwrap()
}

fn kill_after_ready(role: &str) {
    let mut child = spawn_child(role);
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    loop {
        match lines.next() {
            Some(Ok(line)) if line == "ready" => break,
            Some(Ok(_)) => {}
            _ => panic!("child {role} ended before it was ready"),
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
}

fn report_open(label: &str, path: &Path) {
    let out = run_child(&format!("measure:{}", path.display()));
    println!("{label}: {}", out.trim());
}

fn child(role: &str) {
    let (what, path) = role.split_once(':').expect("role:path");
    let path = Path::new(path);
    match what {
        "populate" => populate(path, false),
        "populate-and-die" => populate(path, true),
        "touch" => touch(path),
        "measure" => measure(path),
        other => panic!("unknown role {other}"),
    }
}

fn populate(path: &Path, die: bool) {
    let store = SledStore::open(path).unwrap();
    let mut saved_bytes = 0;
    for start in (0..DOCS).step_by(200) {
        let docs: Vec<Automerge> = (start..start + 200).map(|n| case_document(n, 40)).collect();
        let batch: Vec<_> = docs
            .iter()
            .enumerate()
            .map(|(i, doc)| (doc_id(start + i), doc, index(start + i)))
            .collect();
        for report in store.save_batch(&batch).unwrap() {
            saved_bytes += report.bytes_written;
        }
        // The server acknowledged two thirds of them.
        for (i, doc) in docs.iter().enumerate() {
            if !(start + i).is_multiple_of(3) {
                store
                    .acknowledge(&doc_id(start + i), &doc.get_heads())
                    .unwrap();
            }
        }
    }
    let pending = store.pending().unwrap().len();
    // Make the acknowledgements durable too (they are not flushed by themselves).
    store.next_sequence("bench").unwrap();
    println!(
        "{DOCS} documents, {:.1} MB of snapshots, {pending} pending",
        saved_bytes as f64 / 1_000_000.0
    );
    if die {
        println!("ready");
        std::io::stdout().flush().unwrap();
        std::thread::sleep(Duration::from_secs(600));
    }
}

fn touch(path: &Path) {
    let store = SledStore::open(path).unwrap();
    for n in (0..DOCS).step_by(DOCS / 100) {
        let mut doc = store.load(&doc_id(n)).unwrap().unwrap().doc;
        let mut tx = doc.transaction();
        tx.put(ROOT, "gross_kg", 55_000).unwrap();
        tx.commit();
        store.save(&doc_id(n), &doc, &index(n)).unwrap();
    }
    println!("ready");
    std::io::stdout().flush().unwrap();
    std::thread::sleep(Duration::from_secs(600));
}

fn measure(path: &Path) {
    let (hwm_before, _) = memory_kib();
    let started = Instant::now();
    let store = SledStore::open(path).unwrap();
    let opened = started.elapsed();
    let pending = store.pending().unwrap();
    let listed = started.elapsed();
    let (hwm, rss) = memory_kib();
    println!(
        "open {:.1} ms, open + list pending {:.1} ms ({} pending, goal < 200 ms); peak RSS \
         {:.1} MB (process start {:.1} MB), RSS now {:.1} MB",
        ms(opened),
        ms(listed),
        pending.len(),
        hwm as f64 / 1024.0,
        hwm_before as f64 / 1024.0,
        rss as f64 / 1024.0
    );
}
