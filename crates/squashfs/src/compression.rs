//! Block codecs: the compression ids of the format, per-thread compressors
//! for writing, bounded decompression for reading, and the optional
//! compressor-options block that follows the superblock.

use crate::bytes::{GetLe, PutLe};
use crate::error::{Error, Result};
use std::cell::RefCell;
use std::io::Read;

/// A compression algorithm as named by the superblock's compression id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Codec {
    Gzip,
    Lzma,
    Lzo,
    Xz,
    Lz4,
    Zstd,
}

impl Codec {
    pub fn id(self) -> u16 {
        match self {
            Codec::Gzip => 1,
            Codec::Lzma => 2,
            Codec::Lzo => 3,
            Codec::Xz => 4,
            Codec::Lz4 => 5,
            Codec::Zstd => 6,
        }
    }

    pub fn from_id(id: u16) -> Result<Codec> {
        Ok(match id {
            1 => Codec::Gzip,
            2 => Codec::Lzma,
            3 => Codec::Lzo,
            4 => Codec::Xz,
            5 => Codec::Lz4,
            6 => Codec::Zstd,
            other => return Err(Error::Unsupported(format!("compression id {other}"))),
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Codec::Gzip => "gzip",
            Codec::Lzma => "lzma",
            Codec::Lzo => "lzo",
            Codec::Xz => "xz",
            Codec::Lz4 => "lz4",
            Codec::Zstd => "zstd",
        }
    }

    /// The level used when none is asked for (mksquashfs's choices, except
    /// zstd where level 3 is far faster than its 15 for a small size cost).
    pub fn default_level(self) -> Option<i32> {
        match self {
            Codec::Gzip => Some(9),
            Codec::Xz => Some(6),
            Codec::Zstd => Some(3),
            Codec::Lz4 | Codec::Lzma | Codec::Lzo => None,
        }
    }

    /// The accepted range of levels, or `None` when the codec has no level.
    pub fn level_range(self) -> Option<std::ops::RangeInclusive<i32>> {
        match self {
            Codec::Gzip => Some(1..=9),
            Codec::Xz => Some(0..=9),
            Codec::Zstd => Some(1..=22),
            Codec::Lz4 | Codec::Lzma | Codec::Lzo => None,
        }
    }

    /// Decompresses `input` into `output`, never writing more than
    /// `output.len()` bytes; returns the decompressed length.
    pub fn decompress(self, input: &[u8], output: &mut [u8]) -> Result<usize> {
        let bad = |what: String| Error::Corrupt(format!("{} block: {what}", self.name()));
        match self {
            Codec::Zstd => ZSTD_DECOMPRESSOR.with(|d| {
                d.borrow_mut()
                    .decompress_to_buffer(input, output)
                    .map_err(|e| bad(e.to_string()))
            }),
            Codec::Gzip => read_bounded(flate2::read::ZlibDecoder::new(input), output, bad),
            Codec::Xz => {
                // A crafted header may ask for a huge dictionary: cap memory.
                let stream = liblzma::stream::Stream::new_stream_decoder(XZ_MEMORY_LIMIT, 0)
                    .map_err(|e| bad(e.to_string()))?;
                read_bounded(
                    liblzma::read::XzDecoder::new_stream(input, stream),
                    output,
                    bad,
                )
            }
            Codec::Lz4 => {
                lz4_flex::block::decompress_into(input, output).map_err(|e| bad(e.to_string()))
            }
            Codec::Lzma | Codec::Lzo => Err(Error::Unsupported(format!(
                "{} images cannot be read",
                self.name()
            ))),
        }
    }
}

/// Most memory an xz decoder may use: dictionaries are at most one block
/// (1 MiB), so this leaves a wide margin while refusing absurd headers.
const XZ_MEMORY_LIMIT: u64 = 64 << 20;

thread_local! {
    static ZSTD_DECOMPRESSOR: RefCell<zstd::bulk::Decompressor<'static>> =
        RefCell::new(zstd::bulk::Decompressor::new().expect("zstd context"));
}

/// Drains a streaming decoder into `output`, failing if it has more to give.
fn read_bounded(
    mut decoder: impl Read,
    output: &mut [u8],
    bad: impl Fn(String) -> Error,
) -> Result<usize> {
    let mut filled = 0;
    loop {
        if filled == output.len() {
            let mut probe = [0u8; 1];
            return match decoder.read(&mut probe) {
                Ok(0) => Ok(filled),
                Ok(_) => Err(bad("decompresses past the block size".into())),
                Err(e) => Err(bad(e.to_string())),
            };
        }
        match decoder.read(&mut output[filled..]) {
            Ok(0) => return Ok(filled),
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(bad(e.to_string())),
        }
    }
}

/// The compressor-options block stored after the superblock when the
/// `COMPRESSOR_OPTIONS` flag is set, decoded per codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressorOptions {
    Gzip {
        level: u32,
        window_bits: u16,
        strategies: u16,
    },
    Xz {
        dict_size: u32,
        filters: u32,
    },
    Lz4 {
        version: u32,
        flags: u32,
    },
    Zstd {
        level: u32,
    },
    Lzo {
        algorithm: u32,
        level: u32,
    },
}

impl CompressorOptions {
    /// Decodes the (unpacked) options block of `codec`.
    pub fn decode(codec: Codec, mut raw: &[u8]) -> Result<CompressorOptions> {
        let r = &mut raw;
        let options = match codec {
            Codec::Gzip => CompressorOptions::Gzip {
                level: r.get_u32()?,
                window_bits: r.get_u16()?,
                strategies: r.get_u16()?,
            },
            Codec::Xz => CompressorOptions::Xz {
                dict_size: r.get_u32()?,
                filters: r.get_u32()?,
            },
            Codec::Lz4 => CompressorOptions::Lz4 {
                version: r.get_u32()?,
                flags: r.get_u32()?,
            },
            Codec::Zstd => CompressorOptions::Zstd {
                level: r.get_u32()?,
            },
            Codec::Lzo => CompressorOptions::Lzo {
                algorithm: r.get_u32()?,
                level: r.get_u32()?,
            },
            Codec::Lzma => return Err(Error::Corrupt("lzma takes no compressor options".into())),
        };
        Ok(options)
    }
}

impl std::fmt::Display for CompressorOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompressorOptions::Gzip {
                level,
                window_bits,
                strategies,
            } => write!(
                f,
                "level {level}, window bits {window_bits}, strategies {strategies:#x}"
            ),
            CompressorOptions::Xz { dict_size, filters } => {
                write!(f, "dictionary size {dict_size}, filters {filters:#x}")
            }
            CompressorOptions::Lz4 { version, flags } => {
                write!(f, "version {version}, flags {flags:#x}")
            }
            CompressorOptions::Zstd { level } => write!(f, "level {level}"),
            CompressorOptions::Lzo { algorithm, level } => {
                write!(f, "algorithm {algorithm}, level {level}")
            }
        }
    }
}

/// What the writer compresses with: codec, level and the image block size
/// (xz sizes its dictionary from it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompressionSpec {
    pub codec: Codec,
    pub level: Option<i32>,
    pub block_size: u32,
    /// Store every block uncompressed (the codec is still recorded).
    pub raw: bool,
}

impl CompressionSpec {
    /// The compressor-options block stored after the superblock, if this
    /// setup needs one (lz4 always does; others only when not default).
    pub fn options_block(&self) -> Option<Vec<u8>> {
        let mut b = Vec::new();
        match self.codec {
            Codec::Zstd => b.put_u32(self.level.or(self.codec.default_level())? as u32),
            Codec::Gzip if self.level != Some(9) => {
                b.put_u32(self.level? as u32);
                b.put_u16(15); // window bits
                b.put_u16(0); // no extra strategies, as mksquashfs writes
            }
            Codec::Lz4 => {
                b.put_u32(1); // LZ4_LEGACY format
                b.put_u32(0); // no high-compression flag
            }
            _ => return None,
        }
        Some(b)
    }

    pub fn compressor(&self) -> Result<Compressor> {
        if self.raw {
            return Ok(Compressor { state: State::Raw });
        }
        let level = self.level.or(self.codec.default_level()).unwrap_or(0);
        let state = match self.codec {
            Codec::Zstd => State::Zstd(
                zstd::bulk::Compressor::new(level).map_err(|e| Error::Compress(e.to_string()))?,
            ),
            Codec::Gzip => State::Gzip(flate2::Compress::new(
                flate2::Compression::new(level as u32),
                true,
            )),
            Codec::Xz => State::Xz {
                preset: level as u32,
                dict_size: self.block_size.max(8192),
            },
            Codec::Lz4 => State::Lz4,
            Codec::Lzma | Codec::Lzo => {
                return Err(Error::Unsupported(format!(
                    "cannot write {} images",
                    self.codec.name()
                )))
            }
        };
        Ok(Compressor { state })
    }
}

enum State {
    Zstd(zstd::bulk::Compressor<'static>),
    Gzip(flate2::Compress),
    Xz { preset: u32, dict_size: u32 },
    Lz4,
    Raw,
}

/// A reusable compressor, one per thread.
pub struct Compressor {
    state: State,
}

impl Compressor {
    /// Compresses `input` into `out` (cleared first). Returns `false` when
    /// the result would not be smaller than the input: the caller then
    /// stores the block raw, as the format allows.
    pub fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<bool> {
        out.clear();
        let room = input.len().saturating_sub(1);
        match &mut self.state {
            State::Zstd(c) => {
                out.reserve(room);
                // A too-small destination is the "not smaller" answer.
                Ok(c.compress_to_buffer(input, out).is_ok() && out.len() < input.len())
            }
            State::Gzip(c) => {
                c.reset();
                out.reserve(room);
                let status = c
                    .compress_vec(input, out, flate2::FlushCompress::Finish)
                    .map_err(|e| Error::Compress(e.to_string()))?;
                Ok(status == flate2::Status::StreamEnd && out.len() < input.len())
            }
            State::Xz { preset, dict_size } => {
                let mut opts = liblzma::stream::LzmaOptions::new_preset(*preset)
                    .map_err(|e| Error::Compress(e.to_string()))?;
                opts.dict_size(*dict_size);
                let mut filters = liblzma::stream::Filters::new();
                filters.lzma2(&opts);
                let stream = liblzma::stream::Stream::new_stream_encoder(
                    &filters,
                    liblzma::stream::Check::Crc32,
                )
                .map_err(|e| Error::Compress(e.to_string()))?;
                let mut enc = liblzma::read::XzEncoder::new_stream(input, stream);
                enc.read_to_end(out)?;
                Ok(out.len() < input.len())
            }
            State::Lz4 => {
                out.resize(lz4_flex::block::get_maximum_output_size(input.len()), 0);
                let n = lz4_flex::block::compress_into(input, out)
                    .map_err(|e| Error::Compress(e.to_string()))?;
                out.truncate(n);
                Ok(n < input.len())
            }
            State::Raw => Ok(false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_writable_codec_round_trips() {
        let data: Vec<u8> = (0..200_000u32)
            .map(|i| (i % 251) as u8 ^ (i / 977) as u8)
            .collect();
        for codec in [Codec::Zstd, Codec::Gzip, Codec::Xz, Codec::Lz4] {
            let spec = CompressionSpec {
                codec,
                level: None,
                block_size: 262144,
                raw: false,
            };
            let mut c = spec.compressor().unwrap();
            let mut out = Vec::new();
            assert!(
                c.compress(&data, &mut out).unwrap(),
                "{codec:?} should shrink"
            );
            let mut back = vec![0u8; data.len()];
            assert_eq!(codec.decompress(&out, &mut back).unwrap(), data.len());
            assert_eq!(back, data);
            let mut small = vec![0u8; data.len() - 1];
            assert!(
                codec.decompress(&out, &mut small).is_err(),
                "{codec:?} overflow"
            );
        }
    }

    #[test]
    fn incompressible_input_is_reported() {
        let mut x = 0x1234_5678u64;
        let noise: Vec<u8> = (0..4096)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let spec = CompressionSpec {
            codec: Codec::Zstd,
            level: Some(3),
            block_size: 4096,
            raw: false,
        };
        let mut out = Vec::new();
        assert!(!spec
            .compressor()
            .unwrap()
            .compress(&noise, &mut out)
            .unwrap());
    }

    #[test]
    fn written_options_decode() {
        let spec = CompressionSpec {
            codec: Codec::Gzip,
            level: Some(6),
            block_size: 131072,
            raw: false,
        };
        let block = spec.options_block().unwrap();
        assert_eq!(
            CompressorOptions::decode(Codec::Gzip, &block).unwrap(),
            CompressorOptions::Gzip {
                level: 6,
                window_bits: 15,
                strategies: 0
            }
        );
        assert!(CompressorOptions::decode(Codec::Zstd, &[1, 0]).is_err());
    }

    #[test]
    fn garbage_does_not_decompress() {
        let mut out = vec![0u8; 4096];
        for codec in [Codec::Zstd, Codec::Gzip, Codec::Xz, Codec::Lz4] {
            assert!(
                codec.decompress(&[0xff; 64], &mut out).is_err(),
                "{codec:?}"
            );
        }
    }
}
