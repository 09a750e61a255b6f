"""catalogctl's help: every verb has its usage, every sub-verb is in it.

`catalogctl VERB --help` must answer without a daemon and without a data
directory: these tests point catalogctl at a data directory that does not
exist and at a control socket that listens but is never answered, and
check that neither was touched.

The control socket's read-only connections cannot be opened yet (nothing
sets read_only); tests/unit/test_control.c covers their refusals.
"""
import os
import re
import socket
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from ctlclient import Ctl  # noqa: E402

# the verbs whose sub-verbs are a table (cli/VERB.c: `subs[]`)
SUBVERB_FILES = {"alliance": "alliance.c", "member": "member.c",
                 "certification": "certification.c", "adoption": "adoption.c"}
# the verbs staff use print their usage and refusals in Japanese (issue 10)
JAPANESE = {"certification", "adoption", "search", "import", "export", "web-user", "watch"}


def usage_word(verb):
    return "使い方:" if verb in JAPANESE else "usage:"


def run(env, *args, data=None, sock=None):
    cmd = [env.ctl]
    if data:
        cmd += ["--data", data]
    if sock:
        cmd += ["--socket", sock]
    e = dict(os.environ)
    e.pop("CATALOGD_DATA", None)
    p = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=30, cwd=env.tmp, env=e)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def top_verbs(env):
    """{verb: help line} from `catalogctl --help`."""
    rc, out, err = run(env, "--help")
    assert rc == 0 and out.startswith("usage: catalogctl"), (rc, out, err)
    verbs = {}
    body = out.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    for line in body.splitlines():
        m = re.match(r"  (\S+)\s+(.*)$", line)
        assert m, line
        verbs[m.group(1)] = m.group(2)
    return verbs


def dispatched_subverbs(verb):
    """The sub-verbs in the dispatcher's own table, read from its source."""
    with open(os.path.join(ROOT, "cli", SUBVERB_FILES[verb]), encoding="utf-8") as f:
        src = f.read()
    table = re.search(r"static const client_subverb subs\[\] = \{(.*?)\n\};", src, re.S)
    assert table, f"no sub-verb table in cli/{SUBVERB_FILES[verb]}"
    return re.findall(r'\{ "([a-z_]+)", ', table.group(1))


def help_subverbs(text, verb):
    """The sub-verbs named in a verb's usage lines, in order."""
    subs = []
    for m in re.finditer(rf"catalogctl {verb} (\S+)", text):
        subs += m.group(1).split("|")
    return subs


class Untouched:
    """A data directory that does not exist and a control socket that
    listens but never accepts: afterwards both must be as they were."""

    def __init__(self, env):
        self.data = os.path.join(env.tmp, "no-such-node")
        self.sock = os.path.join(env.tmp, "quiet.sock")
        self.srv = socket.socket(socket.AF_UNIX)
        self.srv.bind(self.sock)
        self.srv.listen(16)
        self.srv.setblocking(False)

    def check(self):
        assert not os.path.exists(self.data), "catalogctl created the data directory"
        try:
            c, _ = self.srv.accept()
            c.close()
            raise AssertionError("catalogctl connected to the control socket")
        except BlockingIOError:
            pass
        self.srv.close()


def test_every_verb_has_help(env):
    verbs = top_verbs(env)
    assert len(verbs) >= 18, verbs
    u = Untouched(env)
    for verb in verbs:
        outs = []
        for args in ([verb, "--help"], [verb, "-h"], ["help", verb]):
            rc, out, err = run(env, *args, data=u.data, sock=u.sock)
            assert rc == 0, (args, rc, err)
            assert err == "", (args, err)
            assert out.startswith(f"{usage_word(verb)} catalogctl {verb}"), (args, out)
            outs.append(out)
        assert outs[0] == outs[1] == outs[2], (verb, outs)
        # --help after other arguments still only prints the usage
        rc, out, _ = run(env, verb, "x", "--help", data=u.data, sock=u.sock)
        assert rc == 0 and out == outs[0], (verb, rc, out)
    u.check()
    rc, _, err = run(env, "help", "frobnicate")
    assert rc == 2 and "unknown command" in err, (rc, err)


def test_every_subverb_is_in_help(env):
    verbs = top_verbs(env)
    u = Untouched(env)
    nowhere = os.path.join(env.tmp, "empty-node")
    os.mkdir(nowhere)
    for verb in SUBVERB_FILES:
        table = dispatched_subverbs(verb)
        assert table, verb
        rc, out, err = run(env, verb, "--help", data=u.data, sock=u.sock)
        assert rc == 0, (verb, rc, err)
        assert help_subverbs(out, verb) == table, (verb, out, table)
        # the top usage lists them too
        assert verbs[verb].endswith(": " + "|".join(table)), (verb, verbs[verb])
        # and the dispatcher takes each one (with no daemon and an empty
        # node directory they fail, but not as unknown commands)
        for sub in table:
            rc, out, err = run(env, verb, sub, data=nowhere, sock=os.path.join(nowhere, "none.sock"))
            assert "unknown command" not in err, (verb, sub, rc, err)
        rc, out, err = run(env, verb, "frobnicate", data=nowhere)
        unknown = "'frobnicate' というサブコマンドはありません" if verb in JAPANESE else "unknown command 'frobnicate'"
        assert rc == 2 and unknown in err, (verb, rc, err)
        assert help_subverbs(err, verb) == table, (verb, err)
    u.check()
    assert "reinstate" in dispatched_subverbs("certification")
    assert "expel" in dispatched_subverbs("member")


def test_daemon_commands_and_their_access(env):
    """The daemon's command table, as its "help" command lists it: which
    commands write is what a read-only connection will refuse."""
    f = env.found()
    c = Ctl(os.path.join(f.dir, "control.sock"))
    r = c.call({"cmd": "help"})
    c.close()
    assert r["ok"], r
    access = {x["name"]: x["access"] for x in r["commands"]}
    assert all(x["help"] for x in r["commands"]), r
    writes = {"put", "cput", "member_add", "member_set", "member_rekey", "key_rotate", "policy_propose", "policy_endorse", "backup", "sponsor"}
    reads = {"status", "get", "list", "history", "forks", "members", "member_show", "policy", "peers", "vv", "cfind", "csearch",
             "metrics", "watch", "help"}
    assert set(access) == writes | reads, sorted(access)
    assert {k for k, v in access.items() if v == "write"} == writes, access
