import CapsuleSystem
/// The load-time audit of an in-process plugin's dynamic imports, as an **allow-list**: the
/// one file that says which imported functions an in-process plugin may use.
///
/// Every imported symbol is in exactly one class:
///
/// 1. **harmless** (`harmless`): memory, strings, ctype, wide and multibyte conversion,
/// number parsing and formatting into buffers, math (libm), sorting and searching,
/// pseudo-random sequences, time *conversion*, threads and locks, reading and writing
/// descriptors and streams the plugin already holds, zlib's in-memory API, the C++ and
/// toolchain runtime. They reach no host power.
/// 2. **a power** (`powerSymbols`): what a grant makes available. `fs` (opening, creating,
/// changing, examining files by name), `net` (sockets, name lookup), `run` (programs,
/// other processes, signals), `env` (the environment), `ffi` (loading or making code,
/// raw system calls: they reach every other power), and `clock` and `random` (the wall
/// clock and sleeping; the kernel's generator).
/// 3. **everything else**: unclassified, and refused.
///
/// For an in-process plugin, an import of `fs`, `net`, `run`, `env` or `ffi` needs a grant of
/// that kind to the plugin; `clock` and `random` imports are reported but never refused (as
/// for placement, where declaring them does not isolate: native code reads the time and the
/// CPU's generator with single instructions, importing nothing). An unclassified import, or
/// a library dependency (`DT_NEEDED`) outside `systemLibraries`, is refused unless the
/// plugin is trusted (`--trust`, which vouches for its code). A plugin the audit would
/// refuse runs **isolated by default** (docs/security.md#which-plugins-run-isolated).
///
/// Names are matched exactly, then with glibc's variants folded: a `__` prefix and the
/// `_chk`/`_2` fortify, `64` large-file and `__isoc99_`/`__isoc23_` forms (`__open64_2` is
/// `open`, `__memcpy_chk` is `memcpy`). A power list is consulted before the harmless one.
///
/// This is defense in depth, not a boundary: native code can make system calls without
/// importing anything (inline `syscall` instructions) or find functions by walking memory,
/// and a library the plugin links may do anything its own imports allow. Running the
/// plugin isolated, in a worker locked down by the kernel, is the boundary. See
/// docs/security.md.
public enum ImportAudit {
    /// The host powers imports are sorted into.
    public enum Power: String, CaseIterable, Sendable {
        /// Opening, creating, changing or examining files by name: an `fs.read` or `fs.write` grant.
        case fs
        /// Sockets and name lookup: a `net.connect` or `net.listen` grant.
        case net
        /// Starting programs or processes, waiting for or signalling them: a `run` grant.
        case run
        /// Reading or changing the environment: an `env` grant.
        case env
        /// The wall clock and sleeping: reported, never refused.
        case clock
        /// The kernel's random generator: reported, never refused.
        case random
        /// Loading or making code, or calling the kernel directly (`dlopen`, `dlsym`,
        /// `syscall`, `mprotect`): an `ffi` grant, because it reaches every other power.
        case ffi

        /// Whether an import of this power is refused without the grant.
        public var needsGrant: Bool { self != .clock && self != .random }
    }

    /// How one imported symbol is classified.
    public enum Classification: Equatable, Sendable {
        /// Reaches no host power.
        case harmless
        /// Reaches `Power`.
        case power(Power)
        /// On no list: refused in-process unless the plugin is trusted.
        case unclassified
    }

    private static func words(_ text: String) -> [String] { text.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init) }

    /// The functions (and data symbols) each power's grant makes available.
    public static let powerSymbols: [Power: Set<String>] = [
        .fs: Set(words("""
            open openat creat fopen freopen fdopen opendir fdopendir mkdir mkdirat rmdir unlink unlinkat rename
            renameat renameat2 link linkat symlink symlinkat truncate chmod fchmod fchmodat lchmod chown fchown lchown
            fchownat stat lstat fstatat statx xstat lxstat fxstatat access faccessat euidaccess
            eaccess readlink readlinkat realpath canonicalize_file_name chdir fchdir chroot getcwd getwd get_current_dir_name
            mount umount umount2 name_to_handle_at open_by_handle_at mkfifo mkfifoat mknod mknodat xmknod xmknodat utime
            utimes lutimes futimes futimesat futimens utimensat remove tmpfile tmpfile64 mkstemp mkostemp mkstemps
            mkostemps mkdtemp mktemp tempnam tmpnam tmpnam_r scandir scandirat nftw ftw glob glob64 globfree
            inotify_add_watch fanotify_mark setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr
            llistxattr flistxattr removexattr lremovexattr fremovexattr statfs statvfs fstatfs fstatvfs pathconf
            swapon swapoff acct sync syncfs fts_open gzopen gzopen64 shm_open shm_unlink sem_open sem_unlink
            mq_open mq_unlink setmntent getmntent
            """)),
        .net: Set(words("""
            socket socketpair connect bind listen accept accept4 getaddrinfo gethostbyname gethostbyname2
            gethostbyname_r gethostbyname2_r gethostbyaddr gethostbyaddr_r getnameinfo res_query res_search
            res_querydomain res_mkquery res_send res_init res_nquery res_nsearch res_ninit sendto sendmsg sendmmsg
            send recv recvfrom recvmsg recvmmsg getsockopt setsockopt getsockname getpeername shutdown
            getservbyname getservbyport getprotobyname getifaddrs if_nametoindex if_indextoname rcmd rexec
            """)),
        .run: Set(words("""
            execve execv execvp execvpe execl execlp execle fexecve execveat system popen pclose fork vfork clone
             posix_spawn posix_spawnp kill killpg tgkill sigqueue ptrace process_vm_readv
            process_vm_writev pidfd_open pidfd_send_signal pidfd_getfd wait waitpid wait3 wait4 waitid daemon
            setsid setpgid setpgrp setuid seteuid setreuid setresuid setgid setegid setregid setresgid setgroups
            initgroups prctl unshare setns
            """)),
        .env: Set(words("getenv secure_getenv setenv unsetenv putenv clearenv environ __environ")),
        .clock: Set(words("""
            time clock_gettime gettimeofday ftime clock clock_getres timespec_get times sleep usleep nanosleep
            clock_nanosleep timerfd_create timerfd_settime timerfd_gettime
            """)),
        .random: Set(words("getrandom getentropy arc4random arc4random_buf arc4random_uniform")),
        .ffi: Set(words("""
            dlopen dlmopen dlsym dlvsym dladdr dladdr1 dlinfo dl_iterate_phdr syscall mprotect pkey_mprotect mmap
            mmap64 memfd_create iconv_open init_module 
            """)),
    ]

    /// Functions (and data symbols) that reach no host power.
    public static let harmless: Set<String> = {
        var names = Set(words("""
            malloc calloc realloc reallocarray free aligned_alloc posix_memalign memalign valloc pvalloc
            malloc_usable_size memcpy memmove memset memcmp memchr memrchr rawmemchr memmem mempcpy memccpy bzero
            explicit_bzero bcmp bcopy strlen strnlen strcpy strncpy stpcpy stpncpy strcat strncat strcmp strncmp
            strcasecmp strncasecmp strcoll strxfrm strchr strrchr strchrnul strstr strcasestr strspn strcspn strpbrk
            strtok strtok_r strsep strdup strndup strerror strerror_r strerror_l strsignal strverscmp  
            index rindex ffs ffsl ffsll basename xpg_basename dirname xpg_strerror_r
            wcslen wcsnlen wcscpy wcsncpy wcscat wcsncat wcscmp wcsncmp wcscasecmp wcschr wcsrchr wcsstr wcsdup
            wcsspn wcscspn wcspbrk wcstok wmemcpy wmemmove wmemset wmemcmp wmemchr wcstol wcstoul wcstoll wcstoull
            wcstod wcstof mbstowcs wcstombs mbtowc wctomb mbrtowc wcrtomb mbrlen mblen mbsrtowcs wcsrtombs
            mbsnrtowcs wcsnrtombs btowc wctob mbsinit wcwidth wcswidth
            isalnum isalpha isascii isblank iscntrl isdigit isgraph islower isprint ispunct isspace isupper isxdigit
            tolower toupper toascii ctype_b_loc ctype_tolower_loc ctype_toupper_loc ctype_get_mb_cur_max iswalnum
            iswalpha iswdigit iswspace iswupper iswlower iswprint iswpunct iswxdigit iswcntrl iswgraph iswblank
            towlower towupper wctype iswctype
            atoi atol atoll atof strtol strtoll strtoul strtoull strtoq strtouq strtod strtof strtold strtoimax
            strtoumax strtol_internal strtoul_internal strtoll_internal strtoull_internal strtod_internal
            abs labs llabs div ldiv lldiv imaxabs imaxdiv
            sprintf snprintf vsprintf vsnprintf asprintf vasprintf sscanf vsscanf printf vprintf fprintf vfprintf
            dprintf vdprintf puts fputs fputc putc putchar fwrite fflush fread fgetc getc getchar fgets ungetc
            fileno feof ferror clearerr fclose perror putc_unlocked putchar_unlocked fputc_unlocked fwrite_unlocked
            fputs_unlocked getc_unlocked fgets_unlocked fread_unlocked setvbuf setbuf setlinebuf getline getdelim
            fmemopen open_memstream fseek ftell fseeko ftello rewind fgetpos fsetpos stdin stdout stderr
            wprintf fwprintf swprintf vswprintf fputws fputwc putwc
            read write pread pwrite readv writev preadv pwritev preadv2 pwritev2 close lseek fstat fxstat fsync
            fdatasync ftruncate dup dup2 dup3 fcntl pipe pipe2 poll ppoll select pselect epoll_create
            epoll_create1 epoll_ctl epoll_wait epoll_pwait eventfd eventfd_read eventfd_write isatty flock
            posix_fadvise posix_fallocate fallocate readdir readdir_r closedir rewinddir dirfd
            munmap madvise posix_madvise msync mlock munlock mremap
            errno_location stack_chk_fail assert_fail assert_perror_fail fortify_fail chk_fail
            abort exit _exit _Exit quick_exit on_exit cxa_atexit cxa_finalize
            cxa_thread_atexit_impl cxa_thread_atexit tls_get_addr libc_single_threaded gmon_start__
            _ITM_deregisterTMCloneTable _ITM_registerTMCloneTable _Jv_RegisterClasses
            swift_addNewDSOImage _swift_backtrace_isThunkFunction
            qsort qsort_r bsearch lsearch lfind tsearch tfind tdelete twalk twalk_r tdestroy hcreate hdestroy hsearch
            hcreate_r hsearch_r hdestroy_r insque remque
            rand rand_r srand random srandom initstate setstate random_r srandom_r initstate_r setstate_r drand48
            erand48 lrand48 nrand48 mrand48 jrand48 srand48 seed48 lcong48 drand48_r erand48_r lrand48_r
            nrand48_r mrand48_r jrand48_r srand48_r
            gmtime gmtime_r localtime localtime_r mktime timegm timelocal difftime asctime asctime_r ctime ctime_r
            strftime strftime_l strptime tzset tzname timezone daylight
            setjmp _setjmp sigsetjmp longjmp _longjmp siglongjmp 
            sigemptyset sigfillset sigaddset sigdelset sigismember raise
            getpid getppid gettid getuid geteuid getgid getegid getpagesize sysconf get_nprocs get_nprocs_conf
            sched_yield sched_getcpu uname gethostname
            localeconv nl_langinfo nl_langinfo_l iconv iconv_close
            htons htonl ntohs ntohl inet_pton inet_ntop inet_addr inet_aton inet_ntoa gai_strerror freeaddrinfo
            hstrerror
            sem_init sem_destroy sem_wait sem_trywait sem_timedwait sem_post sem_getvalue
            getopt getopt_long getopt_long_only optarg optind opterr optopt
            dlerror dlclose
            """))
        // libm: every function in its float, double and long double forms.
        for base in words("""
            sin cos tan asin acos atan atan2 sinh cosh tanh asinh acosh atanh exp exp2 exp10 expm1 log log2 log10
            log1p logb pow pow10 sqrt cbrt hypot fabs floor ceil round roundeven trunc rint nearbyint lround llround
            lrint llrint fmod remainder remquo fmin fmax fdim fma frexp ldexp modf scalb scalbn scalbln ilogb
            copysign nextafter nexttoward nextup nextdown nan erf erfc tgamma lgamma gamma j0 j1 jn y0 y1
            yn sincos significand drem finite isinf isnan fpclassify signbit issignaling iseqsig
            """) {
            names.formUnion([base, base + "f", base + "l"])
        }
        names.formUnion(["lgamma_r", "lgammaf_r", "lgammal_r"])
        names.formUnion(words("""
            feclearexcept fegetexceptflag feraiseexcept fesetexceptflag fetestexcept fegetround fesetround fegetenv
            feholdexcept fesetenv feupdateenv feenableexcept fedisableexcept fegetexcept
            """))
        // zlib's in-memory API (gzopen, which opens a file by name, is under fs).
        names.formUnion(words("""
            adler32 adler32_z adler32_combine adler32_combine64 crc32 crc32_z crc32_combine crc32_combine64
            crc32_combine_gen crc32_combine_op get_crc_table compress compress2 compressBound uncompress uncompress2
            deflate deflateInit_ deflateInit2_ deflateEnd deflateReset deflateResetKeep deflateParams deflateBound
            deflateSetDictionary deflateGetDictionary deflateCopy deflatePrime deflatePending deflateTune
            deflateSetHeader inflate inflateInit_ inflateInit2_ inflateEnd inflateReset inflateReset2 inflateResetKeep
            inflateSetDictionary inflateGetDictionary inflateSync inflateSyncPoint inflateCopy inflatePrime inflateMark
            inflateGetHeader inflateBack inflateBackInit_ inflateBackEnd inflateUndermine inflateValidate
            inflateCodesUsed zlibVersion zlibCompileFlags zError
            """))
        // The C++ runtime's core: new and delete, exceptions, guards, personality, unwinding.
        names.formUnion(words("""
            _Znwm _Znam _ZdlPv _ZdaPv _ZdlPvm _ZdaPvm _ZnwmRKSt9nothrow_t _ZnamRKSt9nothrow_t _ZdlPvRKSt9nothrow_t
            _ZdaPvRKSt9nothrow_t _ZnwmSt11align_val_t _ZnamSt11align_val_t _ZdlPvSt11align_val_t
            _ZdaPvSt11align_val_t _ZdlPvmSt11align_val_t _ZdaPvmSt11align_val_t _ZSt9terminatev
            cxa_allocate_exception cxa_free_exception cxa_throw cxa_begin_catch cxa_end_catch cxa_rethrow
            cxa_pure_virtual cxa_deleted_virtual cxa_guard_acquire cxa_guard_release cxa_guard_abort
            cxa_call_unexpected cxa_get_exception_ptr cxa_bad_cast cxa_bad_typeid cxa_throw_bad_array_new_length
            cxa_current_exception_type cxa_demangle gxx_personality_v0 gcc_personality_v0
            """))
        return names
    }()

    /// Prefixes of harmless names: pthreads (threads, locks, keys; not processes), libunwind,
    /// and the C++ ABI's type information and `std::__throw_*` helpers.
    public static let harmlessPrefixes = ["pthread_", "_Unwind_", "_ZTVN10__cxxabiv1", "_ZTISt", "_ZTSSt", "_ZSt17__throw_",
                                          "_ZSt18__throw_", "_ZSt19__throw_", "_ZSt20__throw_", "_ZSt21__throw_",
                                          "_ZSt24__throw_", "_ZSt16__throw_", "_ZSt25__throw_", "_ZSt26__throw_"]

    /// Libraries an in-process plugin may depend on (`DT_NEEDED`, by soname): glibc's, libm,
    /// zlib, the C++ and GCC runtimes, and the Swift runtime a SwiftPM-built plugin links.
    /// Their code runs only through the imports classified above (and their constructors).
    public static let systemLibraries: Set<String> = [
        "libc.so.6", "libm.so.6", "libpthread.so.0", "libdl.so.2", "librt.so.1", "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1", "libz.so.1", "libgcc_s.so.1", "libstdc++.so.6", "libswiftCore.so",
    ]

    /// The class of imported `symbol` (see the type's summary).
    public static func classify(_ symbol: String) -> Classification {
        if let power = power(exactly: symbol) { return .power(power) }
        if harmless.contains(symbol) { return .harmless }
        let folded = fold(symbol)
        if let power = power(exactly: folded) { return .power(power) }
        if harmless.contains(folded) || harmlessPrefixes.contains(where: { symbol.hasPrefix($0) || folded.hasPrefix($0) }) {
            return .harmless
        }
        return .unclassified
    }

    /// The power `symbol` reaches, or nil when it reaches none or is unclassified.
    public static func power(of symbol: String) -> Power? {
        if case .power(let p) = classify(symbol) { return p }
        return nil
    }

    private static func power(exactly name: String) -> Power? {
        Power.allCases.first { powerSymbols[$0]?.contains(name) == true }
    }

    /// `symbol` with glibc's decorations removed: `__isoc99_sscanf` → `sscanf`,
    /// `__open64_2` → `open`, `__memcpy_chk` → `memcpy`, `fopen64` → `fopen`.
    static func fold(_ symbol: String) -> String {
        var name = Substring(symbol)
        for prefix in ["__isoc99_", "__isoc23_"] where name.hasPrefix(prefix) { name = name.dropFirst(prefix.count) }
        while name.hasPrefix("_") && name.count > 1 && !name.hasPrefix("_Z") { name = name.dropFirst() }
        if name.hasSuffix("_2") { name = name.dropLast(2) }
        if name.hasSuffix("_chk") { name = name.dropLast(4) }
        if name.hasSuffix("64") { name = name.dropLast(2) }
        return String(name)
    }

    /// One refused import or dependency.
    public struct Finding: Equatable, Sendable, CustomStringConvertible {
        /// The imported symbol, or the needed library, as the file names it.
        public var symbol: String
        /// The power it reaches, which the plugin is not granted; nil for an unclassified
        /// symbol or a library.
        public var power: Power?
        /// Whether `symbol` is a library (`DT_NEEDED`) rather than an import.
        public var isLibrary = false

        /// `imports 'open' (fs) without an fs.read or fs.write grant`,
        /// `imports 'ioctl', which no list classifies`, `links libfoo.so, …`
        public var description: String {
            let shown = Capability.sanitized(symbol)
            if isLibrary { return "links \(shown), which is not a system library the audit knows" }
            guard let power else { return "imports '\(shown)', which no list of the audit classifies" }
            return "imports '\(shown)' (\(power.rawValue)) without \(Self.grantNeeded(power))"
        }

        static func grantNeeded(_ power: Power) -> String {
            switch power {
            case .fs: "an fs.read or fs.write grant"
            case .net: "a net.connect or net.listen grant"
            case .run: "a run grant"
            case .env: "an env grant"
            case .ffi: "an ffi grant"
            case .clock: "a clock grant"
            case .random: "a random grant"
            }
        }
    }

    /// What `image` would be refused for in-process, in symbol order: imports reaching a
    /// power (that needs a grant) for which `isGranted` says no; and, unless `trusted`,
    /// unclassified imports, then dependencies outside `systemLibraries`.
    public static func findings(_ image: ELFImage, trusted: Bool = false, isGranted: (Power) -> Bool) -> [Finding] {
        var result: [Finding] = []
        for symbol in image.imports {
            switch classify(symbol) {
            case .harmless: continue
            case .power(let power):
                if power.needsGrant && !isGranted(power) { result.append(Finding(symbol: symbol, power: power)) }
            case .unclassified:
                if !trusted { result.append(Finding(symbol: symbol, power: nil)) }
            }
        }
        if !trusted {
            for library in image.needed where !systemLibraries.contains(library) {
                result.append(Finding(symbol: library, power: nil, isLibrary: true))
            }
        }
        return result
    }

    /// Every import of `image` that reaches some power, grouped by power (for inspection).
    public static func powers(_ image: ELFImage) -> [Power: [String]] {
        var result: [Power: [String]] = [:]
        for symbol in image.imports { if let p = power(of: symbol) { result[p, default: []].append(symbol) } }
        return result
    }

    /// The imports of `image` on no list, and its dependencies outside `systemLibraries`.
    public static func unclassified(_ image: ELFImage) -> (symbols: [String], libraries: [String]) {
        (image.imports.filter { classify($0) == .unclassified }, image.needed.filter { !systemLibraries.contains($0) })
    }
}
