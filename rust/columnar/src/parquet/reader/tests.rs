use super::*;
use crate::parquet::writer::{WriteOptions, write_file};
use arrow_array::{Array, Int64Array, StringArray};
use arrow_schema::{DataType, Field};

fn sample(path: &Path) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("s", DataType::Utf8, true),
        Field::new("i", DataType::Int64, false),
    ]));
    let s = StringArray::from(vec![Some("a"), None, Some("b"), Some("a")]);
    let i = Int64Array::from(vec![5, 3, 9, 1]);
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(s), Arc::new(i)]).unwrap();
    write_file(
        path,
        schema,
        std::iter::once(Ok(batch.clone())),
        WriteOptions::default(),
    )
    .unwrap();
    batch
}

/// Rewrite a file's footer after `edit` changed its metadata.
fn rewrite_footer(path: &Path, edit: impl FnOnce(&mut FileMetaData)) {
    let pf = ParquetFile::open(path).unwrap();
    let mut meta = pf.metadata.clone();
    // Act as another writer would: no minide footer checksum.
    meta.key_value_metadata
        .retain(|(k, _)| k != super::super::metadata::FOOTER_CRC_KEY);
    edit(&mut meta);
    let data = std::fs::read(path).unwrap();
    let mut out = data[..pf.footer_start as usize].to_vec();
    let mut w = thrift::Writer::new();
    meta.write(&mut w);
    let footer = w.into_bytes();
    out.extend_from_slice(&footer);
    out.extend_from_slice(&(footer.len() as u32).to_le_bytes());
    out.extend_from_slice(b"PAR1");
    std::fs::write(path, out).unwrap();
}

#[test]
fn dictionary_page_offset_zero_reads_from_data_page_offset() {
    let dir = std::env::temp_dir().join(format!("minide-dict0-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("d.parquet");
    let want = sample(&path);
    rewrite_footer(&path, |m| {
        for c in &mut m.row_groups[0].columns {
            let md = c.meta_data.as_mut().unwrap();
            if let Some(d) = md.dictionary_page_offset {
                // As some writers do: the dictionary page sits at data_page_offset and the
                // dictionary offset field is 0.
                md.data_page_offset = d;
                md.dictionary_page_offset = Some(0);
            }
        }
    });
    let pf = ParquetFile::open(&path).unwrap();
    let got = pf.read_row_group(0, &[0, 1], 1).unwrap();
    assert_eq!(got.column(0).to_data(), want.column(0).to_data());
    assert_eq!(got.column(1).to_data(), want.column(1).to_data());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn footer_checksum_detects_any_footer_change() {
    let dir = std::env::temp_dir().join(format!("minide-fcrc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("f.parquet");
    sample(&path);
    let data = std::fs::read(&path).unwrap();
    let pf = ParquetFile::open(&path).unwrap();
    let start = pf.footer_start as usize;
    let end = data.len() - 8;
    let mut detected = 0;
    for off in start..end {
        let mut d = data.clone();
        d[off] ^= 0x04;
        std::fs::write(&path, &d).unwrap();
        match ParquetFile::open(&path) {
            Err(Error::Corrupt { .. }) => detected += 1,
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
    }
    // Only flips inside the checksum key or the created_by text (+ their length bytes) skip it.
    let key =
        super::super::metadata::FOOTER_CRC_KEY.len() + crate::parquet::writer::CREATED_BY.len() + 2;
    assert!(
        detected >= end - start - key,
        "{detected} of {}",
        end - start
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn row_counts_must_agree() {
    let dir = std::env::temp_dir().join(format!("minide-rows-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("r.parquet");
    sample(&path);
    rewrite_footer(&path, |m| m.row_groups[0].num_rows = 5);
    let e = ParquetFile::open(&path).err().unwrap();
    assert!(e.to_string().contains("rows"), "{e}");
    sample(&path);
    rewrite_footer(&path, |m| {
        m.row_groups[0].num_rows = 5;
        m.num_rows = 5;
    });
    let pf = ParquetFile::open(&path).unwrap();
    let e = pf.read_row_group(0, &[0], 1).err().unwrap();
    assert!(matches!(e, Error::Corrupt { .. }), "{e}");
    assert!(pf.read_column(0, 1).is_err());
    let _ = pf.read_column(0, 0).map(|a| a.len());
    std::fs::remove_dir_all(&dir).unwrap();
}
