//! What a test expects of one znode after an acknowledged write (crash and corruption
//! tests).

use zookeeper_client as zk;

/// Data, version and zxids of one znode as a client saw them acknowledged.
#[derive(Clone, PartialEq, Eq)]
pub struct NodeState {
    pub data: Vec<u8>,
    pub version: i32,
    pub czxid: i64,
    pub mzxid: i64,
}

impl std::fmt::Debug for NodeState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let data = String::from_utf8_lossy(&self.data);
        let shown: String = data.chars().take(60).collect();
        write!(
            f,
            "{{data {:?}{} ({} bytes), version {}, czxid {:#x}, mzxid {:#x}}}",
            shown,
            if data.chars().count() > 60 { "..." } else { "" },
            self.data.len(),
            self.version,
            self.czxid,
            self.mzxid
        )
    }
}

impl NodeState {
    pub fn new(data: &[u8], stat: &zk::Stat) -> NodeState {
        NodeState {
            data: data.to_vec(),
            version: stat.version,
            czxid: stat.czxid,
            mzxid: stat.mzxid,
        }
    }
}
