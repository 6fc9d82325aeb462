//! Reader tests against real images made by `mksquashfs` (squashfs-tools
//! must be installed): exact read-back of generated trees, and mutated or
//! truncated images that must fail cleanly and quickly.

mod contents;
mod damage_named;
mod fixture;
mod inode_numbers;
mod loops;
mod mutation;
mod paths;
mod properties;
