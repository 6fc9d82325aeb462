//! One module per subcommand.

pub mod pack;
