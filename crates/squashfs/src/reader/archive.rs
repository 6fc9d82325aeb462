//! Opening an image: superblock, compressor options and the lookup tables,
//! each checked against the image's size before anything is allocated.

use super::cache::CacheOptions;
use super::image::Image;
use super::lookup::LookupTable;
use super::metadata::Stream;
use super::source::ReadAt;
use crate::compression::CompressorOptions;
use crate::error::{corrupt, Error, Result};
use crate::superblock::{flags, Superblock, NO_TABLE, SUPERBLOCK_SIZE};
use crate::tables::FragmentEntry;
use crate::xattr::XattrTableHeader;

/// A squashfs image opened for random access. `Send + Sync`: every method
/// takes `&self`, and the block caches are shared by all threads.
pub struct Archive<R> {
    pub(crate) image: Image<R>,
    options: Option<CompressorOptions>,
    ids: Vec<u32>,
    id_table: Option<LookupTable>,
    fragments: Option<LookupTable>,
    exports: Option<LookupTable>,
    pub(crate) xattrs: Option<XattrTables>,
}

/// The xattr id table and the key/value stream its entries point into.
pub(crate) struct XattrTables {
    pub ids: LookupTable,
    pub stream: Stream,
}

impl<R: ReadAt> Archive<R> {
    /// Opens an image with the default cache sizes.
    pub fn open(source: R) -> Result<Archive<R>> {
        Archive::open_with(source, CacheOptions::default())
    }

    pub fn open_with(source: R, caches: CacheOptions) -> Result<Archive<R>> {
        let mut raw = [0u8; SUPERBLOCK_SIZE];
        source
            .read_exact_at(&mut raw, 0)
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::UnexpectedEof => Error::BadMagic,
                _ => Error::Io(e),
            })?;
        let superblock = Superblock::decode(&raw)?;
        let image = Image::new(source, superblock, caches)?;
        let sb = image.superblock.clone();

        let options = if sb.has_flag(flags::COMPRESSOR_OPTIONS) {
            let block = image.metadata_block(SUPERBLOCK_SIZE as u64, sb.inode_table)?;
            Some(CompressorOptions::decode(sb.codec, &block.bytes)?)
        } else {
            None
        };

        let id_table = match table_at(sb.id_table) {
            None if sb.id_count > 0 => return Err(corrupt("ids counted but no id table")),
            None => None,
            Some(pos) => Some(LookupTable::open(&image, "id", pos, sb.id_count.into(), 4)?),
        };
        let ids = match &id_table {
            None => Vec::new(),
            Some(table) => (0..table.len())
                .map(|i| table.entry::<R, 4>(&image, i).map(u32::from_le_bytes))
                .collect::<Result<_>>()?,
        };

        let fragments = match table_at(sb.fragment_table) {
            None if sb.fragment_count > 0 => {
                return Err(corrupt("fragments counted but no fragment table"))
            }
            None => None,
            Some(pos) => Some(LookupTable::open(
                &image,
                "fragment",
                pos,
                sb.fragment_count.into(),
                FragmentEntry::SIZE,
            )?),
        };

        let exports = match table_at(sb.export_table) {
            None => None,
            Some(pos) => Some(LookupTable::open(
                &image,
                "export",
                pos,
                sb.inode_count.into(),
                8,
            )?),
        };

        let xattrs = match table_at(sb.xattr_id_table) {
            None => None,
            Some(pos) => {
                let header =
                    XattrTableHeader::decode(&image.read_vec(pos, XattrTableHeader::SIZE as u64)?)?;
                if header.table_start > pos {
                    return Err(corrupt("xattr table starts after its id table"));
                }
                let ids = LookupTable::open(
                    &image,
                    "xattr id",
                    pos + XattrTableHeader::SIZE as u64,
                    header.id_count.into(),
                    crate::xattr::XattrId::SIZE,
                )?;
                let stream = Stream {
                    start: header.table_start,
                    end: ids.start(),
                };
                Some(XattrTables { ids, stream })
            }
        };

        Ok(Archive {
            image,
            options,
            ids,
            id_table,
            fragments,
            exports,
            xattrs,
        })
    }
}

/// A table's position, or `None` when the superblock marks it absent.
fn table_at(pos: u64) -> Option<u64> {
    (pos != NO_TABLE).then_some(pos)
}

impl<R: ReadAt> Archive<R> {
    pub fn superblock(&self) -> &Superblock {
        &self.image.superblock
    }

    /// The decoded compressor-options block, when the image has one.
    pub fn compressor_options(&self) -> Option<&CompressorOptions> {
        self.options.as_ref()
    }

    /// The uid/gid table.
    pub fn ids(&self) -> &[u32] {
        &self.ids
    }

    /// Entry `index` of the fragment table.
    pub fn fragment(&self, index: u32) -> Result<FragmentEntry> {
        let table = self
            .fragments
            .as_ref()
            .ok_or_else(|| corrupt("file uses a fragment but the image has none"))?;
        let raw = table.entry::<R, { FragmentEntry::SIZE }>(&self.image, index.into())?;
        FragmentEntry::decode(&raw, self.image.superblock.block_size)
    }

    /// The reference of inode `number`, from the export table.
    pub fn inode_ref_by_number(&self, number: u32) -> Result<Option<u64>> {
        let Some(table) = &self.exports else {
            return Ok(None);
        };
        let index = u64::from(number)
            .checked_sub(1)
            .ok_or_else(|| corrupt("inode number 0"))?;
        Ok(Some(u64::from_le_bytes(
            table.entry::<R, 8>(&self.image, index)?,
        )))
    }

    /// Whether the image has an export table, so that
    /// [`Archive::inode_ref_by_number`] finds every inode.
    pub fn has_export_table(&self) -> bool {
        self.exports.is_some()
    }

    /// Number of entries in the xattr id table.
    pub fn xattr_id_count(&self) -> u64 {
        self.xattrs.as_ref().map_or(0, |x| x.ids.len())
    }

    /// Where each part of the image lies, in order, for reporting.
    pub fn regions(&self) -> Vec<Region> {
        let sb = self.superblock();
        let mut regions = vec![Region {
            name: "inode table",
            start: sb.inode_table,
            end: sb.directory_table,
        }];
        let tables = [
            ("fragment table", self.fragments.as_ref()),
            ("export table", self.exports.as_ref()),
            ("id table", self.id_table.as_ref()),
        ];
        for (name, table) in tables {
            if let Some(t) = table {
                regions.push(Region {
                    name,
                    start: t.start(),
                    end: t.end(),
                });
            }
        }
        if let Some(x) = &self.xattrs {
            regions.push(Region {
                name: "xattr table",
                start: x.stream.start,
                end: x.ids.end(),
            });
        }
        regions.sort_by_key(|r| r.start);
        let directory_end = regions
            .iter()
            .map(|r| r.start)
            .filter(|&s| s > sb.directory_table)
            .fold(sb.bytes_used, u64::min);
        regions.push(Region {
            name: "directory table",
            start: sb.directory_table,
            end: directory_end,
        });
        regions.push(Region {
            name: "data and fragment blocks",
            start: SUPERBLOCK_SIZE as u64,
            end: sb.inode_table,
        });
        regions.sort_by_key(|r| r.start);
        regions
    }
}

/// One named part of the image, `start..end` in absolute bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Region {
    pub name: &'static str,
    pub start: u64,
    pub end: u64,
}
