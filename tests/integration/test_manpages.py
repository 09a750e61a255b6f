"""The man pages agree with the programs (issue 13).

mandoc's lint passes; catalogctl(8) documents every command of catalogctl's
own table (`catalogctl --help`), each sub-command and each option that
`catalogctl COMMAND --help` lists, and nothing catalogctl does not have;
catalogd(8) documents exactly the options of `catalogd --help`, each with
its key; catalogd.conf(5) documents exactly the keys of `catalogd
--print-config`, each with its flag, range and default, and names the keys
SIGHUP applies as catalogd(8) does.

The lists come from the programs, never from this file.  Each check is a
function returning the disagreements it found, and is also run on pages
with a command, an option or a key taken out (or added), which it must
report: a check that cannot fail would prove nothing.
"""
import os
import re
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANDIR = os.path.join(ROOT, "docs", "man")
MAN = [os.path.join(MANDIR, m) for m in ("catalogd.8", "catalogctl.8", "catalogd.conf.5")]

# an option as a program prints it, and as mdoc writes it (Fl -name)
OPT = re.compile(r"(?<![\w-])--([a-z][a-z0-9-]*)")
MAN_OPT = re.compile(r"\bFl -([a-z][a-z0-9-]*)")
SUBS = re.compile(r"[a-z][a-z-]*(?:\|[a-z][a-z-]*)*")


def page(name):
    with open(os.path.join(MANDIR, name), encoding="utf-8") as f:
        return f.read()


def out_of(*cmd):
    p = subprocess.run(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    assert p.returncode == 0, (cmd, p.returncode, p.stderr.decode(errors="replace"))
    return p.stdout.decode()


def sections(text):
    """{".Sh name": [lines]} of an mdoc page."""
    out, cur = {}, None
    for line in text.splitlines():
        if line.startswith(".Sh "):
            cur = line[4:].strip()
            out[cur] = []
        elif cur is not None:
            out[cur].append(line)
    return out


def items(lines):
    """[(head, text)] of the top-level .It entries of the lists in lines:
    text is the head line with its body, up to the next top-level .It."""
    found, depth = [], 0
    for line in lines:
        if line.startswith(".Bl"):
            depth += 1
        elif line.startswith(".El"):
            depth -= 1
        elif depth == 1 and line.startswith(".It"):
            found.append([line, line])
            continue
        if found and depth >= 1:
            found[-1][1] += "\n" + line
    return [(h, t) for h, t in found]


def head_subs(head):
    """Sub-commands a head names: the words after each Cm up to the next macro."""
    subs, on = set(), False
    for tok in head.split()[1:]:
        if tok == "Cm":
            on = True
        elif re.fullmatch(r"[A-Z][a-z][a-z]?", tok):
            on = False
        elif on and tok != "|":
            subs.add(tok)
    return subs


# ---- catalogctl ----

def ctl_table(env):
    """catalogctl's commands, its common options, and per command what its
    --help lists: (options, sub-commands)."""
    top = out_of(env.ctl, "--help")
    usage = top.splitlines()[0]
    assert usage.startswith("usage: catalogctl ") and "COMMAND" in usage, usage
    common = set(OPT.findall(usage.split("COMMAND")[0]))
    listing = top.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    verbs = re.findall(r"^  (\S+)\s", listing, re.M)
    helps = {}
    for v in verbs:
        text = out_of(env.ctl, v, "--help")
        # the same text as `catalogctl help VERB`
        assert text == out_of(env.ctl, "help", v), v
        subs = set()
        for m in re.finditer(rf"catalogctl {re.escape(v)} (\S+)", text):
            if SUBS.fullmatch(m.group(1)):
                subs |= set(m.group(1).split("|"))
        helps[v] = (set(OPT.findall(text)), subs)
    return verbs, common, helps


def check_catalogctl(text, verbs, common, helps):
    problems = []
    secs = sections(text)
    cmds = {}
    for head, body in items(secs.get("COMMANDS", [])):
        m = re.match(r"\.It Ic (\S+)", head)
        if not m:
            problems.append(f"COMMANDS: an entry that is no command: {head}")
            continue
        heads, bodies = cmds.setdefault(m.group(1), ([], []))
        heads.append(head)
        bodies.append(body)
    for v in verbs:
        if v not in cmds:
            problems.append(f"catalogctl.8 lacks the command {v}")
    for v in sorted(set(cmds) - set(verbs) - {"help"}):
        problems.append(f"catalogctl.8 documents {v}, which catalogctl does not have")
    for v in verbs:
        if v not in cmds:
            continue
        heads, bodies = cmds[v]
        opts, subs = helps[v]
        documented = set(MAN_OPT.findall("\n".join(bodies)))
        for o in sorted(opts - common - documented):
            problems.append(f"catalogctl.8 {v}: lacks --{o}, which `catalogctl {v} --help` lists")
        for o in sorted(documented - opts - common):
            problems.append(f"catalogctl.8 {v}: documents --{o}, which `catalogctl {v} --help` does not list")
        if subs:
            named = set().union(*(head_subs(h) for h in heads))
            for s in sorted(subs - named):
                problems.append(f"catalogctl.8 {v}: lacks the sub-command {s}")
            for s in sorted(named - subs):
                problems.append(f"catalogctl.8 {v}: documents the sub-command {s}, which catalogctl does not have")
    # the options every command takes: OPTIONS, and the synopsis
    listed = set()
    for head, _ in items(secs.get("OPTIONS", [])):
        listed |= set(MAN_OPT.findall(head))
    for o in sorted(common - listed):
        problems.append(f"catalogctl.8 OPTIONS lacks --{o}")
    for o in sorted(listed - common):
        problems.append(f"catalogctl.8 OPTIONS documents --{o}, which `catalogctl --help` does not list")
    synopsis = set(MAN_OPT.findall("\n".join(secs.get("SYNOPSIS", []))))
    for o in sorted(common - synopsis):
        problems.append(f"catalogctl.8 SYNOPSIS lacks --{o}")
    return problems


# ---- catalogd ----

def daemon_options(env):
    """{option: key or None} from catalogd --help."""
    text = out_of(env.daemon, "--help")
    opts = {}
    for m in re.finditer(r"^  --([a-z][a-z0-9-]*)(.*)$", text, re.M):
        k = re.search(r"\(key ([a-z_]+);", m.group(2))
        opts[m.group(1)] = k.group(1) if k else None
    return opts


def print_config_keys(env):
    """{key: {"allowed", "default", "SIGHUP", "flag"?}} from --print-config."""
    keys = {}
    for block in out_of(env.daemon, "--print-config").split("\n\n")[1:]:
        lines = block.strip().split("\n")
        parts = lines[1][2:].split("; ")
        meta = dict(p.split(": ", 1) for p in parts[1:])
        meta["allowed"] = parts[0]
        keys[lines[2].partition(" =")[0]] = meta
    return keys


def reloaded_keys(lines):
    return set(re.findall(r"^\.Cm ([a-z_]+)", "\n".join(lines), re.M))


def check_catalogd(text, opts, keys):
    problems = []
    secs = sections(text)
    entries = {}
    for sec in secs.values():
        for head, body in items(sec):
            m = re.match(r"\.It Fl -([a-z][a-z0-9-]*)", head)
            if m:
                entries[m.group(1)] = body
    for o in sorted(set(opts) - set(entries)):
        problems.append(f"catalogd.8 lacks --{o}, which `catalogd --help` lists")
    for o in sorted(set(entries) - set(opts)):
        problems.append(f"catalogd.8 documents --{o}, which `catalogd --help` does not list")
    for o, k in sorted(opts.items()):
        if k and o in entries and not re.search(rf"\bCm {k}\b", entries[o]):
            problems.append(f"catalogd.8 --{o}: does not name its key {k}")
    # SIGNALS: what SIGHUP applies
    sighup = []
    for head, body in items(secs.get("SIGNALS", [])):
        if "SIGHUP" in head:
            sighup = body.splitlines()
    live = {k for k, m in keys.items() if m["SIGHUP"] == "applied live"}
    if reloaded_keys(sighup) != live:
        problems.append(f"catalogd.8 SIGHUP names {sorted(reloaded_keys(sighup))}, the table applies {sorted(live)}")
    return problems


def check_conf(text, keys):
    problems = []
    secs = sections(text)
    desc = secs.get("DESCRIPTION", [])
    entries = {}
    for head, body in items(desc):
        m = re.match(r"\.It Cm ([a-z_]+)", head)
        if m:
            entries[m.group(1)] = body
    for k in sorted(set(keys) - set(entries)):
        problems.append(f"catalogd.conf.5 lacks the key {k}")
    for k in sorted(set(entries) - set(keys)):
        problems.append(f"catalogd.conf.5 documents {k}, which --print-config does not have")
    for k, meta in sorted(keys.items()):
        if k not in entries:
            continue
        e = entries[k]
        flags = set(MAN_OPT.findall(e))
        if "flag" in meta and meta["flag"][2:] not in flags:
            problems.append(f"catalogd.conf.5 {k}: does not name its flag {meta['flag']}")
        if "flag" not in meta and flags:
            problems.append(f"catalogd.conf.5 {k}: names {sorted(flags)}, but the key has no flag")
        rng = re.fullmatch(r"an integer from (\d+) to (\d+)", meta["allowed"])
        words = set(re.findall(r"[\w.:/-]+", e.replace("\\&", "")))
        want = list(rng.groups()) if rng else []
        if meta["allowed"].startswith("one of "):
            want += meta["allowed"][len("one of "):].split(", ")
        if meta["default"] != "(empty)":
            want.append(meta["default"])
        for w in want:
            if w not in words:
                problems.append(f"catalogd.conf.5 {k}: does not say {w} ({meta['allowed']}; default {meta['default']})")
    # the paragraph on SIGHUP, before the list, says what it applies
    para = []
    for line in desc:
        if line.startswith((".Pp", ".Bl")) and para:
            break
        if para or "SIGHUP" in line:
            para.append(line)
    live = {k for k, m in keys.items() if m["SIGHUP"] == "applied live"}
    if reloaded_keys(para) != live:
        problems.append(f"catalogd.conf.5 SIGHUP names {sorted(reloaded_keys(para))}, the table applies {sorted(live)}")
    return problems


def without(text, pattern):
    """text with the first line matching pattern taken out (or, for a
    pattern matching inside a line, that match)."""
    m = re.search(pattern, text, re.M)
    assert m, pattern
    return text[:m.start()] + text[m.end():]


# ---- the tests ----

def test_man_pages_lint(env):
    p = subprocess.run(["mandoc", "-T", "lint", "-W", "warning"] + MAN, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0 and not out.strip(), out


def test_catalogctl_page_agrees_with_every_command_help(env):
    verbs, common, helps = ctl_table(env)
    assert len(verbs) >= 20 and {"data", "socket", "json"} <= common, (verbs, common)
    assert helps["certification"][1] >= {"add", "withdraw", "list"}, helps["certification"]
    assert "reason" in helps["certification"][0] and "raw" in helps["export"][0]
    text = page("catalogctl.8")
    problems = check_catalogctl(text, verbs, common, helps)
    assert problems == [], "\n".join(problems)
    # what the check must catch: a command, a sub-command, an option, a common option missing, one too many
    cases = [
        (without(text, r"^\.It Ic peers\n"), "lacks the command peers"),
        (without(text, r" \| Fl -ignore-unknown-columns"), "import: lacks --ignore-unknown-columns"),
        (text.replace("Fl -force", "Fl -forced"), "restore: lacks --force"),
        (text.replace("Fl -mine", "Fl -mien"), "certification: lacks --mine"),
        (without(text, r" \| Cm expel Ar MEMBER Fl -reason Ar TEXT"), "member: lacks the sub-command expel"),
        (without(text, r"^\.It Fl -era\n"), "OPTIONS lacks --era"),
        (text.replace(".It Ic peers\n", ".It Ic peers\n.It Ic forks\n"), "documents forks, which catalogctl"),
        (text.replace(".It Ic list Op Ar KIND", ".It Ic list Op Ar KIND Op Fl -kind Ar KIND"),
         "list: documents --kind"),
    ]
    for mutated, want in cases:
        got = check_catalogctl(mutated, verbs, common, helps)
        assert any(want in p for p in got), (want, got)


def test_every_option_catalogctl_parses_is_in_a_help(env):
    """The verbs parse their arguments by hand, so an option can be taken
    that no usage shows (--all and --era were): every option named as a
    string in cli/ must be listed by `catalogctl --help` or some
    `catalogctl VERB --help`."""
    verbs, common, helps = ctl_table(env)
    listed = set(common).union(*(o for o, _ in helps.values())) | {"help"}
    parsed = {}
    cli = os.path.join(ROOT, "cli")
    for name in sorted(os.listdir(cli)):
        if name.endswith(".c"):
            with open(os.path.join(cli, name), encoding="utf-8") as f:
                for o in re.findall(r'"--([a-z][a-z0-9-]*)=?"', f.read()):
                    parsed.setdefault(o, name)
    assert {"strict", "reason", "raw", "era", "all"} <= set(parsed), sorted(parsed)
    unlisted = {o: f for o, f in parsed.items() if o not in listed}
    assert not unlisted, f"parsed but in no usage: {unlisted}"


def test_catalogd_page_agrees_with_help_and_print_config(env):
    opts, keys = daemon_options(env), print_config_keys(env)
    assert {"data", "config", "print-config", "listen", "web-listen"} <= set(opts), opts
    assert opts["listen"] == "listen" and opts["data"] is None, opts
    text = page("catalogd.8")
    problems = check_catalogd(text, opts, keys)
    assert problems == [], "\n".join(problems)
    cases = [
        (without(text, r"^\.It Fl -web-tls-key Ar PATH\n"), "lacks --web-tls-key"),
        (text.replace(".It Fl -help\n", ".It Fl -help\n.It Fl -foreground\n"), "documents --foreground"),
        (without(text, r"^\.Cm member_silence_warn_s\n"), "SIGHUP names"),
    ]
    for mutated, want in cases:
        got = check_catalogd(mutated, opts, keys)
        assert any(want in p for p in got), (want, got)


def test_conf_page_agrees_with_print_config(env):
    keys = print_config_keys(env)
    assert len(keys) >= 20 and "data_dir" in keys, sorted(keys)
    text = page("catalogd.conf.5")
    problems = check_conf(text, keys)
    assert problems == [], "\n".join(problems)
    cases = [
        (without(text, r"^\.It Cm idle_timeout_ms Ns = Ns Ar MS\n"), "lacks the key idle_timeout_ms"),
        (text.replace("86400000", "8640000"), "idle_timeout_ms: does not say 86400000"),
        (without(text, r"^\.Fl -control-group \.\n"), "control_group: does not name its flag"),
        (text.replace(".It Cm listen ", ".It Cm peer_limit Ns = Ns Ar N\nNo such key.\n.It Cm listen "),
         "documents peer_limit"),
    ]
    for mutated, want in cases:
        got = check_conf(mutated, keys)
        assert any(want in p for p in got), (want, got)
