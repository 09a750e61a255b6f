"""catalogd.conf (issue 13): one table of settings drives the parser (inih),
the command line, `catalogd --print-config`, the SIGHUP reload and the
table in docs/OPERATIONS.md."""
import os
import re
import signal
import subprocess
import time

from harness import wait_until

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_conf(node, text):
    os.makedirs(node.dir, exist_ok=True)
    with open(os.path.join(node.dir, "catalogd.conf"), "w") as f:
        f.write(text)


def catalogd(env, *args):
    p = subprocess.run([env.daemon] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def print_config(env, *args):
    rc, out, err = catalogd(env, "--print-config", *args)
    assert rc == 0, err
    return out


def parse_print(out):
    """{key: (value, meta dict, allowed, help)} from --print-config output."""
    keys = {}
    for block in out.split("\n\n")[1:]:
        lines = block.strip().split("\n")
        assert len(lines) == 3 and lines[0].startswith("# ") and lines[1].startswith("# "), block
        parts = lines[1][2:].split("; ")
        meta = dict(p.split(": ", 1) for p in parts[1:])
        key, _, value = lines[2].partition(" =")
        keys[key] = (value.strip(), meta, parts[0], lines[0][2:])
    return keys


def refused(env, node, text):
    """Starting with this catalogd.conf fails; returns the message."""
    write_conf(node, text)
    rc, out, err = catalogd(env, "--data", node.dir, "--listen", node.addr)
    assert rc == 1, (text, rc, err)
    path = os.path.join(node.dir, "catalogd.conf")
    assert err.startswith(f"catalogd: {path}:"), err
    return err[len(f"catalogd: {path}:"):].strip()


def test_unknown_key_refused_with_file_and_line(env):
    n = env.node()
    msg = refused(env, n, "# settings\nfanout = 1\n\nfan_out = 2\n")
    assert msg.startswith("4: unknown key 'fan_out'"), msg
    assert "fanout" in msg and "idle_timeout_ms" in msg, msg   # the keys it knows
    msg = refused(env, n, "[catalogd]\nfanout = 1\n[network]\nlisten = 127.0.0.1:1\n")
    assert msg.startswith("4: unknown section [network]") and "[catalogd]" in msg, msg
    msg = refused(env, n, "fanout = 1\nfanout = 2\n")
    assert msg == "2: fanout is already set on line 1", msg
    msg = refused(env, n, "fanout 1\n")
    assert msg.startswith("1: expected 'key = value'"), msg


def test_bad_values_refused_with_range(env):
    n = env.node()
    cases = [
        ("fanout = many\n", "1: fanout: 'many' is not a number (allowed: an integer from 0 to 8192)"),
        ("\nsync_interval_ms = 10\n", "2: sync_interval_ms: 10 is out of range (allowed: an integer from 50 to 3600000)"),
        ("idle_timeout_ms = 99999999999999999999\n", "1: idle_timeout_ms: 99999999999999999999 is out of range"),
        ("[catalogd]\nlog_level = loud\n", "2: log_level: unknown value 'loud' (allowed: one of error, warn, info, debug)"),
        ("durable = maybe\n", "1: durable: 'maybe' is not a boolean (allowed: yes or no"),
        ("listen = somewhere\n", "1: listen: 'somewhere' is not an address (allowed: IP:PORT"),
        ("max_connections = 0\n", "1: max_connections: 0 is out of range (allowed: an integer from 1 to 1000000)"),
        ("fanout = 3 # three\n", "1: fanout: '3 # three' is not a number"),
    ]
    for text, want in cases:
        msg = refused(env, n, text)
        assert msg.startswith(want), (text, msg)
    # flags are checked by the same table
    rc, _, err = catalogd(env, "--data", n.dir, "--sync-interval", "5")
    assert rc == 2 and "an integer from 50 to 3600000" in err, err
    # an accepted file: comments, [catalogd], inline ';' comments, an empty listen
    write_conf(n, "; node settings\n[catalogd]\nfanout = 3 ; three\nlisten =\ndurable = on\n")
    keys = parse_print(print_config(env, "--data", n.dir))
    assert keys["fanout"][0] == "3" and keys["fanout"][1]["from"] == "file", keys["fanout"]
    assert keys["durable"][0] == "yes" and keys["listen"][0] == "", keys


def test_print_config_lists_every_key_and_is_a_valid_file(env):
    n = env.node()
    out = print_config(env)
    keys = parse_print(out)
    for k in ("listen", "fanout", "sync_interval_ms", "log_level", "map_size_mb", "durable",
              "max_connections", "max_connections_per_address", "handshake_timeout_ms", "idle_timeout_ms"):
        assert k in keys, (k, out)
    assert keys["fanout"][1]["SIGHUP"] == "applied live" and keys["fanout"][1]["default"] == "0"
    assert keys["map_size_mb"][1]["SIGHUP"] == "needs a restart"
    assert keys["max_connections"][0] == "2048" and keys["max_connections"][1]["flag"] == "--max-connections"
    # flags override the file, and the output says where each value came from
    write_conf(n, "fanout = 3\nsync_interval_ms = 700\n")
    keys = parse_print(print_config(env, "--data", n.dir, "--fanout", "5", "--durable"))
    assert keys["fanout"][0] == "5" and keys["fanout"][1]["from"] == "command line"
    assert keys["sync_interval_ms"][0] == "700" and keys["sync_interval_ms"][1]["from"] == "file"
    assert keys["durable"][0] == "yes" and keys["idle_timeout_ms"][1]["from"] == "default"
    # the output is itself accepted as catalogd.conf, with the same values
    out = print_config(env, "--data", n.dir, "--fanout", "5", "--listen", "127.0.0.1:7999")
    write_conf(n, out)
    again = parse_print(print_config(env, "--data", n.dir))
    assert {k: v[0] for k, v in again.items()} == {k: v[0] for k, v in parse_print(out).items()}
    assert all(v[1]["from"] == "file" for k, v in again.items() if k != "data_dir"), again
    assert again["data_dir"][0] == n.dir and again["data_dir"][1]["from"] == "command line"   # --data wins
    # and a daemon starts with it
    write_conf(n, print_config(env))
    n.start()
    assert n.status()


def test_operations_md_table_matches_the_settings_table(env):
    keys = parse_print(print_config(env))
    with open(os.path.join(ROOT, "docs", "OPERATIONS.md"), encoding="utf-8") as f:
        doc = f.read()
    section = doc[doc.index("## catalogd.conf"):]
    section = section[:section.index("\n## ", 3)]
    rows = {}
    for line in section.splitlines():
        m = re.match(r"^\| `([a-z_]+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = [c.strip() for c in m.group(2).split(" | ")]
    assert sorted(rows) == sorted(keys), (sorted(rows), sorted(keys))
    for k, (value, meta, allowed, help_) in keys.items():
        flag = f"`{meta['flag']}`" if "flag" in meta else ""
        assert rows[k] == [meta["default"], allowed, meta["SIGHUP"], flag, help_], (k, rows[k])


def test_sighup_applies_fanout_and_names_what_needs_a_restart(env):
    f = env.found()
    log_lines = lambda: f.logtext().splitlines()
    write_conf(f, "fanout = 2\nmap_size_mb = 8192\n")
    f.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: any("reload: fanout 0 \u2192 2 (applied)" in l for l in log_lines()),
               what="the fanout change to be logged")
    wait_until(lambda: any("reload: map_size_mb 4096 \u2192 8192 needs a restart" in l for l in log_lines()),
               what="map_size_mb to be logged as needing a restart")
    # a bad file is refused whole: nothing of it applies, the daemon keeps running
    write_conf(f, "fanout = 1\nfanout_ms = 3\n")
    f.proc.send_signal(signal.SIGHUP)
    path = os.path.join(f.dir, "catalogd.conf")
    wait_until(lambda: any(f"reload refused: {path}:2: unknown key 'fanout_ms'" in l for l in log_lines()),
               what="the bad file to be refused")
    assert f.proc.poll() is None and f.status()
    assert not any("fanout 2 \u2192 1" in l for l in log_lines())
    # the running fanout is still 2: the next change is logged from it
    write_conf(f, "fanout = 1\nmap_size_mb = 8192\n")
    f.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: any("reload: fanout 2 \u2192 1 (applied)" in l for l in log_lines()),
               what="the second fanout change")
    # a key given as a flag keeps the flag's value (the harness passes --sync-interval 300)
    write_conf(f, "fanout = 1\nsync_interval_ms = 900\n")
    f.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sum("reloaded " in l for l in log_lines()) >= 3, what="the third reload")
    assert not any("sync_interval_ms 300" in l for l in log_lines())
    assert f.stop() == 0


def test_config_option_names_the_file_read_at_start_and_on_sighup(env):
    """--config FILE (the unit's /etc/catalogd/catalogd.conf): read instead
    of DIR/catalogd.conf, at start and on SIGHUP; it must exist."""
    alt = os.path.join(env.tmp, "etc-catalogd.conf")
    with open(alt, "w") as f:
        f.write("fanout = 3\n")
    out = print_config(env, "--config", alt)
    assert "fanout = 3" in out and f"file {alt}" in out, out
    rc, out, err = catalogd(env, "--config", os.path.join(env.tmp, "missing.conf"), "--print-config")
    assert rc == 1 and "missing.conf: No such file or directory" in err, (rc, err)
    with open(alt, "w") as f:
        f.write("fanout = x\n")
    rc, out, err = catalogd(env, "--config", alt, "--print-config")
    assert rc == 1 and f"{alt}:1: fanout" in err, err
    # a node started with it: DIR/catalogd.conf is not read, the named file is, and again on SIGHUP
    f = env.node()
    f.run("alliance", "create", "--name", "設定試験アライアンス", "--address", f.addr)
    write_conf(f, "fanout = 7\n")
    with open(alt, "w") as fh:
        fh.write("fanout = 2\n")
    f.start("--config", alt)
    with open(alt, "w") as fh:
        fh.write("fanout = 4\n")
    f.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload: fanout 2 \u2192 4 (applied)" in f.logtext(), what="the reload of the named file")
    assert f"reloaded {alt}" in f.logtext()
    assert "fanout 7" not in f.logtext()
    # removed while running: a reload is refused, the node keeps running
    os.unlink(alt)
    f.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "reload refused:" in f.logtext(), what="the refused reload")
    assert f.proc.poll() is None and f.status()


def test_control_socket_group_and_log_destination_from_the_file(env):
    import grp
    import stat
    f = env.node()
    f.run("alliance", "create", "--name", "設定試験アライアンス", "--address", f.addr)
    sock = os.path.join(env.tmp, "ctl-elsewhere.sock")
    gid = grp.getgrnam("daemon").gr_gid
    # a group this system lacks is refused with FILE:LINE
    write_conf(f, f"control_socket = {sock}\ncontrol_group = no-such-group-here\n")
    rc, out, err = catalogd(env, "--data", f.dir)
    path = os.path.join(f.dir, "catalogd.conf")
    assert rc == 1 and f"{path}:2: control_group: no group 'no-such-group-here'" in err, err
    write_conf(f, f"control_socket = {sock}\ncontrol_group = daemon\nlog_destination = syslog\n")
    f.start(wait=False)
    wait_until(lambda: os.path.exists(sock), what="the control socket named in the file")
    st = os.stat(sock)
    assert stat.S_ISSOCK(st.st_mode) and st.st_gid == gid and stat.S_IMODE(st.st_mode) == 0o660, st
    assert not os.path.exists(os.path.join(f.dir, "control.sock"))
    rc, out, err = f.run("--socket", sock, "status", check=False, data=False)
    assert rc in (0, 1) and f.member_id() in out, (rc, out, err)
    # log lines go to syslog: stderr stays without the ready line
    time.sleep(0.3)
    assert "ready:" not in f.logtext(), f.logtext()[-500:]
    f.proc.send_signal(signal.SIGTERM)
    f.proc.wait(timeout=10)
    assert not os.path.exists(sock)


def start_with_config_only(env, node, conf):
    """catalogd --config FILE, no --data: the file's data_dir says where."""
    node.log = open(node.logpath, "ab")
    node.proc = subprocess.Popen([env.daemon, "--config", conf, "--log-level", "debug"],
                                 stdout=node.log, stderr=node.log)
    env.procs.append(node)
    wait_until(lambda: node.proc.poll() is None and node.answers(),
               what=f"{node.name} to answer on DIR/control.sock")


def test_data_dir_from_the_file(env):
    """data_dir (the unit's only argument is --config): the daemon finds its
    store, key and control socket there; a relative one is refused with
    FILE:LINE; --data wins over it; it needs a restart."""
    n = env.node()
    n.run("alliance", "create", "--name", "設定試験アライアンス", "--address", n.addr)
    conf = os.path.join(env.tmp, "etc-catalogd.conf")
    with open(conf, "w") as f:
        f.write(f"# the service's file\nlisten = {n.addr}\nweb_listen = {n.web_addr}\n"
                f"data_dir = {n.dir}\n")
    keys = parse_print(print_config(env, "--config", conf))
    assert keys["data_dir"][0] == n.dir and keys["data_dir"][1]["from"] == "file", keys["data_dir"]
    assert keys["data_dir"][1]["SIGHUP"] == "needs a restart" and keys["data_dir"][1]["flag"] == "--data"
    start_with_config_only(env, n, conf)
    # catalogctl reaches it where it always did: DIR/control.sock
    st = n.status()
    assert st["member_id"] == n.member_id(), st
    assert f"control {n.dir}/control.sock" in n.logtext()
    n.ctl("put", "note", "k1", "v=1")
    # another data_dir on SIGHUP: logged as needing a restart, the node stays on its own
    other = os.path.join(env.tmp, "elsewhere")
    with open(conf, "w") as f:
        f.write(f"listen = {n.addr}\nweb_listen = {n.web_addr}\ndata_dir = {other}\n")
    n.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: f"reload: data_dir {n.dir} \u2192 {other} needs a restart" in n.logtext(),
               what="data_dir to be logged as needing a restart")
    assert n.proc.poll() is None and n.ctl_json("get", "note", "k1"), "the node still serves its store"
    assert n.stop() == 0

    # --data wins over the file's data_dir (which names a directory that is not a node)
    keys = parse_print(print_config(env, "--config", conf, "--data", n.dir))
    assert keys["data_dir"][0] == n.dir and keys["data_dir"][1]["from"] == "command line", keys["data_dir"]
    n.start("--config", conf)
    assert n.status()["member_id"] == n.member_id()
    assert not os.path.exists(other)
    assert n.stop() == 0

    # a relative data_dir is refused with FILE:LINE, at start and in --print-config
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:1\n\ndata_dir = var/node\n")
    for args in (("--config", conf), ("--print-config", "--config", conf)):
        rc, out, err = catalogd(env, *args)
        assert rc == 1 and err.startswith(f"catalogd: {conf}:3: data_dir: 'var/node' is not an absolute path"), (rc, err)
    # and without one, nor --data, there is no node to run
    with open(conf, "w") as f:
        f.write("listen = 127.0.0.1:1\n")
    rc, out, err = catalogd(env, "--config", conf)
    assert rc == 2 and "no data directory" in err and conf in err, (rc, err)


def refused_total(node, reason):
    m = re.search(rf'^catalogd_peers_refused_total\{{reason="{reason}"\}} (\d+)$', node.ctl("metrics"), re.M)
    return int(m.group(1)) if m else None


def test_connection_limits_from_the_file(env):
    """max_connections and max_connections_per_address set in the file
    (no flags): out of range refused with FILE:LINE; in range, the daemon
    holds that many strangers' connections and closes the next ones."""
    import socket
    n = env.node()
    n.run("alliance", "create", "--name", "設定試験アライアンス", "--address", n.addr)
    path = os.path.join(n.dir, "catalogd.conf")
    for text, want in (
        ("max_connections = 3\nmax_connections_per_address = 0\n",
         "2: max_connections_per_address: 0 is out of range (allowed: an integer from 1 to 1000000)"),
        ("\nmax_connections = 1000001\n", "2: max_connections: 1000001 is out of range (allowed: an integer from 1 to 1000000)"),
    ):
        assert refused(env, n, text).startswith(want), text
    # strangers' handshakes are held for a minute: only the caps close them
    write_conf(n, "max_connections = 3\nmax_connections_per_address = 2\nhandshake_timeout_ms = 60000\n")
    keys = parse_print(print_config(env, "--data", n.dir))
    assert keys["max_connections"][0] == "3" and keys["max_connections"][1]["from"] == "file"
    n.start()
    assert refused_total(n, "max_connections") == 0 and refused_total(n, "max_connections_per_address") == 0
    socks = []

    def dial(src):
        s = socket.socket()
        s.bind((src, 0))
        s.settimeout(10)
        s.connect(("127.0.0.1", n.port))
        socks.append(s)

    def closed(s):
        s.settimeout(0)
        try:
            return s.recv(1) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
    try:
        # two from .2 are held, a third is over the per-address cap
        # (accepted in this order: the accept queue is FIFO) ...
        for src in ("127.0.0.2", "127.0.0.2", "127.0.0.2"):
            dial(src)
        wait_until(lambda: closed(socks[2]), what="the third connection from .2 to be closed")
        wait_until(lambda: refused_total(n, "max_connections_per_address") == 1, what="the refusal to be counted")
        # ... one from .3 is the third held, one from .4 over the total
        dial("127.0.0.3")
        dial("127.0.0.4")
        wait_until(lambda: closed(socks[4]), what="the connection over max_connections to be closed")
        wait_until(lambda: refused_total(n, "max_connections") == 1, what="the refusal to be counted")
        assert not any(closed(s) for s in (socks[0], socks[1], socks[3])), "a connection within the caps was closed"
        log = n.logtext()
        assert "connection from 127.0.0.2: refused: 2 unauthenticated connections from this address already " \
               "(max_connections_per_address)" in log, log[-2000:]
        assert "connection from 127.0.0.4: refused: 3 inbound connections already (max_connections)" in log
    finally:
        for s in socks:
            s.close()
    # the strangers gone, a member still gets in
    b = env.join(n)
    wait_until(lambda: n.status()["peers"] == 1, what="the member to connect")
    assert b.status()["peers"] == 1
