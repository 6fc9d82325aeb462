//! Real module systems for the tests: Lmod (installed by `scripts/test.sh`)
//! and Environment Modules (unpacked by `scripts/install-envmod.sh`, as the
//! two Debian packages conflict), modulefiles that end with the snippet
//! `bale modulefile` prints, and clean login-less shells that use them as an
//! unprivileged user.

use super::frame;
use std::path::{Path, PathBuf};
use std::process::Output;

/// Where `scripts/test.sh` unpacks Environment Modules.
const ENVMOD: &str = "/opt/bale-test/envmod";

#[derive(Clone, Copy, Debug)]
pub enum System {
    /// Lmod, with Lua modulefiles.
    Lmod,
    /// Environment Modules, with Tcl modulefiles.
    EnvMod,
    /// Lmod, with Tcl modulefiles (it translates them to Lua).
    LmodTcl,
}

impl System {
    pub const ALL: [System; 3] = [System::Lmod, System::EnvMod, System::LmodTcl];

    /// The shell code that defines `module`.
    fn init(self) -> PathBuf {
        let init = match self {
            System::Lmod | System::LmodTcl => PathBuf::from("/usr/share/lmod/lmod/init/bash"),
            System::EnvMod => Path::new(ENVMOD).join("usr/share/modules/init/bash"),
        };
        assert!(
            init.is_file(),
            "{} is missing: run scripts/test.sh (it installs Lmod and Environment Modules)",
            init.display()
        );
        init
    }

    /// The line of a modulefile that needs (and so loads) `module`
    /// (Lmod's `prereq` only checks).
    pub fn depends_on(self, module: &str) -> String {
        match self {
            System::Lmod => format!("depends_on(\"{module}\")"),
            System::EnvMod => format!("prereq {module}"),
            System::LmodTcl => format!("module load {module}"),
        }
    }

    fn lua(self) -> bool {
        matches!(self, System::Lmod)
    }

    fn header(self, bin: &Path) -> String {
        if self.lua() {
            format!("prepend_path(\"PATH\", \"{}\")\n", bin.display())
        } else {
            format!("#%Module\nprepend-path PATH {}\n", bin.display())
        }
    }

    fn file(self, module: &str) -> String {
        if self.lua() {
            format!("{module}.lua")
        } else {
            module.to_string()
        }
    }

    fn flag(self) -> &'static str {
        if self.lua() {
            "--lmod"
        } else {
            "--tcl"
        }
    }
}

/// A fresh modulefile directory for one test, the `MODULEPATH` of its shells.
pub struct ModulePath {
    pub system: System,
    dir: PathBuf,
}

impl ModulePath {
    pub fn new(system: System, test: &str) -> ModulePath {
        let dir = frame::base()
            .join("modulefiles")
            .join(format!("{test}-{system:?}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        ModulePath { system, dir }
    }

    /// Modulefile `name/1.0` for the software module of that name: it puts
    /// the module's `bin` on `PATH`, has the `extra` lines, and ends with
    /// the snippet of `bale modulefile`.
    pub fn add(&self, name: &str, extra: &str) {
        let module = format!("{name}/1.0");
        let snippet = super::ok(
            super::bale()
                .args(["modulefile", self.system.flag()])
                .output()
                .unwrap(),
        );
        let bin = frame::versions().join(&module).join("bin");
        let text = format!("{}{extra}\n{snippet}\n", self.system.header(&bin));
        let file = self.dir.join(self.system.file(&module));
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        super::run_ok("chmod", &["-R", "go+rX", self.dir.to_str().unwrap()]);
    }

    /// Runs `script` in a clean bash as `user` (environment `env`, `K=V`
    /// each) with `module` defined and this `MODULEPATH`. The script may
    /// call `check DIR LABEL`, which prints `LABEL mounted` or `LABEL not
    /// mounted`.
    pub fn shell(&self, user: &str, env: &[&str], script: &str) -> Output {
        let home = frame::base().join("home").join(user);
        let mut args = vec![
            "-i".to_string(),
            "PATH=/usr/local/bin:/usr/bin:/bin".into(),
            format!("HOME={}", home.display()),
            format!("USER={user}"),
        ];
        args.extend(env.iter().map(|e| e.to_string()));
        args.extend(["bash", "--norc", "--noprofile", "-c"].map(String::from));
        args.push(format!(
            ". {init}\nexport MODULEPATH={dir}\n\
             check() {{ if mountpoint -q \"$1\"; then echo \"$2 mounted\"; else echo \"$2 not mounted\"; fi; }}\n\
             {script}",
            init = self.system.init().display(),
            dir = self.dir.display(),
        ));
        std::fs::create_dir_all(&home).unwrap();
        super::run_ok("chown", &[&format!("{user}:"), home.to_str().unwrap()]);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        frame::as_user(user, "env", &args)
    }
}
