//! Every decision of the helper goes to syslog (facility authpriv, tag
//! `bale-helper`) with the caller's uid and user name, the request and the
//! outcome: an allowed mount, a refusal (rule and reason) and a failure,
//! caught by the stand-in `/dev/log` of the test site.

mod support;

use std::path::Path;
use support::frame::{self, bale_as, helper_as, refusal, Mounts, Syslog};
use support::{ok, run_ok};

const USER: &str = "bale-test";
/// `<PRI>` of authpriv.notice: facility 10, severity 5.
const AUTHPRIV_NOTICE: &str = "<85>";

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The helper's message whose text starts with `start` (after the tag),
/// asserting it came from `bale-helper` as authpriv.notice.
fn logged(syslog: &Syslog, start: &str) -> String {
    let messages = syslog.messages();
    let found = messages
        .iter()
        .find(|m| {
            m.split_once("]: ")
                .is_some_and(|(_, text)| text.starts_with(start))
        })
        .unwrap_or_else(|| panic!("no message starting {start:?} in {messages:#?}"));
    assert!(found.starts_with(AUTHPRIV_NOTICE), "{found}");
    assert!(found.contains(" bale-helper["), "{found}");
    found.split_once("]: ").unwrap().1.to_string()
}

fn caller() -> String {
    format!("uid {} ({USER})", frame::uid(USER))
}

#[test]
fn an_allowed_mount_is_logged_with_the_caller_and_the_request() {
    let site = frame::site();
    let home = frame::user_dir(USER, "syslog-allowed");
    let mp = frame::user_mounts().join(USER).join("syslog-allowed");
    let _m = Mounts {
        prefixes: vec![home.clone(), mp.clone()],
    };
    let image = frame::squashfs_image(&home, "logged.sqfs");
    run_ok("chmod", &["644", s(&image)]);
    let syslog = Syslog::capture(&site);
    ok(bale_as(USER, &["mount", s(&image), s(&mp)]));
    let text = logged(&syslog, &format!("allowed {}: ", caller()));
    assert_eq!(
        text,
        format!(
            "allowed {}: mount image {} on {}: {}",
            caller(),
            s(&image),
            s(&mp),
            s(&mp)
        )
    );
    ok(bale_as(USER, &["umount", s(&mp)]));
    logged(
        &syslog,
        &format!("allowed {}: umount mount point {}", caller(), s(&mp)),
    );
}

#[test]
fn a_refusal_is_logged_with_the_rule_and_the_reason() {
    let site = frame::site();
    let syslog = Syslog::capture(&site);
    let out = helper_as(USER, &["mount", "--module", "../etc"]);
    let line = refusal(&out, 3);
    let reason = line.trim_end().strip_prefix("bale-helper: ").unwrap();
    assert!(
        reason.starts_with("refused by rule module-name: "),
        "{line}"
    );
    let text = logged(&syslog, &format!("refused {}: ", caller()));
    assert_eq!(
        text,
        format!("refused {}: mount module \"../etc\": {reason}", caller())
    );
}

#[test]
fn a_failure_is_logged_with_its_reason() {
    let site = frame::site();
    let syslog = Syslog::capture(&site);
    let out = helper_as(USER, &["mount", "--module", "syslog-none/1.0"]);
    let line = refusal(&out, 1);
    let reason = line.trim_end().strip_prefix("bale-helper: ").unwrap();
    let missing = frame::images().join("syslog-none");
    assert!(
        reason.starts_with(&format!("{}: ", s(&missing))),
        "names the file: {line}"
    );
    let text = logged(&syslog, &format!("failed {}: ", caller()));
    assert_eq!(
        text,
        format!(
            "failed {}: mount module \"syslog-none/1.0\": {reason}",
            caller()
        )
    );
}

/// A newline in a caller's path cannot split the entry or forge a second
/// one: it is logged escaped, in the one entry of the request.
#[test]
fn a_newline_in_a_path_cannot_forge_an_entry() {
    let site = frame::site();
    let syslog = Syslog::capture(&site);
    let forged = "/nonexistent\nallowed uid 0 (root): mount image /etc/x.sqfs";
    let out = helper_as(
        USER,
        &[
            "mount",
            "--image",
            forged,
            "--mountpoint",
            "/nonexistent-mp",
        ],
    );
    assert!(!out.status.success());
    let messages = syslog.messages();
    assert!(
        messages
            .iter()
            .any(|m| m.contains(&format!("{}: ", caller()))
                && m.contains("/nonexistent\\nallowed uid 0")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().all(|m| !m.contains("]: allowed uid 0")),
        "{messages:#?}"
    );
}
