//! Crash tests of the sled store: a child process (this test binary, re-run with an
//! environment variable) saves in a loop and prints a line after every save that returned; the
//! parent kills it with SIGKILL at random points, reopens the store and checks that every
//! change reported saved is there.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use automerge::Automerge;
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use zhichao_core::store::{DocStore, IndexEntry, SledStore};

use super::{append, id, values};

/// Set to the store directory in the child.
const CHILD_ENV: &str = "ZHICHAO_STORE_CRASH_CHILD";
const DOCS: u8 = 3;
const KILLS: usize = 100;
const SEQUENCE: &str = "case:K7Q2";

/// The child: not a test of its own (ignored, and returns at once unless [`CHILD_ENV`] is
/// set); the parent runs it with `--ignored`.
#[test]
#[ignore = "child process of every_save_reported_before_a_sigkill_survives"]
fn crash_child_writer() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let store = SledStore::open(Path::new(&dir)).expect("child opens the store");
    let mut docs: Vec<Automerge> = (0..DOCS)
        .map(|d| {
            store
                .load(&id(d))
                .expect("child loads")
                .map_or_else(Automerge::new, |l| l.doc)
        })
        .collect();
    let mut out = std::io::stdout().lock();
    writeln!(out, "open").unwrap();
    out.flush().unwrap();
    let index = |len: usize| IndexEntry::new("case").with("len", len.to_string());
    // Bounded, so that an orphaned child ends by itself.
    for round in 0..5_000u32 {
        if round % 5 == 4 {
            // Group commit: one append to every document, one flush.
            for doc in &mut docs {
                let next = values(doc).len() as i64;
                append(doc, next);
            }
            let batch: Vec<_> = docs
                .iter()
                .enumerate()
                .map(|(d, doc)| (id(d as u8), doc, index(values(doc).len())))
                .collect();
            store.save_batch(&batch).expect("child batch-saves");
            for (d, doc) in docs.iter().enumerate() {
                writeln!(out, "saved {d} {}", values(doc).len() - 1).unwrap();
            }
        } else {
            let d = (round % u32::from(DOCS)) as usize;
            let next = values(&docs[d]).len() as i64;
            append(&mut docs[d], next);
            store
                .save(&id(d as u8), &docs[d], &index(next as usize + 1))
                .expect("child saves");
            writeln!(out, "saved {d} {next}").unwrap();
        }
        if round % 7 == 0 {
            let n = store.next_sequence(SEQUENCE).expect("child counts");
            writeln!(out, "seq {n}").unwrap();
        }
        out.flush().unwrap();
    }
}

#[derive(Default)]
struct Reported {
    /// Highest value reported saved per document.
    saved: [Option<i64>; DOCS as usize],
    /// Highest sequence value handed out.
    sequence: u64,
}

impl Reported {
    fn record(&mut self, line: &str) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["saved", d, v] => {
                let (d, v): (usize, i64) = (d.parse().unwrap(), v.parse().unwrap());
                self.saved[d] = self.saved[d].max(Some(v));
            }
            ["seq", n] => self.sequence = self.sequence.max(n.parse().unwrap()),
            _ => {}
        }
    }
}

#[test]
fn every_save_reported_before_a_sigkill_survives() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let seed: u64 = std::env::var("ZHICHAO_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| rand::rng().random());
    let mut rng = StdRng::seed_from_u64(seed);
    let mut reported = Reported::default();
    let started = Instant::now();
    let mut mid_save_kills = 0;

    for kill in 0..KILLS {
        let mut child = Command::new(&exe)
            .args([
                "--exact",
                "store::crash::crash_child_writer",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel::<String>();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });

        // Kill after a random number of saves (0: possibly while opening), a random moment
        // later.
        let saves_before_kill = rng.random_range(0..12usize);
        let mut saves = 0;
        let deadline = Instant::now() + Duration::from_secs(20);
        while saves < saves_before_kill && Instant::now() < deadline {
            match rx.recv_timeout(Duration::from_secs(20)) {
                Ok(line) => {
                    if line.starts_with("saved") {
                        saves += 1;
                    }
                    reported.record(&line);
                }
                Err(_) => break,
            }
        }
        std::thread::sleep(Duration::from_micros(rng.random_range(0..3_000)));
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        // Lines printed before the kill were printed after their save returned.
        for line in rx.try_iter() {
            reported.record(&line);
        }
        if saves_before_kill > 0 {
            mid_save_kills += 1;
        }

        let store = SledStore::open(dir.path()).unwrap_or_else(|e| {
            panic!("store does not reopen after kill {kill} (seed {seed}): {e}")
        });
        for d in 0..DOCS {
            let stored = match store.load(&id(d)).unwrap() {
                Some(loaded) => {
                    assert!(
                        loaded.report.is_complete(),
                        "damage after kill {kill} (seed {seed}): {:?}",
                        loaded.report
                    );
                    values(&loaded.doc)
                }
                None => Vec::new(),
            };
            // Values are appended in order, so the stored list is 0..len, and covers every
            // value reported saved.
            assert_eq!(
                stored,
                (0..stored.len() as i64).collect::<Vec<_>>(),
                "doc {d} after kill {kill} (seed {seed})"
            );
            if let Some(max) = reported.saved[d as usize] {
                assert!(
                    (stored.len() as i64) > max,
                    "doc {d} lost saved value {max} after kill {kill} (seed {seed}): {} stored",
                    stored.len()
                );
                assert!(store.pending().unwrap().contains(&id(d)));
                assert!(
                    store
                        .find("len", &stored.len().to_string())
                        .unwrap()
                        .contains(&id(d)),
                    "index entry of doc {d} after kill {kill} (seed {seed})"
                );
            }
        }
        // The counter never hands out a value twice.
        let next = store.next_sequence(SEQUENCE).unwrap();
        assert!(
            next > reported.sequence,
            "sequence went back after kill {kill} (seed {seed})"
        );
        reported.sequence = next;
    }
    let total: i64 = reported.saved.iter().map(|s| s.unwrap_or(-1) + 1).sum();
    assert!(
        mid_save_kills >= KILLS / 2,
        "{mid_save_kills} kills during saves"
    );
    assert!(total > 0, "no save was reported");
    eprintln!(
        "{KILLS} kills (seed {seed}) in {:.1} s, {total} values saved",
        started.elapsed().as_secs_f64()
    );
}
