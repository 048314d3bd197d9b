"""ACLs: world, digest, auth and ip schemes, permissions, super user."""

import base64
import hashlib

import pytest
from kazoo.exceptions import (
    AuthFailedError,
    BadVersionError,
    InvalidACLError,
    NoAuthError,
)
from kazoo.security import (
    ACL,
    OPEN_ACL_UNSAFE,
    Id,
    Permissions,
    make_acl,
    make_digest_acl,
    make_digest_acl_credential,
)

from conftest import SUPER_PASSWORD, super_client


def digest_of(user, password):
    raw = hashlib.sha1(("%s:%s" % (user, password)).encode()).digest()
    return "%s:%s" % (user, base64.b64encode(raw).decode())


def test_default_acl_is_world_anyone(zk, root):
    zk.create(root + "/open")
    acls, stat = zk.get_acls(root + "/open")
    assert acls == OPEN_ACL_UNSAFE
    assert acls[0].perms == Permissions.ALL == 31
    assert stat.aversion == 0


def test_digest_acl_enforced(make_client, root):
    owner = make_client()
    owner.add_auth("digest", "alice:secret")
    path = root + "/secret"
    owner.create(path, b"s", acl=[make_digest_acl("alice", "secret", all=True)])
    assert owner.get(path)[0] == b"s"

    stranger = make_client()
    with pytest.raises(NoAuthError):
        stranger.get(path)
    with pytest.raises(NoAuthError):
        stranger.set(path, b"x")
    with pytest.raises(NoAuthError):
        stranger.create(path + "/child")
    with pytest.raises(NoAuthError):
        stranger.get_children(path)
    # exists needs no permission
    assert stranger.exists(path) is not None

    wrong = make_client()
    wrong.add_auth("digest", "alice:wrong")
    with pytest.raises(NoAuthError):
        wrong.get(path)

    friend = make_client()
    friend.add_auth("digest", "alice:secret")
    assert friend.get(path)[0] == b"s"
    friend.set(path, b"t")
    assert owner.get(path)[0] == b"t"


def test_digest_acl_id_is_sha1_base64(zk, root):
    expected = digest_of("bob", "pw")
    assert make_digest_acl_credential("bob", "pw") == expected
    zk.add_auth("digest", "bob:pw")
    zk.create(root + "/d", acl=[make_digest_acl("bob", "pw", read=True,
                                                admin=True)])
    acls, _ = zk.get_acls(root + "/d")
    perms = Permissions.READ | Permissions.ADMIN
    assert acls == [ACL(perms, Id("digest", expected))]


def test_get_acls_redacts_digest_without_admin(zk, root):
    """ZooKeeper shows digest ids as user:x to a reader lacking ADMIN."""
    zk.add_auth("digest", "bob:pw")
    zk.create(root + "/r", acl=[make_digest_acl("bob", "pw", read=True)])
    acls, _ = zk.get_acls(root + "/r")
    assert acls == [ACL(Permissions.READ, Id("digest", "bob:x"))]


def test_auth_scheme_expands_to_authenticated_ids(make_client, root):
    zk = make_client()
    zk.add_auth("digest", "carol:pw")
    zk.create(root + "/a", acl=[ACL(Permissions.ALL, Id("auth", ""))])
    acls, _ = zk.get_acls(root + "/a")
    assert acls == [ACL(Permissions.ALL, Id("digest", digest_of("carol", "pw")))]


def test_auth_scheme_without_credentials_is_invalid(zk, root):
    with pytest.raises(InvalidACLError):
        zk.create(root + "/a", acl=[ACL(Permissions.ALL, Id("auth", ""))])


@pytest.mark.parametrize("bad", [
    Id("digest", "no-colon-here"),
    Id("ip", "300.1.1.1"),
    Id("nosuchscheme", "x"),
])
def test_invalid_acl_rejected(zk, root, bad):
    with pytest.raises(InvalidACLError):
        zk.create(root + "/bad", acl=[ACL(Permissions.ALL, bad)])
    assert zk.exists(root + "/bad") is None


def test_permission_bits(make_client, root):
    zk = make_client()
    path = root + "/ro"
    # read-only for the world
    zk.create(path, b"r", acl=[make_acl("world", "anyone", read=True)])
    assert zk.get(path)[0] == b"r"
    with pytest.raises(NoAuthError):
        zk.set(path, b"w")
    with pytest.raises(NoAuthError):
        zk.create(path + "/c")
    with pytest.raises(NoAuthError):
        zk.set_acls(path, OPEN_ACL_UNSAFE)

    # create but no delete: children can be added, not removed
    cd = root + "/cd"
    zk.create(cd, acl=[make_acl("world", "anyone", read=True, create=True,
                                admin=True)])
    zk.create(cd + "/kid")
    with pytest.raises(NoAuthError):
        zk.delete(cd + "/kid")
    # ADMIN allows changing the ACL back
    zk.set_acls(cd, OPEN_ACL_UNSAFE)
    zk.delete(cd + "/kid")

    # write-only: data can be set but not read
    wo = root + "/wo"
    zk.create(wo, b"x", acl=[make_acl("world", "anyone", write=True,
                                      admin=True)])
    zk.set(wo, b"y")
    with pytest.raises(NoAuthError):
        zk.get(wo)
    zk.set_acls(wo, OPEN_ACL_UNSAFE)


def test_ip_scheme(zk, root):
    local = zk.create(root + "/ip-local", b"l",
                      acl=[make_acl("ip", "127.0.0.1", all=True)])
    assert zk.get(local)[0] == b"l"
    masked = zk.create(root + "/ip-mask", b"m",
                       acl=[make_acl("ip", "127.0.0.0/8", all=True)])
    assert zk.get(masked)[0] == b"m"
    # an ACL naming another loopback address (only stored, never contacted)
    other = zk.create(root + "/ip-other", b"o",
                      acl=[make_acl("ip", "127.0.0.2", all=True)])
    with pytest.raises(NoAuthError):
        zk.get(other)


def test_set_acls_bumps_aversion_and_checks_version(zk, root):
    path = root + "/v"
    zk.create(path)
    new_acl = [make_acl("world", "anyone", read=True, write=True, create=True,
                        delete=True, admin=True)]
    stat = zk.set_acls(path, new_acl, version=0)
    assert stat.aversion == 1
    assert stat.version == 0
    with pytest.raises(BadVersionError):
        zk.set_acls(path, OPEN_ACL_UNSAFE, version=0)
    acls, stat = zk.get_acls(path)
    assert stat.aversion == 1


def test_get_acls_requires_permission(make_client, root):
    owner = make_client()
    owner.add_auth("digest", "dave:pw")
    path = root + "/hidden"
    owner.create(path, acl=[make_digest_acl("dave", "pw", all=True)])
    stranger = make_client()
    with pytest.raises(NoAuthError):
        stranger.get_acls(path)
    acls, _ = owner.get_acls(path)
    assert acls == [ACL(Permissions.ALL, Id("digest", digest_of("dave", "pw")))]


def test_multiple_identities_in_one_session(make_client, root):
    zk = make_client()
    zk.add_auth("digest", "u1:p1")
    zk.add_auth("digest", "u2:p2")
    zk.create(root + "/n1", acl=[make_digest_acl("u1", "p1", all=True)])
    zk.create(root + "/n2", acl=[make_digest_acl("u2", "p2", all=True)])
    assert zk.get(root + "/n1")[0] == b""
    assert zk.get(root + "/n2")[0] == b""


def test_invalid_auth_fails_session(make_client):
    zk = make_client()
    with pytest.raises(AuthFailedError):
        zk.add_auth("nosuchscheme", "whatever")


def test_super_user_bypasses_acls(make_client, root, need_super):
    owner = make_client()
    owner.add_auth("digest", "erin:pw")
    path = root + "/locked"
    owner.create(path, b"secret", acl=[make_digest_acl("erin", "pw", read=True)])
    admin = super_client()
    try:
        assert admin.get(path)[0] == b"secret"
        admin.set(path, b"changed")
        admin.set_acls(path, OPEN_ACL_UNSAFE)
    finally:
        admin.stop()
        admin.close()
    assert make_client().get(path)[0] == b"changed"
    assert SUPER_PASSWORD
