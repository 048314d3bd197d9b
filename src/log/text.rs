//! One line of text per txn, for `zkr log dump`: a `key=value` form for people and a JSON object
//! per line for tools (hand-written, escaped per RFC 8259).
//!
//! Owns: how a `Txn` looks as text. Must not do: I/O or parsing; the caller writes the lines.
//! A line never contains a newline: every string is escaped.

use std::fmt::Write;

use super::codec::{txn_type, txn_type_name};
use crate::proto::records::Acl;
use crate::txn::{Txn, TxnBody};

/// Bytes of znode data shown in the human form; the rest is elided (the length is shown).
const DATA_SHOWN_BYTES_MAX: usize = 64;

fn type_name(body: &TxnBody) -> &'static str {
    txn_type_name(txn_type(body)).unwrap_or("unknown")
}

/// Appends the human form: `zxid=0x.. time=.. session=0x.. cxid=.. type=create path=/a ...`.
pub(crate) fn human_line(txn: &Txn, out: &mut String) {
    let _ = write!(
        out,
        "zxid={:#x} time={} session={:#x} cxid={} ",
        txn.zxid, txn.time_ms, txn.session, txn.cxid
    );
    human_body(&txn.body, out);
}

fn human_body(body: &TxnBody, out: &mut String) {
    let _ = write!(out, "type={}", type_name(body));
    match body {
        TxnBody::CreateSession { timeout_ms } => {
            let _ = write!(out, " timeout_ms={timeout_ms}");
        }
        TxnBody::CloseSession => {}
        TxnBody::Create(create) => {
            human_path(&create.path, out);
            human_data(&create.data, out);
            human_acl(&create.acl, out);
            let _ = write!(
                out,
                " ephemeral_owner={:#x} parent_cversion={}",
                create.ephemeral_owner, create.parent_cversion
            );
        }
        TxnBody::Delete { path } | TxnBody::Check { path } => human_path(path, out),
        TxnBody::SetData {
            path,
            data,
            version,
        } => {
            human_path(path, out);
            human_data(data, out);
            let _ = write!(out, " version={version}");
        }
        TxnBody::SetAcl {
            path,
            acl,
            aversion,
        } => {
            human_path(path, out);
            human_acl(acl, out);
            let _ = write!(out, " aversion={aversion}");
        }
        TxnBody::Multi(ops) => {
            out.push_str(" ops=[");
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    out.push_str("; ");
                }
                human_body(op, out);
            }
            out.push(']');
        }
        TxnBody::Error { err } => {
            let _ = write!(out, " err={err}");
        }
    }
}

/// Paths print as they are unless they hold spaces, quotes or control characters; then they
/// print quoted and escaped, so a line stays one line and splits on spaces.
fn human_path(path: &str, out: &mut String) {
    let plain = path
        .chars()
        .all(|c| !c.is_whitespace() && !c.is_control() && c != '"' && c != '\\');
    if plain {
        let _ = write!(out, " path={path}");
    } else {
        let _ = write!(out, " path={path:?}");
    }
}

fn human_data(data: &[u8], out: &mut String) {
    let shown = &data[..data.len().min(DATA_SHOWN_BYTES_MAX)];
    let more = if shown.len() < data.len() { "..." } else { "" };
    let _ = write!(
        out,
        " data_len={} data=\"{}\"{more}",
        data.len(),
        shown.escape_ascii()
    );
}

fn human_acl(acl: &[Acl], out: &mut String) {
    out.push_str(" acl=[");
    for (i, entry) in acl.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{}:", entry.perms);
        let id = format!("{}:{}", entry.id.scheme, entry.id.id);
        if id
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == ',' || c == ']')
        {
            let _ = write!(out, "{id:?}");
        } else {
            out.push_str(&id);
        }
    }
    out.push(']');
}

/// Appends the JSON form: one object, no newline. zxids and session ids are hex strings, since
/// many JSON readers hold numbers as doubles and session ids need all 64 bits.
pub(crate) fn json_line(txn: &Txn, out: &mut String) {
    let _ = write!(
        out,
        "{{\"zxid\":\"{:#x}\",\"time_ms\":{},\"session\":\"{:#x}\",\"cxid\":{},",
        txn.zxid, txn.time_ms, txn.session, txn.cxid
    );
    json_body_fields(&txn.body, out);
    out.push('}');
}

fn json_body_fields(body: &TxnBody, out: &mut String) {
    let _ = write!(out, "\"type\":\"{}\"", type_name(body));
    match body {
        TxnBody::CreateSession { timeout_ms } => {
            let _ = write!(out, ",\"timeout_ms\":{timeout_ms}");
        }
        TxnBody::CloseSession => {}
        TxnBody::Create(create) => {
            json_field_str("path", &create.path, out);
            json_data(&create.data, out);
            json_acl(&create.acl, out);
            let _ = write!(
                out,
                ",\"ephemeral_owner\":\"{:#x}\",\"parent_cversion\":{}",
                create.ephemeral_owner, create.parent_cversion
            );
        }
        TxnBody::Delete { path } | TxnBody::Check { path } => json_field_str("path", path, out),
        TxnBody::SetData {
            path,
            data,
            version,
        } => {
            json_field_str("path", path, out);
            json_data(data, out);
            let _ = write!(out, ",\"version\":{version}");
        }
        TxnBody::SetAcl {
            path,
            acl,
            aversion,
        } => {
            json_field_str("path", path, out);
            json_acl(acl, out);
            let _ = write!(out, ",\"aversion\":{aversion}");
        }
        TxnBody::Multi(ops) => {
            out.push_str(",\"ops\":[");
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('{');
                json_body_fields(op, out);
                out.push('}');
            }
            out.push(']');
        }
        TxnBody::Error { err } => {
            let _ = write!(out, ",\"err\":{err}");
        }
    }
}

fn json_field_str(key: &str, value: &str, out: &mut String) {
    let _ = write!(out, ",\"{key}\":");
    json_str(value, out);
}

fn json_data(data: &[u8], out: &mut String) {
    out.push_str(",\"data_hex\":\"");
    for b in data {
        let _ = write!(out, "{b:02x}");
    }
    out.push('"');
}

fn json_acl(acl: &[Acl], out: &mut String) {
    out.push_str(",\"acl\":[");
    for (i, entry) in acl.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{{\"perms\":{},\"scheme\":", entry.perms);
        json_str(&entry.id.scheme, out);
        out.push_str(",\"id\":");
        json_str(&entry.id.id, out);
        out.push('}');
    }
    out.push(']');
}

/// Appends `s` as a JSON string: quotes, backslashes and control characters escaped.
pub(crate) fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::proto::records::Id;
    use crate::txn::CreateTxn;

    fn create() -> Txn {
        Txn {
            zxid: 0x1_0000_0005,
            time_ms: 1_700_000_000_000,
            session: 0x0100_0000_0000_00ab,
            cxid: 3,
            body: TxnBody::Multi(vec![
                TxnBody::Create(CreateTxn {
                    path: "/a b\n\"q\"".to_owned(),
                    data: Arc::from(&b"hi\x00"[..]),
                    acl: Arc::from(vec![Acl {
                        perms: 31,
                        id: Id {
                            scheme: "world".to_owned(),
                            id: "anyone".to_owned(),
                        },
                    }]),
                    ephemeral_owner: 0,
                    parent_cversion: 1,
                }),
                TxnBody::Delete {
                    path: "/x".to_owned(),
                },
            ]),
        }
    }

    #[test]
    fn human_form() {
        let mut line = String::new();
        human_line(&create(), &mut line);
        assert_eq!(
            line,
            "zxid=0x100000005 time=1700000000000 session=0x1000000000000ab cxid=3 type=multi \
             ops=[type=create path=\"/a b\\n\\\"q\\\"\" data_len=3 data=\"hi\\x00\" \
             acl=[31:world:anyone] ephemeral_owner=0x0 parent_cversion=1; type=delete path=/x]"
        );
    }

    #[test]
    fn json_form() {
        let mut line = String::new();
        json_line(&create(), &mut line);
        assert_eq!(
            line,
            "{\"zxid\":\"0x100000005\",\"time_ms\":1700000000000,\
             \"session\":\"0x1000000000000ab\",\"cxid\":3,\"type\":\"multi\",\"ops\":[\
             {\"type\":\"create\",\"path\":\"/a b\\n\\\"q\\\"\",\"data_hex\":\"686900\",\
             \"acl\":[{\"perms\":31,\"scheme\":\"world\",\"id\":\"anyone\"}],\
             \"ephemeral_owner\":\"0x0\",\"parent_cversion\":1},\
             {\"type\":\"delete\",\"path\":\"/x\"}]}"
        );
        let mut s = String::new();
        json_str("\u{1}\u{7f}\\é", &mut s);
        assert_eq!(s, "\"\\u0001\\u007f\\\\é\"");
    }
}
