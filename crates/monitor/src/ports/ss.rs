//! `ss -ltnp` / `ss -lunp` (and `-ltunp`, `-H`) text to open-port
//! observations.
//!
//! Columns are split on whitespace. With a `Netid` column (`ss -ltun`),
//! it gives the protocol; without it, `LISTEN` means TCP and `UNCONN`
//! means UDP. The local address column gives the port and bind address;
//! the process column (`users:(("sshd",pid=1020,fd=3))`, only with `-p`)
//! gives the process name. Rows in other states (`ESTAB`, ...) are not
//! listening sockets and are ignored. `ss` does not print the host name,
//! so the caller passes it.

use events::SourceId;

use super::{Observation, Parsed, PortKey, Protocol, split_addr_port};

/// Parses `ss` output taken on `host`.
pub fn parse(text: &str, host: &str, file: &SourceId) -> Parsed {
    let mut out = Parsed::default();
    for (index, line) in text.lines().enumerate() {
        let line_no = index as u64 + 1;
        let tokens: Vec<&str> = line.split_whitespace().collect();
        let Some(&first) = tokens.first() else {
            continue;
        };
        if first == "State" || first == "Netid" {
            continue;
        }
        let (protocol, rest) = match first {
            "tcp" | "udp" | "sctp" => (first.parse::<Protocol>().ok(), &tokens[1..]),
            _ => (None, &tokens[..]),
        };
        let Some(&state) = rest.first() else {
            out.problems
                .push((Some(line_no), "not an ss row: no state column".into()));
            continue;
        };
        let protocol = match (protocol, state) {
            (Some(p), _) => p,
            (None, "LISTEN") => Protocol::Tcp,
            (None, "UNCONN") => Protocol::Udp,
            (None, s) if is_other_state(s) => continue,
            (None, _) => {
                out.problems.push((
                    Some(line_no),
                    format!("not an ss row: unknown state {state:?}"),
                ));
                continue;
            }
        };
        if state != "LISTEN" && state != "UNCONN" {
            continue;
        }
        // State Recv-Q Send-Q Local Peer [Process]
        let Some(local) = rest.get(3) else {
            out.problems
                .push((Some(line_no), "ss row has no local address column".into()));
            continue;
        };
        let Some((address, port)) = split_addr_port(local) else {
            out.problems.push((
                Some(line_no),
                format!("cannot read local address {local:?}"),
            ));
            continue;
        };
        let process = rest.get(5..).and_then(|cols| process_name(&cols.join(" ")));
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

fn is_other_state(s: &str) -> bool {
    matches!(
        s,
        "ESTAB"
            | "SYN-SENT"
            | "SYN-RECV"
            | "FIN-WAIT-1"
            | "FIN-WAIT-2"
            | "TIME-WAIT"
            | "CLOSE-WAIT"
            | "LAST-ACK"
            | "CLOSING"
            | "CLOSED"
            | "UNKNOWN"
    )
}

/// The first process name in `users:(("name",pid=1,fd=3),...)`.
pub(crate) fn process_name(column: &str) -> Option<String> {
    let start = column.find("((\"")? + 3;
    let end = column[start..].find('"')? + start;
    Some(column[start..end].to_string()).filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_listen_and_unconn_rows() {
        let text = "State  Recv-Q Send-Q Local Address:Port Peer Address:Port Process\n\
LISTEN 0      128          0.0.0.0:22        0.0.0.0:*    users:((\"sshd\",pid=1020,fd=3))\n\
LISTEN 0      128             [::]:22           [::]:*    users:((\"sshd\",pid=1020,fd=4))\n\
UNCONN 0      0      127.0.0.53%lo:53        0.0.0.0:*    users:((\"systemd-resolve\",pid=611,fd=13))\n\
ESTAB  0      0          10.0.0.5:22      10.0.0.9:51234\n\
garbage\n";
        let file: SourceId = "ss.txt".into();
        let parsed = parse(text, "web01", &file);
        let keys: Vec<String> = parsed
            .observations
            .iter()
            .map(|o| o.key.to_string())
            .collect();
        assert_eq!(keys, ["web01 tcp/22", "web01 tcp/22", "web01 udp/53"]);
        assert_eq!(
            parsed.observations[0].service.process.as_deref(),
            Some("sshd")
        );
        assert_eq!(parsed.observations[2].record, 4);
        assert_eq!(
            parsed.problems,
            vec![(
                Some(6),
                "not an ss row: unknown state \"garbage\"".to_string()
            )]
        );
    }

    #[test]
    fn netid_column_gives_the_protocol() {
        let text = "Netid State  Recv-Q Send-Q Local Address:Port Peer Address:Port\n\
udp   UNCONN 0      0            0.0.0.0:68        0.0.0.0:*\n\
tcp   LISTEN 0      511          0.0.0.0:80        0.0.0.0:*\n";
        let parsed = parse(text, "h", &"f".into());
        let keys: Vec<String> = parsed
            .observations
            .iter()
            .map(|o| o.key.to_string())
            .collect();
        assert_eq!(keys, ["h udp/68", "h tcp/80"]);
        assert!(parsed.problems.is_empty());
    }
}
