#if canImport(Glibc)
import Glibc
#endif

/// Reading a plugin's descriptor without running any of its code in this process: the
/// vetting path of `capsule plugin inspect` and `capsule plugin build`
/// (docs/security.md#inspecting-a-plugin).
extension IsolatedPlugin {
    /// Starts a worker on a private copy of the file at `path` with no grants (no path, no
    /// port, an empty environment), lets it load the plugin under its first-stage lockdown
    /// and send the descriptor, stops it before `init`, and checks the descriptor as an
    /// import would. The plugin's constructors and entry function run only in that worker;
    /// whatever they do (write files, start threads, crash, hang) ends with it.
    ///
    /// Never falls back to loading the plugin in this process: where isolation is
    /// unavailable, inspecting fails and says why.
    static func inspect(path: String, settings: IsolationSettings = IsolationSettings()) -> Result<PluginManifest, PluginLoadError> {
        func refuse(_ reason: String) -> Result<PluginManifest, PluginLoadError> {
            .failure(PluginLoadError(path: path, reason: reason))
        }
        let executable = workerExecutable(settings)
        guard access(executable, X_OK) == 0 else {
            return refuse("cannot read the plugin safely: it is read only in a locked-down worker, and there is no worker executable at \(executable) (swift build builds capsule-worker; CAPSULE_WORKER overrides the path)")
        }
        let launched = launch(realPath: path, executable: executable, settings: settings,
                              name: moduleName(fromFile: path), describeOnly: true)
        switch launched {
        case .failure(let e) where e.unavailable:
            return refuse("cannot read the plugin safely: it is read only in a locked-down worker, and isolation is unavailable here: \(e.message)")
        case .failure(let e):
            return refuse(e.message)
        case .success(let l):
            l.worker.terminate()
            close(l.copy)
            return PluginManifest.check(l.fields, path: path)
        }
    }

    /// The module name a plugin file's name gives (`libcapsule_NAME.so`), for messages
    /// before its descriptor is known; else the file's name.
    static func moduleName(fromFile path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return file.hasPrefix("libcapsule_") && file.hasSuffix(".so") && file.count > 14
            ? String(file.dropFirst(11).dropLast(3)) : file
    }
}
