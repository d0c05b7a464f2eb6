//! `netstat -ltnp` / `netstat -lunp` text to open-port observations.
//!
//! Rows start with the protocol (`tcp`, `tcp6`, `udp`, `udp6`); the fourth
//! column is the local address. TCP rows count only in state `LISTEN`.
//! UDP rows have no state, so every UDP row of a `-l` listing counts. The
//! `PID/Program name` column (`-p`) gives the process (`-` when netstat
//! could not see it). Header lines are skipped; the host name is passed
//! by the caller.

use events::SourceId;

use super::{Observation, Parsed, PortKey, Protocol, split_addr_port};

/// Parses `netstat` output taken on `host`.
pub fn parse(text: &str, host: &str, file: &SourceId) -> Parsed {
    let mut out = Parsed::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index as u64 + 1;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(&first) = tokens.first() else {
            continue;
        };
        if first == "Active" || first == "Proto" {
            continue;
        }
        let protocol = match first {
            "tcp" | "tcp6" => Protocol::Tcp,
            "udp" | "udp6" => Protocol::Udp,
            "raw" | "raw6" | "unix" => continue,
            _ => {
                out.problems.push((
                    Some(line_no),
                    format!("not a netstat row: unknown protocol {first:?}"),
                ));
                continue;
            }
        };
        let Some(local) = tokens.get(3) else {
            out.problems.push((
                Some(line_no),
                "netstat row has no local address column".into(),
            ));
            continue;
        };
        let Some((address, port)) = split_addr_port(local) else {
            out.problems.push((
                Some(line_no),
                format!("cannot read local address {local:?}"),
            ));
            continue;
        };
        if protocol == Protocol::Tcp && tokens.get(5) != Some(&"LISTEN") {
            continue;
        }
        let process = tokens
            .get(5..)
            .unwrap_or_default()
            .iter()
            .find_map(|t| {
                t.split_once('/')
                    .filter(|(pid, _)| pid.chars().all(|c| c.is_ascii_digit()))
            })
            .map(|(_, name)| name.trim_end_matches(':').to_string())
            .filter(|name| !name.is_empty());
        let key = PortKey {
            host: host.to_string(),
            protocol,
            port,
        };
        out.observations.push(Observation::listening(
            key,
            address,
            process,
            file.clone(),
            line_no,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listening_rows() {
        let text = "Active Internet connections (only servers)\n\
Proto Recv-Q Send-Q Local Address           Foreign Address         State       PID/Program name\n\
tcp        0      0 0.0.0.0:22              0.0.0.0:*               LISTEN      1020/sshd: /usr/sbi\n\
tcp6       0      0 :::5432                 :::*                    LISTEN      -\n\
tcp        0      0 10.0.0.5:22             10.0.0.9:51234          ESTABLISHED 2000/sshd: alice\n\
udp        0      0 0.0.0.0:68              0.0.0.0:*                           845/dhclient\n";
        let parsed = parse(text, "db01", &"n".into());
        let keys: Vec<String> = parsed
            .observations
            .iter()
            .map(|o| o.key.to_string())
            .collect();
        assert_eq!(keys, ["db01 tcp/22", "db01 tcp/5432", "db01 udp/68"]);
        assert_eq!(
            parsed.observations[0].service.process.as_deref(),
            Some("sshd")
        );
        assert_eq!(parsed.observations[1].service.process, None);
        assert_eq!(
            parsed.observations[2].service.process.as_deref(),
            Some("dhclient")
        );
        assert!(parsed.problems.is_empty());
    }
}
