//! A pipeline that stops on the first error (Go's `errgroup`, Trio's
//! nursery): a reader feeds jobs to workers through a bounded channel, the
//! workers feed results to a summer; the first job that fails cancels
//! every other thread of the pipeline, wherever it is parked, and is the
//! pipeline's result. See `docs/whole-program.md`.
//!
//! ```text
//! printf '1\n2\nsleep 3600\nx\n4\n' | cargo run --example first_error
//! ```
//!
//! Each input line is a job: a number (its square is summed), `sleep N`
//! (a slow job: N seconds, then 0), or anything else (an error). The
//! lines come from standard input, read with `verdant::io::stdin` (which
//! parks instead of blocking the worker).

use std::fmt;
use std::time::Duration;

use verdant::sync::mpsc::{channel, sync_channel};

/// Why the pipeline stopped.
#[derive(Debug, PartialEq, Eq)]
pub enum PipelineError {
    /// A job that is neither a number nor `sleep N`: its line number and
    /// text.
    BadJob(usize, String),
    /// Reading the input failed.
    Input(String),
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PipelineError::BadJob(n, text) => write!(f, "line {n}: not a job: {text:?}"),
            PipelineError::Input(e) => write!(f, "reading the input: {e}"),
        }
    }
}

fn job(n: usize, line: &str) -> Result<u64, PipelineError> {
    if let Some(secs) = line.strip_prefix("sleep ").and_then(|s| s.trim().parse().ok()) {
        verdant::sleep(Duration::from_secs(secs));
        return Ok(0);
    }
    let x: u64 = line
        .trim()
        .parse()
        .map_err(|_| PipelineError::BadJob(n, line.to_string()))?;
    Ok(x * x)
}

/// Runs every line of `input` through `workers` workers and sums the
/// results; the first error cancels the rest of the pipeline and is
/// returned.
pub fn pipeline<I>(input: I, workers: usize) -> Result<u64, PipelineError>
where
    I: IntoIterator<Item = std::io::Result<String>> + Send,
    I::IntoIter: Send,
{
    let (jobs_tx, jobs_rx) = sync_channel::<(usize, String)>(workers);
    let jobs_rx = verdant::sync::Mutex::new(jobs_rx); // shared by the workers
    let (results_tx, results_rx) = channel::<u64>();
    verdant::try_scope(|s| {
        s.spawn(move || {
            for (i, line) in input.into_iter().enumerate() {
                let line = line.map_err(|e| PipelineError::Input(e.to_string()))?;
                if jobs_tx.send((i + 1, line)).is_err() {
                    break; // the workers are gone
                }
            }
            Ok(()) // dropping jobs_tx ends the workers' loops
        });
        for _ in 0..workers {
            let (jobs_rx, results_tx) = (&jobs_rx, results_tx.clone());
            s.spawn(move || loop {
                let next = jobs_rx.lock().unwrap().recv();
                let Ok((n, line)) = next else { return Ok(()) };
                let _ = results_tx.send(job(n, &line)?);
            });
        }
        drop(results_tx);
        // The summer is the scope's body: the sum once every worker is done.
        Ok(results_rx.iter().sum())
    })
}

#[allow(dead_code)] // tests/whole_program.rs uses `pipeline` only
fn main() {
    // One line per call: a `StdinLock` stays on its thread, the lines go to
    // the pipeline's reader thread.
    let lines = std::iter::from_fn(|| {
        let mut line = String::new();
        match verdant::io::stdin().read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => Some(Ok(line.trim_end().to_string())),
            Err(e) => Some(Err(e)),
        }
    });
    let h = verdant::spawn(move || pipeline(lines, 4));
    match h.join().expect("the pipeline does not panic") {
        Ok(sum) => println!("sum of squares: {sum}"),
        Err(e) => {
            eprintln!("stopped: {e}");
            std::process::exit(1);
        }
    }
}
