"""make demo: the README's local alliance works as shown."""
import os
import subprocess

from harness import free_port, SLOW


def test_demo_script(env):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    e = dict(os.environ, BUILD=env.build, DEMO_DIR=os.path.join(env.tmp, "demo"),
             DEMO_PORT=str(free_port()), DEMO_EXIT="1")
    p = subprocess.run(["sh", os.path.join(root, "tests", "demo.sh")], cwd=root, env=e,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=120 * SLOW)
    out = p.stdout.decode()
    assert p.returncode == 0, out
    digests = [l.split()[2] for l in out.splitlines() if " digest " in l and "peers" in l]
    assert len(digests) == 3 and len(set(digests)) == 1, out
    assert out.count("demo-1") >= 3, out
