//! Environment modules with real Lmod (Lua and Tcl modulefiles) and real
//! Environment Modules, as an unprivileged user, with modulefiles that end with the snippet of
//! `bale modulefile`: `module load` mounts the software image, `module
//! unload` and `module purge` release it, dependencies mount and release
//! both, two users share one mount, `show`/`avail` mount nothing, and only
//! a strict site fails a load whose image cannot be mounted.

mod support;

use support::frame;
use support::modules::{ModulePath, System};
use support::{ok, stderr};

/// Test `test`'s module name for `system`, distinct across parallel tests.
fn name(test: &str, system: System) -> String {
    format!("mod-{test}-{system:?}").to_lowercase()
}

fn lines(text: &[&str]) -> String {
    text.join("\n")
}

#[test]
fn modulefile_prints_the_snippet_with_bales_path() {
    let bale = support::bale_path();
    for (flag, call) in [("--lmod", "subprocess("), ("--tcl", "exec {")] {
        let snippet = ok(support::bale().args(["modulefile", flag]).output().unwrap());
        assert!(snippet.contains(call), "{snippet}");
        assert!(snippet.contains(&bale.display().to_string()), "{snippet}");
        for placeholder in ["@BALE@", "@MODULE@"] {
            assert!(
                !snippet.contains(placeholder),
                "{placeholder} left: {snippet}"
            );
        }
        let named = ok(support::bale()
            .args(["modulefile", flag, "gcc/6.1.0"])
            .output()
            .unwrap());
        assert!(named.contains("gcc/6.1.0"), "{named}");
    }
    let out = support::bale()
        .args(["modulefile", "--tcl", "gcc/6{1}"])
        .output()
        .unwrap();
    let complaint = frame::refusal(&out, 1);
    assert!(complaint.starts_with("bale: gcc/6{1}: "), "{complaint}");
}

#[test]
fn load_mounts_and_unload_and_purge_release() {
    let _site = frame::site();
    for system in System::ALL {
        let name = name("load", system);
        let (target, _mounts) = frame::guarded_module(&name);
        let path = ModulePath::new(system, "load");
        path.add(&name, "");
        let t = target.display();
        let out = path.shell(
            "bale-test",
            &[],
            &format!(
                "module load {name}/1.0\ncheck {t} loaded\ncat {t}/bin/hello\n\
                 case :$PATH: in *:{t}/bin:*) echo on PATH;; esac\n\
                 echo \"BALE_MODULES=$BALE_MODULES\"\n\
                 module unload {name}/1.0\ncheck {t} unloaded\n\
                 echo \"BALE_MODULES=${{BALE_MODULES:-}}\"\n\
                 module load {name}/1.0\ncheck {t} reloaded\n\
                 module purge\ncheck {t} purged"
            ),
        );
        assert_eq!(
            ok(out),
            lines(&[
                "loaded mounted",
                &format!("hello from {name}"),
                "on PATH",
                &format!("BALE_MODULES={name}/1.0"),
                "unloaded not mounted",
                "BALE_MODULES=",
                "reloaded mounted",
                "purged not mounted",
            ]),
            "{system:?}"
        );
        assert!(frame::loops_below(&frame::images().join(&name)).is_empty());
    }
}

#[test]
fn a_dependency_is_mounted_and_released_with_its_dependent() {
    let _site = frame::site();
    for system in System::ALL {
        let (a, b) = (name("dep-a", system), name("dep-b", system));
        let (target_a, _mounts_a) = frame::guarded_module(&a);
        let (target_b, _mounts_b) = frame::guarded_module(&b);
        let path = ModulePath::new(system, "dep");
        path.add(&a, "");
        path.add(&b, &system.depends_on(&format!("{a}/1.0")));
        let (ta, tb) = (target_a.display(), target_b.display());
        let out = path.shell(
            "bale-test",
            &[],
            &format!(
                "module load {b}/1.0\ncheck {ta} a\ncheck {tb} b\n\
                 module unload {b}/1.0\ncheck {ta} a\ncheck {tb} b\n\
                 module load {b}/1.0\nmodule purge\ncheck {ta} a\ncheck {tb} b"
            ),
        );
        assert_eq!(
            ok(out),
            lines(&[
                "a mounted",
                "b mounted",
                "a not mounted",
                "b not mounted",
                "a not mounted",
                "b not mounted",
            ]),
            "{system:?}"
        );
    }
}

#[test]
fn two_users_share_a_mount_until_the_last_unloads() {
    let _site = frame::site();
    for system in System::ALL {
        let name = name("share", system);
        let (target, _mounts) = frame::guarded_module(&name);
        let path = ModulePath::new(system, "share");
        path.add(&name, "");
        let t = target.display();
        // bale-test's shell ends with the module loaded: its mount stays.
        ok(path.shell("bale-test", &[], &format!("module load {name}/1.0")));
        let other = path.shell(
            "bale-other",
            &[],
            &format!(
                "module load {name}/1.0\ncat {t}/bin/hello\n\
                 module unload {name}/1.0\ncheck {t} 'bale-test still uses it:'"
            ),
        );
        assert_eq!(
            ok(other),
            lines(&[
                &format!("hello from {name}"),
                "bale-test still uses it: mounted"
            ]),
            "{system:?}"
        );
        let last = path.shell(
            "bale-test",
            &[],
            &format!("module load {name}/1.0\nmodule unload {name}/1.0\ncheck {t} last"),
        );
        assert_eq!(ok(last), "last not mounted", "{system:?}");
    }
}

#[test]
fn show_avail_whatis_and_help_mount_nothing() {
    let _site = frame::site();
    for system in System::ALL {
        let name = name("show", system);
        let (target, _mounts) = frame::guarded_module(&name);
        let path = ModulePath::new(system, "show");
        path.add(&name, "");
        let spider = match system {
            System::EnvMod => String::new(),
            System::Lmod | System::LmodTcl => format!("module spider {name}/1.0"),
        };
        let out = path.shell(
            "bale-test",
            &[],
            &format!(
                "module show {name}/1.0\nmodule avail\nmodule whatis {name}/1.0\n\
                 module help {name}/1.0\n{spider}\ncheck {} after 2>/dev/null",
                target.display()
            ),
        );
        // `module avail` lists the module on stderr: it was evaluated.
        assert!(stderr(&out).contains(&name), "{system:?}: {}", stderr(&out));
        assert_eq!(ok(out), "after not mounted", "{system:?}");
    }
}

#[test]
fn only_a_strict_site_fails_a_load_whose_image_cannot_be_mounted() {
    let site = frame::site();
    let strict = frame::strict_config(&site);
    let strict_env = format!("BALE_CONFIG={}", strict.path().display());
    for system in System::ALL {
        let name = name("strict", system);
        let (target, _mounts) = frame::guarded_module(&name);
        // The module's directory is gone: the image cannot be mounted there.
        std::fs::remove_dir_all(&target).unwrap();
        let path = ModulePath::new(system, "strict");
        path.add(&name, "");
        let script =
            format!("module load {name}/1.0\necho \"status $? loaded ${{LOADEDMODULES:-}}\"");
        let lenient = path.shell("bale-test", &[], &script);
        assert_eq!(
            ok(lenient),
            format!("status 0 loaded {name}/1.0"),
            "{system:?}"
        );
        let out = path.shell("bale-test", &[&strict_env], &script);
        assert_eq!(ok(out.clone()), "status 1 loaded", "{system:?}");
        // Module systems wrap long messages: compare words.
        let said = stderr(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            said.contains(&format!("bale: module-hook: {name}/1.0: ")),
            "{system:?}: {said}"
        );
    }
}
