//! The pack engine: turns a directory tree into a squashfs image.
