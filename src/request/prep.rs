//! Prep: validate a write against the tree plus the changes in flight and make its txn
//! (ZooKeeper's `PrepRequestProcessor`). Checks run in ZooKeeper's order so that the error a
//! client sees for a request that is wrong in several ways is the one ZooKeeper would give.

use std::collections::HashMap;
use std::sync::Arc;

use super::WriteOp;
use crate::proto::error_code::ErrorCode;
use crate::proto::multi::MultiOp;
use crate::proto::opcode::{CreateMode, OpCode};
use crate::proto::records::{Acl, CreateRequest};
use crate::tree::acl::{self, AuthIds, perms};
use crate::tree::node::data_from_wire;
use crate::tree::arena::{PathHasher, PathMap};
use crate::tree::{DataTree, path};
use crate::txn::{CONTAINER_EPHEMERAL_OWNER, CreateTxn, NodeKind, TTL_MS_MAX, TxnBody};
use crate::types::{SessionId, Zxid};

/// What prep needs to know about a node (ZooKeeper's `ChangeRecord`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeView {
    /// Data version.
    pub version: i32,
    /// Child creates so far (numbers sequential children).
    pub cversion: i32,
    /// ACL version.
    pub aversion: i32,
    /// Owner encoding.
    pub ephemeral_owner: i64,
    /// Number of children.
    pub num_children: i32,
    /// ACL.
    pub acl: Arc<[Acl]>,
}

/// What a write becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prepped {
    /// A txn to order, log and apply.
    Txn(TxnBody),
    /// Refused before any change; reply with this error.
    Error(ErrorCode),
    /// No txn; answer in order once earlier txns are applied (sync, getEphemerals).
    Ordered,
}

type Overlay = PathMap<Option<NodeView>>;

/// Changes prepared but not yet applied, by path, with the zxid that made them.
#[derive(Debug, Default)]
pub struct Prep {
    pending: PathMap<(Zxid, Option<NodeView>)>,
    /// ACL lists seen recently, so that nodes with equal ACLs share one allocation.
    acls: HashMap<Vec<Acl>, Arc<[Acl]>, PathHasher>,
    /// `extendedTypesEnabled`: TTL nodes allowed.
    pub extended_types: bool,
}

struct Ctx<'a> {
    tree: &'a DataTree,
    pending: &'a PathMap<(Zxid, Option<NodeView>)>,
    overlay: Overlay,
    acls: &'a mut HashMap<Vec<Acl>, Arc<[Acl]>, PathHasher>,
}

impl Ctx<'_> {
    fn get(&self, p: &str) -> Option<NodeView> {
        if let Some(v) = self.overlay.get(p) {
            return v.clone();
        }
        if let Some((_, v)) = self.pending.get(p) {
            return v.clone();
        }
        self.tree.arena().get(p).map(|n| NodeView {
            version: n.version,
            cversion: n.cversion,
            aversion: n.aversion,
            ephemeral_owner: n.ephemeral_owner,
            num_children: n.children.len() as i32,
            acl: n.acl.clone(),
        })
    }

    fn node(&self, p: &str) -> Result<NodeView, ErrorCode> {
        self.get(p).ok_or(ErrorCode::NoNode)
    }

    /// One shared allocation per distinct ACL list (bounded cache).
    fn intern(&mut self, acl: Vec<Acl>) -> Arc<[Acl]> {
        if let Some(a) = self.acls.get(&acl) {
            return a.clone();
        }
        if self.acls.len() >= crate::constants::ACL_CACHE_MAX {
            self.acls.clear();
        }
        let shared: Arc<[Acl]> = acl.clone().into();
        self.acls.insert(acl, shared.clone());
        shared
    }

    fn set(&mut self, p: &str, v: Option<NodeView>) {
        self.overlay.insert(p.to_string(), v);
    }
}

fn check_version(current: i32, expected: i32) -> Result<i32, ErrorCode> {
    if expected != -1 && expected != current {
        return Err(ErrorCode::BadVersion);
    }
    Ok(current.wrapping_add(1))
}

fn check_acl(acl: &[Acl], perm: i32, auth: &AuthIds) -> Result<(), ErrorCode> {
    if acl::allows(acl, perm, auth) { Ok(()) } else { Err(ErrorCode::NoAuth) }
}

fn valid(p: &str) -> Result<(), ErrorCode> {
    path::validate(p, false).map_err(|_| ErrorCode::BadArguments)
}

fn is_special(p: &str) -> bool {
    p == "/" || p == path::ZOOKEEPER_DIR || p == path::QUOTA_DIR || p == path::CONFIG_NODE
}

impl Prep {
    /// A prep stage; `extended_types` allows TTL nodes.
    pub fn new(extended_types: bool) -> Prep {
        Prep { pending: PathMap::default(), acls: HashMap::default(), extended_types }
    }

    /// Forgets pending changes made by txns up to `zxid` (they are in the tree now).
    pub fn applied(&mut self, zxid: Zxid) {
        self.pending.retain(|_, (z, _)| *z > zxid);
    }

    /// Number of pending change records (for tests and `mntr`).
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }

    /// Turns a write into a txn body (or an error), recording its changes as pending under
    /// `zxid` when it succeeds.
    pub fn prep(
        &mut self,
        tree: &DataTree,
        session: SessionId,
        auth: &AuthIds,
        op: &WriteOp,
        zxid: Zxid,
    ) -> Prepped {
        let mut ctx = Ctx {
            tree,
            pending: &self.pending,
            overlay: Overlay::default(),
            acls: &mut self.acls,
        };
        let result = match op {
            WriteOp::Multi(ops) => Ok(prep_multi(&mut ctx, session, auth, ops, self.extended_types)),
            WriteOp::Sync(_) | WriteOp::GetEphemerals(_) => return Prepped::Ordered,
            WriteOp::CloseSession => {
                // The session's ephemerals as they will be when this txn applies: the tree's,
                // minus those a pending txn deletes, plus those a pending txn creates.
                let mut paths: std::collections::BTreeSet<String> = tree
                    .ephemerals_of(session)
                    .into_iter()
                    .filter(|p| ctx.get(p).is_some_and(|v| v.ephemeral_owner == session))
                    .collect();
                for (p, (_, v)) in &self.pending {
                    if v.as_ref().is_some_and(|v| v.ephemeral_owner == session) {
                        paths.insert(p.clone());
                    }
                }
                for p in paths {
                    if let Some(parent) = path::parent(&p)
                        && let Some(mut v) = ctx.get(parent) {
                            v.num_children -= 1;
                            ctx.set(parent, Some(v));
                        }
                    ctx.set(&p, None);
                }
                Ok(TxnBody::CloseSession)
            }
            WriteOp::Reconfig => Err(ErrorCode::ReconfigDisabled),
            single => prep_one(&mut ctx, session, auth, single, self.extended_types),
        };
        match result {
            Ok(body) => {
                let failed = matches!(&body, TxnBody::Multi(v) if v.iter().any(|b| matches!(b, TxnBody::Error{..})));
                if !failed {
                    for (p, v) in ctx.overlay {
                        self.pending.insert(p, (zxid, v));
                    }
                }
                Prepped::Txn(body)
            }
            Err(e) => Prepped::Error(e),
        }
    }
}

fn prep_multi(
    ctx: &mut Ctx<'_>,
    session: SessionId,
    auth: &AuthIds,
    ops: &[MultiOp],
    extended: bool,
) -> TxnBody {
    let mut out = Vec::with_capacity(ops.len());
    let mut failed = false;
    for m in ops {
        if failed {
            out.push(TxnBody::Error { err: ErrorCode::RuntimeInconsistency.code() });
            continue;
        }
        let op = match m {
            MultiOp::Create(r) => WriteOp::Create { op: OpCode::Create, req: r.clone(), ttl: -1 },
            MultiOp::Create2(r) => WriteOp::Create { op: OpCode::Create2, req: r.clone(), ttl: -1 },
            MultiOp::CreateContainer(r) => {
                WriteOp::Create { op: OpCode::CreateContainer, req: r.clone(), ttl: -1 }
            }
            MultiOp::CreateTtl(r) => WriteOp::Create {
                op: OpCode::CreateTtl,
                req: CreateRequest {
                    path: r.path.clone(),
                    data: r.data.clone(),
                    acl: r.acl.clone(),
                    flags: r.flags,
                },
                ttl: r.ttl,
            },
            MultiOp::Delete(r) => WriteOp::Delete(r.clone()),
            MultiOp::SetData(r) => WriteOp::SetData(r.clone()),
            MultiOp::Check(r) => WriteOp::Check(r.clone()),
            MultiOp::GetChildren(_) | MultiOp::GetData(_) => {
                failed = true;
                out.push(TxnBody::Error { err: ErrorCode::BadArguments.code() });
                continue;
            }
        };
        match prep_one(ctx, session, auth, &op, extended) {
            Ok(b) => out.push(b),
            Err(e) => {
                failed = true;
                out.push(TxnBody::Error { err: e.code() });
            }
        }
    }
    TxnBody::Multi(out)
}

fn prep_one(
    ctx: &mut Ctx<'_>,
    session: SessionId,
    auth: &AuthIds,
    op: &WriteOp,
    extended: bool,
) -> Result<TxnBody, ErrorCode> {
    match op {
        WriteOp::Create { op, req, ttl } => prep_create(ctx, session, auth, *op, req, *ttl, extended),
        WriteOp::Delete(r) => {
            valid(&r.path)?;
            let parent_path = path::parent(&r.path).ok_or(ErrorCode::BadArguments)?;
            if is_special(&r.path) {
                return Err(ErrorCode::BadArguments);
            }
            let mut parent = ctx.node(parent_path)?;
            check_acl(&parent.acl, perms::DELETE, auth)?;
            let node = ctx.node(&r.path)?;
            check_version(node.version, r.version)?;
            if node.num_children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            parent.num_children -= 1;
            ctx.set(parent_path, Some(parent));
            ctx.set(&r.path, None);
            Ok(TxnBody::Delete { path: r.path.clone() })
        }
        WriteOp::DeleteContainer(p) => {
            valid(p)?;
            let parent_path = path::parent(p).ok_or(ErrorCode::BadArguments)?;
            if is_special(p) {
                return Err(ErrorCode::BadArguments);
            }
            let node = ctx.node(p)?;
            if node.num_children > 0 {
                return Err(ErrorCode::NotEmpty);
            }
            if matches!(NodeKind::from_owner(node.ephemeral_owner), NodeKind::Persistent | NodeKind::Ephemeral(_)) {
                return Err(ErrorCode::BadVersion);
            }
            let mut parent = ctx.node(parent_path)?;
            parent.num_children -= 1;
            ctx.set(parent_path, Some(parent));
            ctx.set(p, None);
            Ok(TxnBody::Delete { path: p.clone() })
        }
        WriteOp::SetData(r) => {
            valid(&r.path)?;
            let mut node = ctx.node(&r.path)?;
            check_acl(&node.acl, perms::WRITE, auth)?;
            let version = check_version(node.version, r.version)?;
            node.version = version;
            ctx.set(&r.path, Some(node));
            Ok(TxnBody::SetData { path: r.path.clone(), data: data_from_wire(r.data.as_ref()), version })
        }
        WriteOp::SetAcl(r) => {
            valid(&r.path)?;
            let acl = acl::fixup(&r.acl, auth)?;
            let mut node = ctx.node(&r.path)?;
            check_acl(&node.acl, perms::ADMIN, auth)?;
            let aversion = check_version(node.aversion, r.version)?;
            node.aversion = aversion;
            let acl = ctx.intern(acl);
            node.acl = acl.clone();
            ctx.set(&r.path, Some(node));
            Ok(TxnBody::SetAcl { path: r.path.clone(), acl, aversion })
        }
        WriteOp::Check(r) => {
            valid(&r.path)?;
            let node = ctx.node(&r.path)?;
            check_acl(&node.acl, perms::READ, auth)?;
            check_version(node.version, r.version)?;
            Ok(TxnBody::Check { path: r.path.clone() })
        }
        WriteOp::Reconfig => Err(ErrorCode::ReconfigDisabled),
        WriteOp::Multi(_) | WriteOp::Sync(_) | WriteOp::GetEphemerals(_) | WriteOp::CloseSession => {
            Err(ErrorCode::BadArguments)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn prep_create(
    ctx: &mut Ctx<'_>,
    session: SessionId,
    auth: &AuthIds,
    op: OpCode,
    req: &CreateRequest,
    ttl: i64,
    extended: bool,
) -> Result<TxnBody, ErrorCode> {
    let mode = CreateMode::from_flags(req.flags).ok_or(ErrorCode::BadArguments)?;
    let mode = if op == OpCode::CreateContainer { CreateMode::Container } else { mode };
    if mode.is_ttl() && !extended {
        return Err(ErrorCode::Unimplemented);
    }
    if mode.is_ttl() {
        if ttl <= 0 || ttl > TTL_MS_MAX {
            return Err(ErrorCode::BadArguments);
        }
    } else if ttl >= 0 || (op == OpCode::CreateTtl) {
        return Err(ErrorCode::BadArguments);
    }
    path::validate(&req.path, mode.is_sequential()).map_err(|_| ErrorCode::BadArguments)?;
    let slash = req.path.rfind('/').ok_or(ErrorCode::BadArguments)?;
    let parent_path = if slash == 0 { "/" } else { &req.path[..slash] };
    let acl = acl::fixup(&req.acl, auth)?;
    let mut parent = ctx.node(parent_path)?;
    check_acl(&parent.acl, perms::CREATE, auth)?;
    let mut full = req.path.clone();
    if mode.is_sequential() {
        full.push_str(&format!("{:010}", parent.cversion));
    }
    if full == "/" {
        return Err(ErrorCode::NodeExists);
    }
    valid(&full)?;
    if ctx.get(&full).is_some() {
        return Err(ErrorCode::NodeExists);
    }
    if matches!(NodeKind::from_owner(parent.ephemeral_owner), NodeKind::Ephemeral(_)) {
        return Err(ErrorCode::NoChildrenForEphemerals);
    }
    let owner = if mode.is_container() {
        CONTAINER_EPHEMERAL_OWNER
    } else if mode.is_ttl() {
        NodeKind::ttl_owner(ttl)
    } else if mode.is_ephemeral() {
        session
    } else {
        0
    };
    parent.cversion += 1;
    parent.num_children += 1;
    let parent_cversion = parent.cversion;
    ctx.set(parent_path, Some(parent));
    let acl = ctx.intern(acl);
    ctx.set(
        &full,
        Some(NodeView {
            version: 0,
            cversion: 0,
            aversion: 0,
            ephemeral_owner: owner,
            num_children: 0,
            acl: acl.clone(),
        }),
    );
    Ok(TxnBody::Create(CreateTxn {
        path: full,
        data: data_from_wire(req.data.as_ref()),
        acl,
        ephemeral_owner: owner,
        parent_cversion,
    }))
}
