//! Parquet row groups written from Arrow arrays, each column with the
//! encoding the caller chose and all columns encoded in parallel.
//!
//! polars' frame writer turns every text column into a dictionary by hashing
//! each value (after estimating its cardinality by hashing it once more), and
//! builds plain pages lazily on the thread that writes the file. A table
//! whose text is already held as codes into lists of distinct values (the
//! incidents) is written here instead, as Arrow dictionary arrays: the codes
//! become the Parquet dictionary indices as they are. The file is the same
//! to a reader (the Arrow schema in its footer still says `String`; the
//! column chunks are dictionary-encoded, as polars writes them).

use std::io::Write;

use polars::io::parquet::write::BatchedWriter;
use polars::prelude::{PolarsError, PolarsResult};
use polars_arrow::array::{Array, DictionaryArray, MutableBinaryViewArray, PrimitiveArray};
use polars_arrow::bitmap::MutableBitmap;
use polars_arrow::datatypes::{ArrowDataType, IntegerType};
use polars_parquet::write::{
    array_to_columns, compress, get_dtype_encoding, CompressedPage, CompressionOptions, Encoding, ParquetType,
    StatisticsOptions, Version, WriteOptions,
};
use rayon::prelude::*;
use rustc_hash::FxHashMap;

/// One column of a row group: its values and how to encode them.
pub struct ColumnChunk {
    pub array: Box<dyn Array>,
    /// One per Parquet leaf column (a struct has one per field).
    pub encodings: Vec<Encoding>,
}

impl ColumnChunk {
    /// A primitive column (integers, floats), encoded as polars encodes it
    /// (integers as a dictionary when their range is small, floats plain).
    pub fn primitive<T: polars_arrow::types::NativeType>(array: PrimitiveArray<T>) -> ColumnChunk {
        ColumnChunk::as_polars_would(Box::new(array))
    }

    /// Any column, each leaf encoded as polars encodes it (a struct of
    /// floats: every field plain).
    pub fn as_polars_would(array: Box<dyn Array>) -> ColumnChunk {
        let encodings = get_dtype_encoding(array.dtype());
        ColumnChunk { array, encodings }
    }

    /// Text with few repeats (ids): plain, not tried as a dictionary.
    pub fn plain_text(values: MutableBinaryViewArray<str>) -> ColumnChunk {
        ColumnChunk::plain(values.freeze().boxed())
    }

    /// A column of one leaf written plain (ids, WKB): not tried as a dictionary.
    pub fn plain(array: Box<dyn Array>) -> ColumnChunk {
        ColumnChunk {
            array,
            encodings: vec![Encoding::Plain],
        }
    }
}

/// Write options as polars' `ParquetWriter` uses them, uncompressed.
pub fn options_uncompressed() -> WriteOptions {
    WriteOptions {
        statistics: StatisticsOptions::default(),
        compression: CompressionOptions::Uncompressed,
        version: Version::V1,
        data_page_size: None,
    }
}

/// Encodes one column's pages, per Parquet leaf column (a struct has one
/// leaf per field).
fn encode(chunk: &ColumnChunk, field: &ParquetType, options: WriteOptions) -> PolarsResult<Vec<Vec<CompressedPage>>> {
    let mut leaves = Vec::new();
    for leaf in array_to_columns(chunk.array.as_ref(), field.clone(), options, &chunk.encodings)? {
        let mut pages = Vec::new();
        for page in leaf {
            pages.push(compress(page?, Vec::new(), options.compression).map_err(PolarsError::from)?);
        }
        leaves.push(pages);
    }
    Ok(leaves)
}

/// Builds (in parallel, each by its closure) and writes one row group of
/// `rows` rows to `writer`, whose schema the columns follow in order. Each
/// column is encoded as soon as it is built and its array dropped, so only
/// the encoded pages of the group are held at once.
pub fn write_row_group<W: Write>(
    writer: &mut BatchedWriter<W>,
    rows: usize,
    columns: &[Box<dyn Fn() -> ColumnChunk + Sync + '_>],
    options: WriteOptions,
) -> PolarsResult<()> {
    let fields = writer.parquet_schema().fields().to_vec();
    if fields.len() != columns.len() {
        return Err(PolarsError::ShapeMismatch(
            format!(
                "row group of {} columns for a schema of {}",
                columns.len(),
                fields.len()
            )
            .into(),
        ));
    }
    let pages = columns
        .par_iter()
        .zip(&fields)
        .map(|(build, field)| {
            let chunk = build();
            if chunk.array.len() != rows {
                return Err(PolarsError::ShapeMismatch(
                    format!("column `{}` has {} rows, not {rows}", field.name(), chunk.array.len()).into(),
                ));
            }
            encode(&chunk, field, options)
        })
        .collect::<PolarsResult<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    writer.write_row_group(rows as u64, &pages)
}

/// A dictionary-encoded text column being built: keys into the distinct
/// values pushed so far, in order of first use (so the dictionary holds only
/// values that occur, and the column's statistics are exact).
pub struct DictColumn<'a> {
    index: FxHashMap<&'a str, u32>,
    values: MutableBinaryViewArray<str>,
    keys: Vec<u32>,
    validity: MutableBitmap,
}

impl<'a> DictColumn<'a> {
    pub fn with_capacity(rows: usize) -> DictColumn<'a> {
        DictColumn {
            index: FxHashMap::default(),
            values: MutableBinaryViewArray::new(),
            keys: Vec::with_capacity(rows),
            validity: MutableBitmap::with_capacity(rows),
        }
    }

    /// The key of `value`, adding it to the dictionary if new.
    pub fn key(&mut self, value: &'a str) -> u32 {
        if let Some(&k) = self.index.get(value) {
            return k;
        }
        let k = self.values.len() as u32;
        self.values.push_value(value);
        self.index.insert(value, k);
        k
    }

    /// Appends a row: a key from [`DictColumn::key`], or null.
    #[inline]
    pub fn push(&mut self, key: Option<u32>) {
        self.keys.push(key.unwrap_or(0));
        self.validity.push(key.is_some());
    }

    /// The column, as an Arrow `Dictionary<UInt32, Utf8View>` array.
    pub fn finish(mut self) -> ColumnChunk {
        if self.values.len() == 0 {
            // Every row is null: key 0 must still index a value.
            self.values.push_value("");
        }
        let validity = (self.validity.unset_bits() > 0).then(|| self.validity.into());
        let keys = PrimitiveArray::<u32>::new(ArrowDataType::UInt32, self.keys.into(), validity);
        let dtype = ArrowDataType::Dictionary(IntegerType::UInt32, Box::new(ArrowDataType::Utf8View), false);
        let array = DictionaryArray::try_new(dtype, keys, self.values.freeze().boxed())
            .expect("keys come from DictColumn::key, so index its values");
        ColumnChunk {
            array: Box::new(array),
            encodings: vec![Encoding::RleDictionary],
        }
    }
}

/// Maps codes into one list of values (a file's distinct locations, the
/// ward list) to keys of a [`DictColumn`], looking each code's value up once.
pub struct Remap(Vec<u32>);

impl Remap {
    const UNSEEN: u32 = u32::MAX;

    /// For codes `0..len`.
    pub fn new(len: usize) -> Remap {
        Remap(vec![Self::UNSEEN; len])
    }

    /// The key in `column` of `code`, whose value is `value(code)`.
    #[inline]
    pub fn key<'a>(&mut self, column: &mut DictColumn<'a>, code: u32, value: impl FnOnce(u32) -> &'a str) -> u32 {
        let slot = &mut self.0[code as usize];
        if *slot == Self::UNSEEN {
            *slot = column.key(value(code));
        }
        *slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polars::prelude::*;

    /// Writes a two-column table (a dictionary text column with nulls, an
    /// integer column) in two row groups, and reads it back with polars.
    #[test]
    fn dictionary_columns_read_back_as_the_text_they_code() {
        let dir = std::env::temp_dir().join(format!("hotspots-rg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.parquet");
        let schema = Schema::from_iter([
            Field::new("name".into(), DataType::String),
            Field::new("n".into(), DataType::UInt32),
        ]);
        let file = std::fs::File::create(&path).unwrap();
        let mut writer = ParquetWriter::new(file).batched(&schema).unwrap();
        let groups: [&[Option<&str>]; 2] = [&[Some("b"), None, Some("a"), Some("b")], &[None, None]];
        for rows in groups {
            let name = || {
                let mut c = DictColumn::with_capacity(rows.len());
                for v in rows {
                    let k = v.map(|s| c.key(s));
                    c.push(k);
                }
                c.finish()
            };
            let n = || ColumnChunk::primitive(PrimitiveArray::from_vec((0..rows.len() as u32).collect()));
            let columns: Vec<Box<dyn Fn() -> ColumnChunk + Sync>> = vec![Box::new(name), Box::new(n)];
            write_row_group(&mut writer, rows.len(), &columns, options_uncompressed()).unwrap();
        }
        writer.finish().unwrap();
        let df = ParquetReader::new(std::fs::File::open(&path).unwrap())
            .finish()
            .unwrap();
        let names: Vec<Option<&str>> = df.column("name").unwrap().str().unwrap().iter().collect();
        assert_eq!(names, [Some("b"), None, Some("a"), Some("b"), None, None]);
        assert_eq!(df.column("name").unwrap().dtype(), &DataType::String);
        let n: Vec<Option<u32>> = df.column("n").unwrap().u32().unwrap().iter().collect();
        assert_eq!(n, [Some(0), Some(1), Some(2), Some(3), Some(0), Some(1)]);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn a_row_group_of_the_wrong_shape_is_an_error() {
        let dir = std::env::temp_dir().join(format!("hotspots-rg-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let schema = Schema::from_iter([Field::new("n".into(), DataType::UInt32)]);
        let file = std::fs::File::create(dir.join("t.parquet")).unwrap();
        let mut writer = ParquetWriter::new(file).batched(&schema).unwrap();
        let n = || ColumnChunk::primitive(PrimitiveArray::from_vec(vec![1u32, 2]));
        let columns: Vec<Box<dyn Fn() -> ColumnChunk + Sync>> = vec![Box::new(n)];
        assert!(write_row_group(&mut writer, 3, &columns, options_uncompressed()).is_err());
        std::fs::remove_dir_all(&dir).ok();
    }
}
