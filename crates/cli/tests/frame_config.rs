//! `bale config`: the effective site configuration and where each value
//! came from (default, file, environment).

mod support;

use support::{bale, succeed};

#[test]
fn config_shows_values_and_their_sources() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("site.toml");
    std::fs::write(
        &file,
        "image_path = \"/pfs/IMAGES\"\nloop_budget = 8\nmax_user_image_size = \"1536M\"\n",
    )
    .unwrap();
    let stdout = succeed(
        bale()
            .arg("config")
            .env("BALE_CONFIG", &file)
            .env("SI_MOUNT_PATH", "/env/VERSIONS")
            .env_remove("SI_IMAGE_PATH")
            .env_remove("SI_USR_MOUNT_PATH"),
    );
    let text = String::from_utf8_lossy(&stdout);
    let shown = file.display();
    for line in [
        format!("image_path = \"/pfs/IMAGES\"  # file {shown}"),
        "mount_path = \"/env/VERSIONS\"  # environment SI_MOUNT_PATH".to_string(),
        "usr_mount_path = \"/var/run/user_images\"  # default".to_string(),
        format!("loop_budget = 8  # file {shown}"),
        // As written in the file, so a line can be copied back into it.
        format!("max_user_image_size = \"1536M\"  # file {shown}"),
        "backends = [\"kernel\", \"fuse\"]  # default".to_string(),
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}

#[test]
fn a_bad_config_is_one_line_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "backends = [\"nfs\"]\n").unwrap();
    let out = bale()
        .arg("config")
        .env("BALE_CONFIG", &file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("bale: {}: ", file.display())),
        "{err}"
    );
    // A file that is not there: the variable that named it is named too
    // (a user may not know it is set).
    let missing = dir.path().join("missing.toml");
    let out = bale()
        .arg("config")
        .env("BALE_CONFIG", &missing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.trim_end(),
        format!(
            "bale: environment BALE_CONFIG: {}: No such file or directory",
            missing.display()
        )
    );
}
