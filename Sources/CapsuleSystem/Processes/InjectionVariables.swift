import CapsuleCore

/// Environment variables that make a program load or run code, or read its configuration,
/// from wherever the variable says: the one list of them, and the one rule for passing them
/// to a program (docs/security.md#proc-running-programs).
///
/// A script granted one harmless program and a writable directory could otherwise make that
/// program run the script's code with the process's full authority: `LD_PRELOAD` of a shared
/// object it wrote, `BASH_ENV` of a file it wrote when the program is a shell script,
/// `PYTHONPATH` when it is a Python one, `HOME` when it reads `~/.gitconfig`, `PATH` when it
/// runs other programs by name, `GIT_SSH_COMMAND` for git, and so on.
///
/// **The rule.** A variable this list matches reaches a program's environment (`proc.run`'s
/// `env` and `inherit_env`, a plugin's `host->run_program` env, an isolated plugin's worker)
/// only when the principal has a grant of **exactly that name**, `env:LD_PRELOAD`
/// (`--allow-env=LD_PRELOAD`), or everything (`--allow-all`). A pattern (`env:LD_*`) or a
/// bare `env` grant does not pass it: passing code to a program is a separate decision from
/// reading the host's variables. Named in `env` or `inherit_env: [...]`, an unpassed one is
/// a denial; `inherit_env: true` leaves it out, as it leaves out ungranted variables.
///
/// Sources: glibc's `unsecvars.h` (the variables the loader drops for setuid programs),
/// the dynamic loader's `LD_*`, and the startup, library-path and command variables of the
/// shells, interpreters and tools a granted program commonly is or runs.
package enum InjectionVariables {
    /// One entry of the list: a name, or a prefix when it ends with `*`, and why it is there.
    package struct Entry: Sendable {
        package let pattern: String
        package let why: String
        /// Only a value containing `/` (a path) is refused (`LANG`, `LANGUAGE`, `LC_*`).
        package let onlyPaths: Bool

        init(_ pattern: String, _ why: String, onlyPaths: Bool = false) {
            self.pattern = pattern
            self.why = why
            self.onlyPaths = onlyPaths
        }

        func matches(_ name: String) -> Bool {
            pattern.hasSuffix("*") ? name.hasPrefix(pattern.dropLast()) : name == pattern
        }
    }

    /// The list. Matching is on the exact bytes of the name (Linux names are case-sensitive).
    package static let entries: [Entry] = [
        // The dynamic loader and glibc (unsecvars.h and the rest of LD_*).
        Entry("LD_*", "the dynamic loader preloads, audits and searches libraries from it (LD_PRELOAD, LD_AUDIT, LD_LIBRARY_PATH)"),
        Entry("GLIBC_TUNABLES", "glibc's tunables change the loader and malloc"),
        Entry("MALLOC_*", "glibc's malloc reads hooks, checks and a trace file from it"),
        Entry("GCONV_PATH", "glibc loads iconv modules (shared objects) from it"),
        Entry("GETCONF_DIR", "getconf runs programs from it"),
        Entry("LOCPATH", "glibc reads locale files from it"),
        Entry("NLSPATH", "catgets reads message catalogs (format strings) from it"),
        Entry("NIS_PATH", "NIS lookups follow it"),
        Entry("HOSTALIASES", "the resolver reads host aliases from it"),
        Entry("LOCALDOMAIN", "it changes the resolver's search domains"),
        Entry("RES_OPTIONS", "it changes the resolver's options"),
        Entry("RESOLV_HOST_CONF", "the resolver reads its configuration from it"),
        Entry("TMPDIR", "programs create their temporary files there"),
        Entry("TZDIR", "glibc reads time zone files from it"),
        Entry("LANG", "a locale name with a / is a path glibc and gettext read from", onlyPaths: true),
        Entry("LANGUAGE", "a locale name with a / is a path gettext reads catalogs (format strings) from", onlyPaths: true),
        Entry("LC_*", "a locale name with a / is a path glibc and gettext read from", onlyPaths: true),
        Entry("DYLD_*", "the macOS dynamic loader's variables"),
        // Where programs are found and configuration is read.
        Entry("PATH", "programs it runs by name are looked up there"),
        Entry("HOME", "programs read their configuration from it (~/.gitconfig, ~/.zshenv, ~/.curlrc)"),
        Entry("XDG_*", "programs read their configuration and data from it"),
        Entry("SHELL", "programs run commands with it"),
        Entry("EDITOR", "programs run it"),
        Entry("VISUAL", "programs run it"),
        Entry("PAGER", "programs run it"),
        Entry("MANPAGER", "man runs it"),
        Entry("BROWSER", "programs run it"),
        Entry("SSH_ASKPASS", "ssh runs it"),
        Entry("SUDO_ASKPASS", "sudo runs it"),
        Entry("LESS*", "less runs LESSOPEN and LESSCLOSE and reads key files from it"),
        Entry("TERMINFO", "curses reads terminal descriptions from it"),
        Entry("TERMINFO_DIRS", "curses reads terminal descriptions from it"),
        Entry("INPUTRC", "readline reads its key bindings from it"),
        Entry("OPENSSL_*", "OpenSSL reads its configuration (which loads engines and providers) and modules from it"),
        Entry("CURL_HOME", "curl reads .curlrc from it"),
        Entry("WGETRC", "wget reads its configuration from it"),
        Entry("GNUPGHOME", "gpg reads its configuration from it"),
        Entry("MAKEFILES", "make reads these makefiles first"),
        Entry("MAKEFLAGS", "make takes options and variable definitions from it"),
        Entry("GNUMAKEFLAGS", "make takes options and variable definitions from it"),
        Entry("MFLAGS", "make takes options from it"),
        // Shells.
        Entry("BASH_ENV", "bash runs this file first in scripts"),
        Entry("ENV", "sh runs this file first"),
        Entry("BASH_FUNC_*", "bash imports exported functions from it"),
        Entry("SHELLOPTS", "it sets bash's options (xtrace with PS4 runs commands)"),
        Entry("BASHOPTS", "it sets bash's options"),
        Entry("PS4", "bash expands it, running command substitutions, under xtrace"),
        Entry("PROMPT_COMMAND", "bash runs it"),
        Entry("IFS", "it changes how shells split words"),
        Entry("CDPATH", "it changes where a shell's cd goes"),
        Entry("GLOBIGNORE", "it changes bash's globbing"),
        Entry("ZDOTDIR", "zsh runs its startup files (.zshenv) from it, in scripts too"),
        // Interpreters and runtimes.
        Entry("PYTHON*", "Python imports modules and runs startup files from it (PYTHONPATH, PYTHONSTARTUP, PYTHONHOME)"),
        Entry("PERL*", "Perl loads modules and takes options from it (PERL5LIB, PERL5OPT)"),
        Entry("RUBY*", "Ruby loads libraries and takes options from it (RUBYLIB, RUBYOPT)"),
        Entry("GEM_*", "Ruby loads gems from it"),
        Entry("BUNDLE_*", "Bundler loads its Gemfile and configuration from it"),
        Entry("NODE_*", "Node.js takes options and loads modules from it (NODE_OPTIONS --require, NODE_PATH)"),
        Entry("NPM_CONFIG_*", "npm takes configuration (scripts, shells) from it"),
        Entry("npm_config_*", "npm takes configuration (scripts, shells) from it"),
        Entry("LUA_*", "Lua runs LUA_INIT and loads modules from it"),
        Entry("TCLLIBPATH", "Tcl loads packages from it"),
        Entry("PHPRC", "PHP reads its configuration from it"),
        Entry("PHP_INI_SCAN_DIR", "PHP reads its configuration from it"),
        Entry("CLASSPATH", "Java loads classes from it"),
        Entry("JAVA_TOOL_OPTIONS", "the JVM takes options (agents) from it"),
        Entry("_JAVA_OPTIONS", "the JVM takes options (agents) from it"),
        Entry("JDK_JAVA_OPTIONS", "the JVM takes options (agents) from it"),
        Entry("DOTNET_*", ".NET loads startup hooks and takes options from it"),
        Entry("CORECLR_*", ".NET loads profilers from it"),
        Entry("COMPlus_*", ".NET takes options from it"),
        Entry("TCL_LIBRARY", "Tcl runs init.tcl from it"),
        Entry("TK_LIBRARY", "Tk runs its scripts from it"),
        Entry("GUILE_*", "Guile loads modules from it"),
        Entry("R_PROFILE*", "R runs this profile first"),
        Entry("R_ENVIRON*", "R reads its environment file from it"),
        Entry("R_LIBS*", "R loads packages from it"),
        Entry("JULIA_*", "Julia loads code and takes options from it"),
        Entry("AWKPATH", "gawk finds its -f programs there"),
        Entry("AWKLIBPATH", "gawk loads extensions (shared objects) from it"),
        Entry("JAVA_HOME", "launchers run the java it names"),
        Entry("MAVEN_OPTS", "the JVM takes options (agents) from it"),
        Entry("GRADLE_OPTS", "the JVM takes options (agents) from it"),
        Entry("ANT_OPTS", "the JVM takes options (agents) from it"),
        Entry("GOFLAGS", "go takes flags (-toolexec) from it"),
        Entry("GOENV", "go reads its configuration from it"),
        Entry("GOTOOLCHAIN", "go downloads and runs the toolchain it names"),
        Entry("GOROOT", "go runs its tools from it"),
        Entry("GOPATH", "go builds and runs code from it"),
        Entry("GOPROXY", "go downloads modules from it"),
        Entry("CARGO_*", "cargo runs programs and reads configuration from it"),
        Entry("RUST*", "rustc and rustup run programs and take flags from it (RUSTC_WRAPPER, RUSTFLAGS, RUSTUP_TOOLCHAIN)"),
        Entry("PIP_*", "pip takes its configuration (index, options) from it"),
        // Editors, pagers and GUI toolkits that load or run what a variable names.
        Entry("VIMINIT", "vim runs these commands first"),
        Entry("EXINIT", "vi runs these commands first"),
        Entry("MYVIMRC", "vim reads its configuration from it"),
        Entry("VIMRUNTIME", "vim runs its scripts from it"),
        Entry("FCEDIT", "the shell's fc runs it"),
        Entry("SYSTEMD_*", "systemd tools run SYSTEMD_PAGER and SYSTEMD_EDITOR"),
        Entry("GTK_*", "GTK loads modules (shared objects) from it"),
        Entry("GIO_*", "GIO loads modules (shared objects) from it"),
        Entry("GST_*", "GStreamer loads plugins (shared objects) from it"),
        Entry("QT_*", "Qt loads plugins (shared objects) from it"),
        Entry("LIBGL_*", "Mesa loads drivers (shared objects) from it"),
        Entry("VK_*", "the Vulkan loader loads layers and drivers (shared objects) from it"),
        Entry("__EGL_VENDOR_LIBRARY_*", "libglvnd loads EGL vendor libraries from it"),
        Entry("SANE_CONFIG_DIR", "SANE loads backends named by its configuration"),
        Entry("MAGIC", "libmagic reads its database from it"),
        Entry("SSLKEYLOGFILE", "TLS libraries write session keys to it"),
        // Archivers and compressors that take options (and so programs to run) from variables.
        Entry("TAR_OPTIONS", "tar takes options from it (--to-command, --use-compress-program)"),
        Entry("GZIP", "gzip takes options from it"),
        Entry("XZ_OPT", "xz takes options from it"),
        Entry("XZ_DEFAULTS", "xz takes options from it"),
        Entry("BZIP", "bzip2 takes options from it"),
        Entry("BZIP2", "bzip2 takes options from it"),
        Entry("ZIPOPT", "zip takes options from it"),
        Entry("UNZIP", "unzip takes options from it"),
        // Tools that run programs named in variables.
        Entry("GIT_*", "git runs programs and reads configuration from it (GIT_SSH_COMMAND, GIT_EXEC_PATH, GIT_CONFIG_*, GIT_DIR)"),
        Entry("HG*", "Mercurial reads configuration (hooks) and runs editors from it (HGRCPATH, HGEDITOR)"),
        Entry("SVN_*", "Subversion runs SVN_SSH and SVN_EDITOR"),
        Entry("CVS_RSH", "cvs runs it"),
        Entry("RSYNC_RSH", "rsync runs it"),
        Entry("RSYNC_CONNECT_PROG", "rsync runs it"),
        Entry("CCACHE_*", "ccache runs CCACHE_PREFIX and reads its configuration from it"),
        Entry("DISTCC_*", "distcc runs programs and reads configuration from it"),
    ]

    /// The entry that refuses `name=value`, or nil when it may be passed freely.
    package static func entry(name: String, value: String) -> Entry? {
        entries.first { $0.matches(name) && (!$0.onlyPaths || value.utf8.contains(UInt8(ascii: "/"))) }
    }

    /// Whether `policy` lets `principal` pass `name` to a program: `--allow-all`, or a grant
    /// of exactly `env:NAME` (no pattern, not bare `env`).
    package static func isPassable(_ name: String, by principal: Principal, policy: Policy) -> Bool {
        policy.allowsAll || policy.grants(of: principal).contains { $0.kind == .env && $0.resource == name }
    }

    /// The denial for passing `name=value` to `program`, or nil when it may be passed (not
    /// listed, or granted by name). A denial is recorded in the audit log as `env:NAME`, the
    /// grant that would allow it (so `capsule policy suggest` proposes exactly that).
    package static func refusal(name: String, value: String, program: String, by principal: Principal,
                                enforcer: CapabilityEnforcer) -> String? {
        guard let entry = entry(name: name, value: value) else { return nil }
        let request = Capability(.env, name)
        if isPassable(name, by: principal, policy: enforcer.policy) { return nil }
        let kind = entry.pattern.hasSuffix("*") ? "a \(entry.pattern) variable" : entry.pattern
        let reason = "in the environment of \(Capability.sanitized(program)), \(kind) can make it run code or read configuration "
            + "chosen by whoever sets it: \(entry.why)\(entry.onlyPaths ? " (this value has a /)" : ""); "
            + "pass it only with a grant of exactly this name: \(Policy.hint(for: request, to: principal))"
        return enforcer.deny(request, by: principal, reason: reason).message
    }

    /// The first denial among `environment`'s variables (see `refusal`), or nil.
    package static func refusal(in environment: [(String, String)], program: String, by principal: Principal,
                                enforcer: CapabilityEnforcer) -> String? {
        for (name, value) in environment {
            if let denial = refusal(name: name, value: value, program: program, by: principal, enforcer: enforcer) { return denial }
        }
        return nil
    }
}
