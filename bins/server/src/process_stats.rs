//! The process's own resource use for the `process_*` metrics, read from Linux's `/proc/self` (no unsafe code and no
//! dependency): CPU time and start time from `stat`, memory from `status`, open descriptors from `fd/`.

/// A snapshot of the process's resource use.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ProcessStats {
    pub(crate) cpu_seconds: f64,
    pub(crate) resident_bytes: f64,
    pub(crate) virtual_bytes: f64,
    pub(crate) open_fds: f64,
    pub(crate) start_time_seconds: f64,
}

/// `/proc` reports times in USER_HZ, which Linux fixes at 100 for every architecture's user ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads the snapshot; `None` where `/proc/self` is missing or unreadable (not Linux).
pub(crate) fn read() -> Option<ProcessStats> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let system = std::fs::read_to_string("/proc/stat").ok()?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    parse(&stat, &status, &system, open_fds)
}

fn parse(stat: &str, status: &str, system: &str, open_fds: f64) -> Option<ProcessStats> {
    // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its last `)`.
    let fields: Vec<&str> = stat.get(stat.rfind(')')? + 1..)?.split_whitespace().collect();
    // After the name, field 3 (state) is index 0, so field N is index N - 3.
    let field = |number: usize| fields.get(number - 3).and_then(|value| value.parse::<f64>().ok());
    let cpu_seconds = (field(14)? + field(15)?) / TICKS_PER_SECOND;
    let virtual_bytes = field(23)?;
    let kilobytes = |key: &str| {
        status.lines().find_map(|line| line.strip_prefix(key)?.trim().strip_suffix("kB")?.trim().parse::<f64>().ok())
    };
    let resident_bytes = kilobytes("VmRSS:")? * 1024.0;
    let boot_time = system.lines().find_map(|line| line.strip_prefix("btime ")?.trim().parse::<f64>().ok())?;
    let start_time_seconds = boot_time + field(22)? / TICKS_PER_SECOND;
    Some(ProcessStats { cpu_seconds, resident_bytes, virtual_bytes, open_fds, start_time_seconds })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_files_are_parsed() {
        let stat = "4242 (cutover server) S 1 4242 4242 0 -1 4194560 5000 0 0 0 250 50 0 0 20 0 9 0 12345 \
                    734003200 4096 18446744073709551615 1 1 0 0 0 0 0 4096 17987 0 0 0 17 1 0 0 0 0 0";
        let status = "Name:\tcutover-server\nVmRSS:\t   16384 kB\nThreads:\t9\n";
        let system = "cpu  1 2 3\nbtime 1764633600\nprocesses 99\n";
        let parsed = parse(stat, status, system, 12.0).expect("parsed");
        assert_eq!(
            parsed,
            ProcessStats {
                cpu_seconds: 3.0,
                resident_bytes: 16384.0 * 1024.0,
                virtual_bytes: 734_003_200.0,
                open_fds: 12.0,
                start_time_seconds: 1_764_633_600.0 + 123.45,
            }
        );
        assert_eq!(parse("garbage", status, system, 1.0), None);
    }

    #[test]
    fn this_process_can_be_read_on_linux() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let stats = read().expect("this process's stats");
            assert!(
                stats.resident_bytes > 0.0 && stats.open_fds >= 1.0 && stats.start_time_seconds > 1.0e9,
                "{stats:?}"
            );
        }
    }
}
