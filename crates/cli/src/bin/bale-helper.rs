//! `bale-helper`: the privileged helper binary (see the `bale-helper`
//! crate). Install it as `/usr/sbin/bale-helper`, root-owned, through a
//! sudo rule or setuid root (docs/admin.md).

fn main() -> std::process::ExitCode {
    bale_helper::main()
}
