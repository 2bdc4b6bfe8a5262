//! [`CsvConversion`]: a CSV file streamed into one Parquet file or a partitioned dataset.
//!
//! Memory is bounded whatever the file size: the CSV reader holds a few blocks of text, a
//! bounded channel holds at most `queue` batches, and the Parquet writer buffers one row group
//! (per open partition file, capped by the dataset writer's byte budget). With `pipelined` the
//! CSV reader runs on its own thread, so parsing the next batches overlaps encoding and
//! compressing a full row group. The caller drives the conversion in steps
//! ([`CsvConversion::step`]) so it can show progress between them.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use minide_common::{Error, Result};

use super::writer::{DatasetOptions, DatasetWriter, WrittenFile};
use crate::csv::{CsvOptions, CsvReader};
use crate::parquet::writer::{FileWriter, WriteOptions};

/// What the finished conversion did.
#[derive(Clone, Debug)]
pub struct ConversionSummary {
    pub rows: u64,
    pub skipped: u64,
    pub skipped_lines: Vec<u64>,
    pub files: Vec<WrittenFile>,
}

/// Where batches go.
enum Sink {
    File { writer: FileWriter, path: PathBuf },
    Dataset(DatasetWriter),
}

/// The end state of the reader thread: skipped records and their first lines.
type Tally = (u64, Vec<u64>);

enum Source {
    Direct(Box<CsvReader>),
    Piped {
        rx: Receiver<Result<RecordBatch>>,
        bytes_read: Arc<AtomicU64>,
        skipped: Arc<AtomicU64>,
        /// Set by the reader thread when it stops (end of file or error).
        tally: Arc<Mutex<Option<Tally>>>,
        handle: Option<JoinHandle<()>>,
    },
}

pub struct CsvConversion {
    src: PathBuf,
    schema: SchemaRef,
    source: Source,
    sink: Option<Sink>,
    rows: u64,
    done: bool,
}

fn produce(
    mut reader: CsvReader,
    tx: SyncSender<Result<RecordBatch>>,
    bytes_read: Arc<AtomicU64>,
    skipped: Arc<AtomicU64>,
    tally: Arc<Mutex<Option<Tally>>>,
) {
    loop {
        let next = reader.next_batch();
        bytes_read.store(reader.bytes_read(), Ordering::Relaxed);
        skipped.store(reader.skipped(), Ordering::Relaxed);
        let stop = !matches!(next, Ok(Some(_)));
        let item = match next {
            Ok(Some(b)) => Ok(b),
            Ok(None) => break,
            Err(e) => Err(e),
        };
        // A closed channel means the consumer gave up: stop reading.
        if tx.send(item).is_err() || stop {
            break;
        }
    }
    if let Ok(mut t) = tally.lock() {
        *t = Some((reader.skipped(), reader.skipped_lines().to_vec()));
    }
}

impl CsvConversion {
    /// Open `src` (header and type inference happen here). With `pipelined`, a reader thread
    /// parses ahead, at most `queue` batches.
    pub fn open(src: &Path, csv: &CsvOptions, pipelined: bool, queue: usize) -> Result<Self> {
        let reader = CsvReader::open(src, csv)?;
        let schema = reader.schema();
        let source = if pipelined {
            let (tx, rx) = sync_channel(queue.max(1));
            let bytes_read = Arc::new(AtomicU64::new(0));
            let skipped = Arc::new(AtomicU64::new(0));
            let tally = Arc::new(Mutex::new(None));
            let (b, s, t) = (bytes_read.clone(), skipped.clone(), tally.clone());
            let handle = std::thread::Builder::new()
                .name("minide-csv2parquet".into())
                .spawn(move || produce(reader, tx, b, s, t))
                .map_err(|e| Error::io(e, src))?;
            Source::Piped {
                rx,
                bytes_read,
                skipped,
                tally,
                handle: Some(handle),
            }
        } else {
            Source::Direct(Box::new(reader))
        };
        Ok(CsvConversion {
            src: src.to_path_buf(),
            schema,
            source,
            sink: None,
            rows: 0,
            done: false,
        })
    }

    /// The CSV's Arrow schema (given or inferred).
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// Write into one Parquet file at `dst`.
    pub fn start_file(&mut self, dst: &Path, opts: WriteOptions) -> Result<()> {
        self.check_not_started()?;
        let writer = FileWriter::create(dst, self.schema.clone(), opts)?;
        self.sink = Some(Sink::File {
            writer,
            path: dst.to_path_buf(),
        });
        Ok(())
    }

    /// Write into a (partitioned) dataset under `root`.
    pub fn start_dataset(&mut self, root: &Path, opts: DatasetOptions) -> Result<()> {
        self.check_not_started()?;
        self.sink = Some(Sink::Dataset(DatasetWriter::create(
            root,
            self.schema.clone(),
            opts,
        )?));
        Ok(())
    }

    fn check_not_started(&self) -> Result<()> {
        if self.sink.is_some() {
            return Err(Error::invalid("the conversion already has an output"));
        }
        Ok(())
    }

    pub fn rows(&self) -> u64 {
        self.rows
    }

    pub fn bytes_read(&self) -> u64 {
        match &self.source {
            Source::Direct(r) => r.bytes_read(),
            Source::Piped { bytes_read, .. } => bytes_read.load(Ordering::Relaxed),
        }
    }

    pub fn skipped(&self) -> u64 {
        match &self.source {
            Source::Direct(r) => r.skipped(),
            Source::Piped { skipped, .. } => skipped.load(Ordering::Relaxed),
        }
    }

    fn next_batch(&mut self) -> Result<Option<RecordBatch>> {
        match &mut self.source {
            Source::Direct(r) => r.next_batch(),
            // A disconnected channel is the end of the file (the thread stopped after sending
            // its last batch or error).
            Source::Piped { rx, .. } => rx.recv().map_or(Ok(None), |r| r.map(Some)),
        }
    }

    /// Convert up to `max_batches` batches; false once the whole file is written.
    pub fn step(&mut self, max_batches: usize) -> Result<bool> {
        if self.done {
            return Ok(false);
        }
        if self.sink.is_none() {
            return Err(Error::invalid("start the conversion with an output first"));
        }
        for _ in 0..max_batches.max(1) {
            let Some(batch) = self.next_batch().map_err(|e| e.at_path(&self.src))? else {
                self.done = true;
                return Ok(false);
            };
            self.rows += batch.num_rows() as u64;
            match &mut self.sink {
                Some(Sink::File { writer, .. }) => writer.write(&batch)?,
                Some(Sink::Dataset(w)) => w.write(&batch)?,
                None => {}
            }
        }
        Ok(true)
    }

    /// Run to the end and write the footers.
    pub fn finish(mut self) -> Result<ConversionSummary> {
        while self.step(usize::MAX)? {}
        let files = match self.sink.take() {
            Some(Sink::File { writer, path }) => {
                writer.finish()?;
                vec![WrittenFile {
                    path,
                    rows: self.rows,
                }]
            }
            Some(Sink::Dataset(w)) => w.finish()?,
            None => Vec::new(),
        };
        let (skipped, skipped_lines) = match &mut self.source {
            Source::Direct(r) => (r.skipped(), r.skipped_lines().to_vec()),
            Source::Piped { tally, handle, .. } => {
                if let Some(h) = handle.take() {
                    h.join()
                        .map_err(|_| Error::invalid("internal: the CSV reader thread panicked"))?;
                }
                tally
                    .lock()
                    .ok()
                    .and_then(|mut t| t.take())
                    .unwrap_or_default()
            }
        };
        Ok(ConversionSummary {
            rows: self.rows,
            skipped,
            skipped_lines,
            files,
        })
    }
}

impl Drop for CsvConversion {
    fn drop(&mut self) {
        // Unblock and reap the reader thread if the conversion is abandoned midway.
        if let Source::Piped { rx, handle, .. } = &mut self.source {
            while rx.try_recv().is_ok() {}
            let (_tx, dummy) = sync_channel(1);
            drop(std::mem::replace(rx, dummy));
            if let Some(h) = handle.take() {
                let _ = h.join();
            }
        }
    }
}
