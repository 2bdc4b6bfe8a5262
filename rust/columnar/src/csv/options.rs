//! What a CSV read is asked to do: [`CsvOptions`] (delimiter, quote, header, schema, nulls,
//! batch size, threads, what to do with bad lines) and their checks. Split from `reader.rs`.

use arrow_schema::SchemaRef;
use minide_common::{Error, Result};

const MAX_THREADS: usize = 256;

/// What to do with a record that has the wrong number of fields or a value that does not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBadLines {
    Error,
    Skip,
}

/// Options of [`CsvReader::open`] and [`read_csv`]; defaults match `minide.columnar.read_csv`.
#[derive(Clone, Debug)]
pub struct CsvOptions {
    pub delimiter: u8,
    pub quote: u8,
    pub header: bool,
    pub null_values: Vec<Vec<u8>>,
    pub infer_rows: usize,
    pub on_bad_lines: OnBadLines,
    pub batch_size: usize,
    /// Explicit schema: with a header, columns are picked by name (a subset, in schema order);
    /// without, by position.
    pub schema: Option<SchemaRef>,
    /// Decode threads; 1 decodes in the calling thread.
    pub threads: usize,
}

impl Default for CsvOptions {
    fn default() -> Self {
        CsvOptions {
            delimiter: b',',
            quote: b'"',
            header: true,
            null_values: vec![Vec::new()],
            infer_rows: 10_000,
            on_bad_lines: OnBadLines::Error,
            batch_size: 65_536,
            schema: None,
            threads: 1,
        }
    }
}

impl CsvOptions {
    pub(super) fn validate(&self) -> Result<()> {
        for (what, b) in [("delimiter", self.delimiter), ("quote", self.quote)] {
            if !b.is_ascii() || b == b'\n' || b == b'\r' {
                return Err(Error::invalid(format!(
                    "{what} must be one ASCII character other than a newline, got {:?}",
                    b as char
                )));
            }
        }
        if self.delimiter == self.quote {
            return Err(Error::invalid("delimiter and quote must differ"));
        }
        if self.batch_size == 0 {
            return Err(Error::invalid("batch_size must be at least 1"));
        }
        if self.threads == 0 || self.threads > MAX_THREADS {
            return Err(Error::invalid(format!(
                "threads must be between 1 and {MAX_THREADS}, got {}",
                self.threads
            )));
        }
        Ok(())
    }
}
